"""The composition root: the one place that turns settings into real adapters.

Commands call these functions; tests call them with their own settings (a Dovecot port, an
aiosmtpd port, a PostgreSQL URL) or wire fakes directly into :class:`Pipeline`.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from avsteg.config.schema import load_schema
from avsteg.config.settings import Settings
from avsteg.domain.errors import ConfigurationError
from avsteg.domain.schema import Schema
from avsteg.domain.triage import Policy
from avsteg.ingest.pipeline import Pipeline, ReplyPolicy
from avsteg.storage.database import Database, DatabaseMissing


def open_database(settings: Settings, *, upgrade: bool = True, must_exist: bool = False) -> Database:
    """The register's database, migrated to the newest schema.

    ``must_exist`` (list, show, export, status, withdraw, …): nothing is created — a missing SQLite file or
    a database that was never migrated is a DatabaseMissing error that says so, instead of an
    empty register that looks like lost data. An existing register is still upgraded.
    """
    db = Database(settings.database.url, echo=settings.database.echo, create=not must_exist)
    try:
        if must_exist and db.current_revision() is None:
            raise DatabaseMissing(
                f"{db.url.render_as_string(hide_password=True)} holds no register (never "
                "migrated); check database.url — `avsteg run` or `avsteg ingest` creates it")
        if upgrade:
            db.upgrade()
    except BaseException:
        db.dispose()
        raise
    return db


def schema_of(settings: Settings) -> Schema:
    return load_schema(settings.schema_file)


def triage_policy(settings: Settings) -> Policy:
    p = settings.policy
    return Policy(
        service_address=p.service_address,
        allowed_sender_domains=tuple(p.allowed_sender_domains),
        trust_authentication_results=p.trust_authentication_results,
        authserv_id=p.authserv_id,
    )


def build_pipeline(settings: Settings, db: Database, *, send_replies: bool = True) -> Pipeline:
    convert = None
    if settings.policy.convert_legacy and shutil.which("soffice"):
        from avsteg.parsers.convert import libreoffice_converter

        convert = libreoffice_converter()
    return Pipeline(
        db=db,
        schema=schema_of(settings),
        policy=triage_policy(settings),
        replies=ReplyPolicy(
            service_address=settings.policy.service_address,
            service_name=settings.policy.service_name,
            per_sender_per_hour=settings.policy.replies_per_sender_per_hour,
            send=send_replies and settings.worker.send_replies,
        ),
        convert=convert,
    )


def build_outbox(settings: Settings, directory: str | Path | None = None):
    """Replies go to a folder (demo, ``ingest --outbox``), to Graph's sendMail or to SMTP."""
    directory = directory or settings.worker.outbox_dir
    if directory:
        from avsteg.ingest.folder_outbox import FolderOutbox

        return FolderOutbox(Path(directory))
    if settings.mailbox.transport == "graph":
        from avsteg.ingest.graph_outbox import GraphOutbox

        return GraphOutbox(settings.graph, graph_client(settings))
    from avsteg.ingest.smtp_outbox import SmtpOutbox

    return SmtpOutbox(settings.smtp, envelope_from=settings.policy.service_address,
                      token_provider=_smtp_token_provider(settings))


def _smtp_token_provider(settings: Settings):
    if settings.smtp.auth != "xoauth2":
        return None
    from avsteg.ingest.oauth import token_provider_from_settings

    return token_provider_from_settings(settings.imap)  # one app registration for IMAP and SMTP


# -- the mailbox -------------------------------------------------------------------------------
# Function-level imports below: each transport pulls in its own libraries (imapclient, or httpx
# and msal), and a command that never touches the mailbox should not pay for either.


def build_mailbox(settings: Settings, db: Database | None):
    """The ``Mailbox`` port for ``mailbox.transport``: IMAP, or Microsoft Graph."""
    if settings.mailbox.transport == "graph":
        if db is None:
            raise ConfigurationError("the Graph mailbox keeps its delta links in the database")
        from avsteg.ingest.graph_mailbox import GraphMailbox
        from avsteg.storage.graph_state import SqlGraphState

        return GraphMailbox(settings.graph, graph_client(settings), SqlGraphState(db))
    from avsteg.ingest.imap_mailbox import ImapMailbox
    from avsteg.ingest.oauth import token_provider_from_settings

    token = token_provider_from_settings(settings.imap) if settings.imap.auth == "xoauth2" else None
    return ImapMailbox(
        settings.imap, token, idle_renew_seconds=settings.worker.idle_renew_seconds,
        use_idle=settings.worker.idle,
    )


_graph_tokens: dict[tuple[str | None, ...], object] = {}


def graph_client(settings: Settings):
    """A Graph client; mailbox and outbox of one process share one token (one msal cache)."""
    from avsteg.ingest.graph_auth import graph_token_provider
    from avsteg.ingest.graph_client import GraphClient

    g = settings.graph
    key = (g.authority, g.tenant_id, g.client_id, g.client_secret, g.certificate_path, g.scope)
    token = _graph_tokens.get(key)
    if token is None:
        token = _graph_tokens[key] = graph_token_provider(g)
    return GraphClient(g.base_url, token, timeout=g.timeout_seconds,  # type: ignore[arg-type]
                       max_retries=g.max_retries, max_wait=g.max_wait_seconds,
                       identity=f"app {g.client_id} for {g.mailbox}")
