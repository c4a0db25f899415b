"""The FakeMailbox keeps the promises the real ImapMailbox keeps (so fast tests do not lie).

The same checks run against ImapMailbox on a real Dovecot and against the in-memory
FakeMailbox that the fast worker tests (tests/unit/test_worker_*.py) use, with filing into
folders and with tagging by keyword. If Dovecot and the fake ever disagree, a fast test may be
green about behaviour the real mailbox does not have: this test says so first.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest

from avsteg.ingest.fakes import FakeMailbox
from avsteg.ingest.imap_mailbox import ImapMailbox
from avsteg.ingest.ports import Mailbox

pytestmark = pytest.mark.integration

FOLDERS = {"processed_folder": "Avsteg/Behandlade", "rejected_folder": "Avsteg/Avvisade"}


def _raw(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "anna@goteborg.se"
    msg["To"] = "socialhansyn@ink.goteborg.se"
    msg["Subject"] = f"Avstegsrapport {n}"
    msg["Message-ID"] = f"<contract{n}@goteborg.se>"
    msg.set_content(f"Meddelande {n}.\n")
    return msg.as_bytes().replace(b"\n", b"\r\n")


@dataclass
class Side:
    box: Mailbox
    put: Callable[[bytes, tuple[str, ...]], None]
    folder: Callable[[str], list[tuple[bytes, set[str]]]]  # (raw, flags) in a folder


@pytest.fixture(params=["fake", "dovecot"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["folders", "keywords"])
def side(request: pytest.FixtureRequest, kind: str) -> Iterator[Side]:
    folders = FOLDERS if request.param == "folders" else {}
    if kind == "fake":
        fake = FakeMailbox(processed_folder=folders.get("processed_folder"),
                           rejected_folder=folders.get("rejected_folder"),
                           processed_keyword="AvstegProcessed", rejected_keyword="AvstegRejected")

        def fake_folder(name: str) -> list[tuple[bytes, set[str]]]:
            if name == fake.folder:
                return [(m.raw, set(m.flags)) for m in sorted(fake.messages.values(),
                                                              key=lambda m: m.uid)]
            return [(m.raw, set(m.flags)) for m in fake.folders.get(name, [])]

        yield Side(fake, lambda raw, flags: fake.deliver(raw, flags), fake_folder)
        return
    dovecot = request.getfixturevalue("dovecot")
    user = request.getfixturevalue("mail_user")
    box = ImapMailbox(dovecot.settings_for(user, **folders))

    def imap_folder(name: str) -> list[tuple[bytes, set[str]]]:
        return [(bytes(raw), set(flags) - {"\\Recent"})
                for _uid, flags, raw in dovecot.fetch_all(user, name)]

    try:
        yield Side(box, lambda raw, flags: dovecot.append(user, "INBOX", raw, flags), imap_folder)
    finally:
        box.close()


def _unfiled(side: Side) -> list[bytes]:
    keywords = {"AvstegProcessed", "AvstegRejected", "\\Deleted"}
    return [raw for raw, flags in side.folder("INBOX") if not flags & keywords]


def test_the_mailbox_port_contract(side: Side, request: Any):
    raws = [_raw(n) for n in range(3)]
    side.put(raws[0], ())
    side.put(raws[1], ("\\Flagged",))
    side.put(raws[2], ())

    uidvalidity = side.box.open()
    assert isinstance(uidvalidity, int) and side.box.open() == uidvalidity
    uids = side.box.uids()
    assert len(uids) == 3 and uids == sorted(uids)
    assert side.box.uids(after=uids[0]) == uids[1:]

    fetched = list(side.box.fetch(uids))
    assert [f.position.uid for f in fetched] == uids
    assert {f.position.uidvalidity for f in fetched} == {uidvalidity}
    assert [f.raw for f in fetched] == raws
    assert [set(f.flags) - {"\\Recent"} for f in fetched] == [set(), {"\\Flagged"}, set()]
    # Reading never marks anything as read.
    assert [flags for _raw, flags in side.folder("INBOX")] == [set(), {"\\Flagged"}, set()]

    side.box.file_away(uids[0], "processed")
    side.box.file_away(uids[1], "rejected")
    assert side.box.uids() == [uids[2]]
    assert _unfiled(side) == [raws[2]]
    side.box.file_away(uids[0], "processed")  # gone already: no error, nothing else moves
    assert side.box.uids() == [uids[2]]
    again = list(side.box.fetch([uids[0]]))
    if "folders" in request.node.callspec.id:
        assert again == []  # moved: this UID is no more
        assert [raw for raw, _f in side.folder(FOLDERS["processed_folder"])] == [raws[0]]
        assert [raw for raw, _f in side.folder(FOLDERS["rejected_folder"])] == [raws[1]]
        assert side.folder(FOLDERS["rejected_folder"])[0][1] == {"\\Flagged"}  # flags kept
    else:  # tagged in place: still there, still unread, carrying the outcome's keyword
        assert [f.raw for f in again] == [raws[0]]
        assert set(again[0].flags) - {"\\Recent"} == {"AvstegProcessed"}
        assert [flags for _raw, flags in side.folder("INBOX")] == [
            {"AvstegProcessed"}, {"\\Flagged", "AvstegRejected"}, set()]
