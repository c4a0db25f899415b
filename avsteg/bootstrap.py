"""The composition root: the one place that turns settings into real adapters.

Commands call these functions; tests call them with their own settings (a Dovecot port, an
aiosmtpd port, a PostgreSQL URL) or wire fakes directly into :class:`Pipeline` and
:class:`Worker`. Nothing else in the package constructs a database, a mailbox, an outbox or a
converter.
"""
from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avsteg.config.schema import load_schema
from avsteg.config.settings import Settings
from avsteg.domain.schema import Schema
from avsteg.domain.triage import Policy
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.ingest.imap_mailbox import ImapMailbox
from avsteg.ingest.oauth import token_provider_from_settings
from avsteg.ingest.ports import Mailbox, Outbox
from avsteg.ingest.smtp_outbox import SmtpOutbox
from avsteg.parsers.convert import libreoffice_converter
from avsteg.services.handled import ReplyPolicy
from avsteg.services.jobs import add_jobs
from avsteg.services.pipeline import Converter, Pipeline
from avsteg.services.worker import Worker
from avsteg.storage.database import Database, open_register


def open_database(settings: Settings, *, upgrade: bool = True, must_exist: bool = False) -> Database:
    """The register's database, migrated; ``must_exist``: never created (see open_register)."""
    return open_register(settings.database.url, echo=settings.database.echo,
                         must_exist=must_exist, upgrade=upgrade)


def schema_of(settings: Settings) -> Schema:
    return load_schema(settings.schema_file)


def triage_policy(settings: Settings, schema: Schema | None = None) -> Policy:
    """Who may be answered: the allowed sender domains are the setting plus the mail domains
    the schema's organisations name (spec 3); domains people trust are added per message by
    the pipeline from the database."""
    p = settings.policy
    domains = tuple(p.allowed_sender_domains)
    if schema is not None and "*" not in domains:
        domains = tuple(dict.fromkeys((*domains, *schema.mail_domains)))
    return Policy(
        service_address=p.service_address,
        allowed_sender_domains=domains,
        trust_authentication_results=p.trust_authentication_results,
        authserv_id=p.authserv_id,
    )


def build_converter() -> Converter | None:
    """LibreOffice conversion of .doc/.xls/.odt/.ods to .docx/.xlsx; None without LibreOffice."""
    return libreoffice_converter()


def build_pipeline(settings: Settings, db: Database, *, send_replies: bool = True) -> Pipeline:
    convert = None
    if settings.policy.convert_legacy and shutil.which("soffice"):
        convert = build_converter()
    schema = schema_of(settings)
    return Pipeline(
        db=db,
        schema=schema,
        policy=triage_policy(settings, schema),
        replies=ReplyPolicy(
            service_address=settings.policy.service_address,
            service_name=settings.policy.service_name,
            per_sender_per_hour=settings.policy.replies_per_sender_per_hour,
            send=send_replies and settings.worker.send_replies,
            reply_window=dt.timedelta(days=settings.policy.reply_window_days),
        ),
        convert=convert,
        max_message_bytes=settings.policy.max_message_bytes,
        max_attachment_bytes=settings.policy.max_attachment_bytes,
    )


def build_outbox(settings: Settings, directory: str | Path | None = None) -> Outbox:
    """Replies go to a folder (demo, ``ingest --outbox``), to Graph's sendMail or to SMTP."""
    directory = directory or settings.worker.outbox_dir
    if directory:
        return FolderOutbox(Path(directory))
    if settings.mailbox.transport == "graph":
        from avsteg.ingest.graph_outbox import GraphOutbox  # httpx: only for transport graph

        return GraphOutbox(settings.graph, graph_client(settings))
    return SmtpOutbox(settings.smtp, envelope_from=settings.policy.service_address,
                      token_provider=_smtp_token_provider(settings))


def _smtp_token_provider(settings: Settings) -> Callable[[], str] | None:
    if settings.smtp.auth != "xoauth2":
        return None
    return token_provider_from_settings(settings.imap)  # one app registration for IMAP and SMTP


def make_mailbox(settings: Settings, db: Database | None = None) -> Mailbox:
    """The mailbox of ``mailbox.transport``: IMAP (also the IDLE watcher's own connection) or
    Microsoft Graph, which keeps its delta links and id map in the database ``db``."""
    if settings.mailbox.transport == "graph":
        from avsteg.ingest.graph_mailbox import GraphMailbox, NoGraphState  # httpx: graph only
        from avsteg.storage.graph_state import SqlGraphState  # only the Graph transport's state

        # Without a database (``avsteg check``) it can look folders up, but never sync.
        state = SqlGraphState(db) if db is not None else NoGraphState()
        return GraphMailbox(settings.graph, graph_client(settings), state,
                            max_message_bytes=settings.policy.max_message_bytes)
    token = token_provider_from_settings(settings.imap) if settings.imap.auth == "xoauth2" else None
    return ImapMailbox(
        settings.imap, token, idle_renew_seconds=settings.worker.idle_renew_seconds,
        use_idle=settings.worker.idle, max_message_bytes=settings.policy.max_message_bytes,
    )


CLAIM_TIMEOUTS = 10  # a reply being sent is claimed for this many SMTP timeouts


def build_worker(settings: Settings, db: Database, *, send_replies: bool = True,
                 mailbox: Mailbox | None = None, outbox: Outbox | None = None) -> Worker:
    """The worker of ``avsteg run``: the real mailbox and outbox unless given others."""
    pipeline = build_pipeline(settings, db, send_replies=send_replies)
    mailbox = mailbox or make_mailbox(settings, db)
    if pipeline.replies.send and outbox is None:
        outbox = build_outbox(settings)
    on_sent = None
    if settings.imap.sent_folder and hasattr(mailbox, "append_sent"):
        on_sent = mailbox.append_sent
    account = getattr(mailbox, "account", None) or settings.imap.account or (
        f"{settings.imap.username}@{settings.imap.host}")
    return Worker(
        pipeline=pipeline, db=db, mailbox=mailbox, outbox=outbox if pipeline.replies.send else None,
        account=account, folder=getattr(mailbox, "folder", None) or settings.imap.folder,
        lease_seconds=settings.worker.lease_seconds,
        backoff_seconds=settings.smtp.backoff_seconds, max_reply_attempts=settings.smtp.max_attempts,
        on_sent=on_sent, retry_seconds=settings.smtp.retry_seconds,
        # A reply being sent is claimed for longer than any one SMTP conversation can take.
        claim_seconds=CLAIM_TIMEOUTS * settings.smtp.timeout_seconds,
    )


_graph_tokens: dict[tuple[str | None, ...], Any] = {}


def graph_client(settings: Settings) -> Any:
    """A Graph client; mailbox and outbox of one process share one token (one msal cache)."""
    from avsteg.ingest.graph_auth import graph_token_provider  # msal: only for transport graph
    from avsteg.ingest.graph_client import GraphClient  # httpx: only for transport graph

    g = settings.graph
    key = (g.authority, g.tenant_id, g.client_id, g.client_secret, g.certificate_path, g.scope)
    token = _graph_tokens.get(key)
    if token is None:
        token = _graph_tokens[key] = graph_token_provider(g)
    return GraphClient(g.base_url, token, timeout=g.timeout_seconds, max_retries=g.max_retries,
                       max_wait=g.max_wait_seconds, identity=f"app {g.client_id} for {g.mailbox}")


def scheduled_jobs(settings: Settings, db: Database) -> Callable[[Any], object]:
    """What the service adds to its scheduler besides the poll: the digest and reminders."""
    return lambda scheduler: add_jobs(scheduler, settings, db)


def build_web_app(settings: Settings, db: Database):
    """The web app on ``db``; reprocessing and pending actions use the worker's own pipeline."""
    # Imported here: Starlette, Jinja2, Argon2 and Authlib are for `avsteg web` only; the worker
    # and the other commands start without them.
    from avsteg.web.app import create_app, starlette_app  # web only (see above)
    from avsteg.web.oidc import entra_sign_in  # Authlib: web only (see above)

    entra = entra_sign_in(settings.web)
    app = create_app(settings, db, schema_of(settings),
                     pipeline_factory=lambda: build_pipeline(settings, db),
                     extra_routes=entra.routes() if entra else None)
    if entra:
        starlette_app(app).state.web.extra["oidc_label"] = entra.label
    return app
