"""People's actions and set-aside messages: recorded, listed in order, cleared with a trace."""

from __future__ import annotations

import pytest

from avsteg.storage import (
    Database,
    MessageRow,
    clear_set_aside,
    history_of_message,
    record_action,
    set_aside,
    store_raw_message,
)


@pytest.fixture()
def db(tmp_path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'h.sqlite'}")
    database.upgrade()
    return database


def _store(s, raw: bytes) -> MessageRow:
    row, _ = store_raw_message(s, raw, message_id=None, sender=None, subject=None,
                               received_at=None, position=None)
    return row


def test_a_set_aside_message_is_cleared_with_a_history_row(db: Database) -> None:
    with db.unit_of_work() as s:
        message = _store(s, b"From: a@example.org\r\n\r\nhej\r\n")
        set_aside(s, message, "unknown-domain")
        pk = message.id
    with db.unit_of_work() as s:
        message = s.get(MessageRow, pk)
        assert message is not None and message.pending == "unknown-domain"
        clear_set_aside(s, message, actor="Anna Handläggare", action="register-anyway",
                        reason="Känd avsändare")
    with db.unit_of_work() as s:
        message = s.get(MessageRow, pk)
        assert message is not None and message.pending is None
        rows = history_of_message(s, pk)
        assert [(r.actor, r.action, r.reason) for r in rows] == [
            ("Anna Handläggare", "register-anyway", "Känd avsändare")]
        assert rows[0].details == {"pending": "unknown-domain"}


def test_unknown_set_aside_kinds_are_refused(db: Database) -> None:
    with db.unit_of_work() as s:
        message = _store(s, b"From: a@example.org\r\n\r\nhej\r\n")
        with pytest.raises(ValueError):
            set_aside(s, message, "ignored")


def test_history_keeps_the_order_of_actions(db: Database) -> None:
    with db.unit_of_work() as s:
        message = _store(s, b"From: b@example.org\r\n\r\nhej\r\n")
        for action in ("withdraw", "undo-withdraw", "withdraw"):
            record_action(s, actor="Bo", action=action, message_id=message.id)
        assert [r.action for r in history_of_message(s, message.id)] == [
            "withdraw", "undo-withdraw", "withdraw"]
