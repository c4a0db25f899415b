"""``status`` health (one rule for --json and --check) and ``check``'s list of named checks."""
from __future__ import annotations

import datetime as dt

from avsteg.commands.status import problems
from avsteg.config.settings import Settings
from avsteg.domain.errors import LoginRefusedError
from avsteg.services.checks import Check, CheckFailed, run_checks, standard_checks

NOW = dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC)


def _poll(success_minutes_ago: float | None, error: str | None = None) -> dict:
    success = NOW - dt.timedelta(minutes=success_minutes_ago) if success_minutes_ago is not None else None
    return {"account": "a@h", "folder": "INBOX", "last_poll_at": NOW.isoformat(),
            "last_success_at": success.isoformat() if success else None, "last_error": error}


def test_healthy_after_a_recent_poll():
    assert problems([_poll(1)], NOW, 60) == []


def test_unhealthy_without_a_recent_poll():
    assert problems([_poll(10)], NOW, 60) == ["no successful poll since 2026-03-05 12:50"]
    assert problems([], NOW, 60) == ["no successful poll yet"]


def test_a_refused_login_is_unhealthy_however_recent_the_last_success():
    refused = str(LoginRefusedError("IMAP", "h:993", "a@h", "Authentication failed."))
    found = problems([_poll(0.5, refused)], NOW, 60)
    assert len(found) == 1 and "login refused" in found[0]
    assert problems([_poll(0.5, "database: OperationalError: locked")], NOW, 60) == []


def test_checks_run_in_order_and_one_failure_does_not_stop_the_rest():
    def fails() -> str:
        raise CheckFailed("nope")

    def crashes() -> str:
        raise RuntimeError("bug")

    results = run_checks([Check("a", lambda: "fine"), Check("b", fails), Check("c", crashes),
                          Check("d", lambda: "also fine")])
    assert [r.line() for r in results] == ["OK  a: fine", "FEL b: nope", "FEL c: RuntimeError: bug",
                                           "OK  d: also fine"]


class FakeMailbox:
    def __init__(self, folders):
        self.folders = folders
        self.inspected = 0

    def inspect(self):
        self.inspected += 1
        return self.folders


class FakeOutbox:
    def verify(self) -> str:
        return "smtp.example ESMTP"


def _settings(**imap) -> Settings:
    settings = Settings()
    settings.imap = settings.imap.model_copy(update={"host": "imap.example", "username": "u",
                                                     "password": "p", **imap})
    settings.smtp.host = "smtp.example"
    settings.database.url = "sqlite://"
    return settings


def test_standard_checks_are_named_and_share_one_imap_session():
    box = FakeMailbox({"INBOX": 3, "Klart": None})
    settings = _settings(processed_folder="Klart")
    checks = standard_checks(settings, mailbox_factory=lambda: box, outbox_factory=FakeOutbox)
    assert [c.name for c in checks] == ["schema", "database", "imap login", "imap folders",
                                        "smtp login"]
    results = {r.name: r for r in run_checks(checks)}
    assert all(r.ok for r in results.values()), results
    assert box.inspected == 1
    assert "INBOX: 3 messages" in results["imap folders"].detail
    assert "Klart (imap.processed_folder): missing, created at first use" in results["imap folders"].detail
    assert "no mail sent" in results["smtp login"].detail


def test_a_missing_inbox_folder_fails_and_oauth_adds_a_check():
    settings = _settings(folder="Inkorg", auth="xoauth2")
    checks = standard_checks(settings, mailbox_factory=lambda: FakeMailbox({"Inkorg": None}),
                             outbox_factory=FakeOutbox)
    assert "oauth token" in [c.name for c in checks]
    results = {r.name: r for r in run_checks(checks)}
    assert not results["imap folders"].ok and "'Inkorg' (imap.folder) does not exist" in results["imap folders"].detail
    assert not results["oauth token"].ok and "imap.tenant_id" in results["oauth token"].detail


def test_a_refused_login_fails_the_login_and_skips_the_folders():
    class Refusing:
        def inspect(self):
            raise LoginRefusedError("IMAP", "imap.example:993", "u", "Authentication failed.")

    results = run_checks(standard_checks(_settings(), mailbox_factory=Refusing,
                                         outbox_factory=FakeOutbox))
    lines = [r.line() for r in results]
    assert "FEL imap login: IMAP login refused by imap.example:993 for u: Authentication failed." in lines
    assert "FEL imap folders: not checked: no IMAP login" in lines
