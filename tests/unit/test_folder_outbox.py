"""FolderOutbox: one .eml per reply, in the order written, bytes as they would be sent."""
from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from avsteg.ingest.folder_outbox import FolderOutbox


def reply(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "socialhansyn@ink.goteborg.se"
    msg["To"] = "åsa@goteborg.se"
    msg["Subject"] = f"Re: Avstegsrapport {n} – kvitto"
    msg.set_content(f"Hej! Rapport nummer {n} är registrerad.\n")
    return msg


def test_writes_each_message_in_order(tmp_path):
    outbox = FolderOutbox(tmp_path / "utkorg")  # created on first use
    paths = [outbox.deliver(reply(n)) for n in range(12)]

    assert sorted(p.name for p in (tmp_path / "utkorg").iterdir()) == [p.name for p in paths]
    assert all(p.suffix == ".eml" for p in paths)
    for n, path in enumerate(paths):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert parsed["Subject"] == f"Re: Avstegsrapport {n} – kvitto"
        assert parsed.get_content() == f"Hej! Rapport nummer {n} är registrerad.\n"


def test_two_outboxes_on_one_folder_never_overwrite(tmp_path):
    first, second = FolderOutbox(tmp_path), FolderOutbox(tmp_path)
    paths = {first.deliver(reply(1)), second.deliver(reply(2)), first.deliver(reply(3))}
    assert len(paths) == 3 == len(list(tmp_path.iterdir()))
