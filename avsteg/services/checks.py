"""``avsteg check``: every part the worker needs, tried once, without touching any mail.

A list of named checks, each a function that returns what it found (OK) or raises (FEL). The
command prints one line per check. Later ways to the mailbox (Microsoft Graph) add their checks
by appending to the list :func:`standard_checks` returns; nothing else needs to change.

"Nothing touched" means: IMAP folders are opened with EXAMINE (read-only, not even \\Recent
changes), no folder is created, SMTP gets EHLO, STARTTLS and AUTH and then QUIT, the database is
neither created nor migrated.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avsteg.config.schema import load_schema, schema_problems
from avsteg.config.settings import Settings
from avsteg.config.strict import join_problems
from avsteg.domain.errors import AvstegError, ConfigurationError
from avsteg.ingest.oauth import token_provider_from_settings
from avsteg.storage.database import Database, DatabaseMissing


class CheckFailed(AvstegError):
    """Raised by a check with the sentence to print after ``FEL``."""


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], str]  # what was found; raises CheckFailed (or any AvstegError) on failure


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK ' if self.ok else 'FEL'} {self.name}: {self.detail}"


def run_checks(checks: list[Check]) -> list[Result]:
    """Every check, in order; one failing does not stop the others."""
    results = []
    for check in checks:
        try:
            results.append(Result(check.name, True, check.run()))
        except AvstegError as exc:
            results.append(Result(check.name, False, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a check must report, not crash the command
            results.append(Result(check.name, False, f"{type(exc).__name__}: {exc}"))
    return results


def standard_checks(settings: Settings, *, mailbox_factory: Callable[[], Any],
                    outbox_factory: Callable[[], Any]) -> list[Check]:
    """Schema, database, OAuth token (with xoauth2), IMAP login and folders, SMTP login.

    The factories come from the composition root (the real IMAP mailbox and SMTP outbox);
    tests pass fakes. They are called only when their check runs.
    """
    checks = [Check("schema", lambda: check_schema(settings)),
              Check("database", lambda: check_database(settings))]
    if "xoauth2" in (settings.imap.auth, settings.smtp.auth):
        checks.append(Check("oauth token", lambda: check_token(settings)))
    imap = _ImapCheck(settings, mailbox_factory)
    checks += [Check("imap login", imap.login), Check("imap folders", imap.folders)]
    checks.append(Check("smtp login", lambda: check_smtp(settings, outbox_factory)))
    return checks


# -- the checks ------------------------------------------------------------------------------


def check_schema(settings: Settings) -> str:
    problems = schema_problems(settings.schema_file)
    if problems:
        raise CheckFailed(join_problems(problems, "the schema file"))
    schema = load_schema(settings.schema_file)
    source = settings.schema_file or "the packaged schema"
    return f"{source}: {schema.identifier} version {schema.version}, {len(schema.fields)} fields"


def check_database(settings: Settings) -> str:
    try:
        db = Database(settings.database.url, create=False)
    except DatabaseMissing as exc:
        path = Path(settings.database.url.split(":///", 1)[-1]).expanduser()
        parent = path.parent
        if parent.is_dir() and _writable(parent):
            return f"{path} does not exist yet; `avsteg run` creates it"
        raise CheckFailed(f"{path} does not exist and {parent} is not a writable directory") from exc
    try:
        shown = db.url.render_as_string(hide_password=True)
        current = db.current_revision()
        head = db.head_revision()
        if current is None:
            return f"{shown} is reachable and empty; `avsteg run` migrates it to {head}"
        if current == head:
            return f"{shown}: migrated (revision {current})"
        if db.known_revision(current):
            return f"{shown}: at revision {current}; `avsteg run` upgrades it to {head}"
        raise CheckFailed(f"{shown}: at revision {current}, unknown to this version of avsteg "
                          f"(newest known: {head}); was it migrated by a newer version?")
    finally:
        db.dispose()


def check_token(settings: Settings) -> str:
    token = token_provider_from_settings(settings.imap)()
    authority = settings.imap.authority or f"https://login.microsoftonline.com/{settings.imap.tenant_id}"
    return (f"access token for client {settings.imap.client_id} from {authority} "
            f"({len(token)} characters, scope {settings.imap.oauth_scope})")


def check_smtp(settings: Settings, outbox_factory: Callable[[], Any]) -> str:
    if settings.worker.outbox_dir:
        return f"not used: replies are written to {settings.worker.outbox_dir} (worker.outbox_dir)"
    if not settings.worker.send_replies:
        return "not used: worker.send_replies = false"
    outbox = outbox_factory()
    if not hasattr(outbox, "verify"):
        raise ConfigurationError("replies do not go by SMTP")
    greeting = outbox.verify()
    s = settings.smtp
    tls = "TLS" if s.ssl else ("STARTTLS" if s.starttls else "no TLS")
    login = "no login" if s.auth == "none" or (s.auth == "password" and not s.username) else (
        f"logged in as {s.username} ({s.auth})")
    return f"{s.host}:{s.effective_port}, {tls}, {login}; no mail sent ({greeting})"


class _ImapCheck:
    """Login and folders are two lines but one IMAP session."""

    def __init__(self, settings: Settings, factory: Callable[[], Any]) -> None:
        self.settings = settings
        self.factory = factory
        self.found: dict[str, int | None] | None = None

    def login(self) -> str:
        s = self.settings.imap
        mailbox = self.factory()
        self.found = mailbox.inspect()
        tls = "TLS" if s.ssl else ("STARTTLS" if s.starttls else "no TLS")
        return f"{s.host}:{s.effective_port}, {tls}, logged in as {s.username} ({s.auth})"

    def folders(self) -> str:
        if self.found is None:
            raise CheckFailed("not checked: no IMAP login")
        s = self.settings.imap
        count = self.found.get(s.folder)
        if count is None:
            raise CheckFailed(f"the folder {s.folder!r} (imap.folder) does not exist")
        parts = [f"{s.folder}: {count} messages"]
        for setting in ("processed_folder", "rejected_folder", "sent_folder"):
            name = getattr(s, setting)
            if name:
                there = self.found.get(name)
                parts.append(f"{name} (imap.{setting}): " + (
                    "exists" if there is not None else "missing, created at first use"))
        if not (s.processed_folder or s.rejected_folder):
            parts.append(f"no processed/rejected folders: handled mail is tagged "
                         f"{s.processed_keyword}/{s.rejected_keyword}")
        return "; ".join(parts)


def _writable(directory: Path) -> bool:
    return os.access(directory, os.W_OK)
