"""ImapMailbox against a real Dovecot: login, UIDVALIDITY, read-without-seen, filing, IDLE, drops."""
from __future__ import annotations

import logging
import ssl
import threading
import time
from email.message import EmailMessage

import pytest

from avsteg.domain.errors import TransientError
from avsteg.ingest.imap_mailbox import ImapMailbox, UidValidityChanged
from avsteg.ingest.ports import MailboxAuthError
from tests.support.servers import DovecotServer, MailUser, free_port

pytestmark = pytest.mark.integration


def make_raw(subject: str, body: str = "Hej!\nBifogat är vår avstegsrapport.\n") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna Andersson <anna@goteborg.se>"
    msg["To"] = "socialhansyn@ink.goteborg.se"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@test.example>"
    msg.set_content(body)
    return msg.as_bytes().replace(b"\n", b"\r\n")


def later(delay: float, action: object) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def mailbox(dovecot: DovecotServer, mail_user: MailUser):
    box = ImapMailbox(dovecot.settings_for(mail_user))
    yield box
    box.close()


def test_open_returns_the_folders_uidvalidity(dovecot, mail_user, mailbox):
    dovecot.append(mail_user, "INBOX", make_raw("first"))
    with dovecot.client(mail_user) as other:
        expected = other.folder_status("INBOX", ["UIDVALIDITY"])[b"UIDVALIDITY"]
    assert mailbox.open() == expected
    assert mailbox.open() == expected  # re-selecting an open folder gives the same answer
    assert mailbox.account == f"{mail_user.name}@127.0.0.1"


def test_a_password_with_swedish_letters(dovecot):
    user = dovecot.add_user(password="Blåbärssylt-2026")
    dovecot.append(user, "INBOX", make_raw("hello"))
    with ImapMailbox(dovecot.settings_for(user)) as box:
        box.open()
        assert len(box.uids()) == 1


def test_wrong_password_is_an_auth_error(dovecot, mail_user):
    box = ImapMailbox(dovecot.settings_for(mail_user, password="not-the-password"))
    started = time.monotonic()
    with pytest.raises(MailboxAuthError, match="login refused") as info:
        box.open()
    # Not transient: retrying at a steady pace would lock the account (spec 4).
    assert not isinstance(info.value, TransientError)
    assert "b'" not in str(info.value) and mail_user.name in str(info.value)
    assert time.monotonic() - started < 3


def test_unreachable_server_is_transient(dovecot, mail_user):
    box = ImapMailbox(dovecot.settings_for(mail_user, port=free_port(), timeout_seconds=2))
    with pytest.raises(TransientError, match="cannot connect"):
        box.open()


def test_fetch_reads_without_marking_seen(dovecot, mail_user, mailbox):
    unread = make_raw("unread report", "Rapport med åäö.\n")
    read = make_raw("already read")
    dovecot.append(mail_user, "INBOX", unread)
    dovecot.append(mail_user, "INBOX", read, flags=[r"\Seen"])
    before = {uid: flags for uid, flags, _raw in dovecot.fetch_all(mail_user, "INBOX")}

    uidvalidity = mailbox.open()
    uids = mailbox.uids()
    fetched = list(mailbox.fetch(uids))

    assert [m.raw for m in fetched] == [unread, read]
    assert [m.position.uid for m in fetched] == uids == sorted(before)
    assert {m.position.uidvalidity for m in fetched} == {uidvalidity}
    assert r"\Seen" not in fetched[0].flags and r"\Seen" in fetched[1].flags
    after = {uid: flags for uid, flags, _raw in dovecot.fetch_all(mail_user, "INBOX")}
    assert (r"\Seen" in after[uids[0]], r"\Seen" in after[uids[1]]) == (False, True)
    assert {u: set(f) - {r"\Recent"} for u, f in after.items()} == {
        u: set(f) - {r"\Recent"} for u, f in before.items()
    }


def test_fetch_in_batches_and_uids_after(dovecot, mail_user):
    for n in range(5):
        dovecot.append(mail_user, "INBOX", make_raw(f"message {n}"))
    box = ImapMailbox(dovecot.settings_for(mail_user, batch_size=2))
    try:
        box.open()
        uids = box.uids()
        assert len(uids) == 5
        assert box.uids(after=uids[2]) == uids[3:]
        assert box.uids(after=uids[-1]) == []  # "n:*" matches the last UID; must be filtered
        subjects = [m.raw.split(b"Subject: ")[1].split(b"\r\n")[0] for m in box.fetch(uids)]
        assert subjects == [f"message {n}".encode() for n in range(5)]
    finally:
        box.close()


def test_file_away_moves_into_created_folders(dovecot, mail_user):
    raw_ok, raw_bad = make_raw("good report"), make_raw("bad report")
    dovecot.append(mail_user, "INBOX", raw_ok)
    dovecot.append(mail_user, "INBOX", raw_bad)
    settings = dovecot.settings_for(
        mail_user, processed_folder="Avsteg/Registrerade", rejected_folder="Avsteg/Avvisade"
    )
    with ImapMailbox(settings) as box:
        box.open()
        ok_uid, bad_uid = box.uids()
        box.file_away(ok_uid, "processed")
        box.file_away(bad_uid, "rejected")
        assert box.uids() == []

    assert {"Avsteg/Registrerade", "Avsteg/Avvisade"} <= set(dovecot.folders(mail_user))
    assert dovecot.fetch_all(mail_user, "INBOX") == []
    [(_, flags_ok, moved_ok)] = dovecot.fetch_all(mail_user, "Avsteg/Registrerade")
    [(_, _flags, moved_bad)] = dovecot.fetch_all(mail_user, "Avsteg/Avvisade")
    assert (moved_ok, moved_bad) == (raw_ok, raw_bad)
    assert r"\Seen" not in flags_ok


def test_copy_and_uid_expunge_when_move_is_missing(dovecot, mail_user):
    ours, persons = make_raw("report"), make_raw("deleted by a person, not yet expunged")
    dovecot.append(mail_user, "INBOX", ours)
    dovecot.append(mail_user, "INBOX", persons, flags=[r"\Deleted"])
    settings = dovecot.settings_for(mail_user, processed_folder="Behandlade")
    with ImapMailbox(settings, use_move=False) as box:
        box.open()
        [uid] = box.uids()  # \Deleted messages are not offered
        box.file_away(uid, "processed")

    assert [raw for _, _, raw in dovecot.fetch_all(mail_user, "Behandlade")] == [ours]
    left = dovecot.fetch_all(mail_user, "INBOX")
    # Only our message was expunged (UID EXPUNGE); the person's \Deleted one is still there.
    assert [(raw, r"\Deleted" in flags) for _, flags, raw in left] == [(persons, True)]


def test_keywords_when_no_folders_are_configured(dovecot, mail_user, mailbox):
    for subject in ("accepted", "rejected", "not ours"):
        dovecot.append(mail_user, "INBOX", make_raw(subject))
    mailbox.open()
    first, second, third = mailbox.uids()
    mailbox.file_away(first, "processed")
    mailbox.file_away(second, "rejected")

    assert mailbox.uids() == [third]
    flags = {uid: set(f) for uid, f, _ in dovecot.fetch_all(mail_user, "INBOX")}
    assert "AvstegProcessed" in flags[first] and "AvstegRejected" not in flags[first]
    assert "AvstegRejected" in flags[second]
    assert not flags[third] & {"AvstegProcessed", "AvstegRejected", r"\Seen"}
    assert dovecot.folders(mail_user) == ["INBOX"]


def test_idle_wakes_up_soon_after_a_new_message(dovecot, mail_user, mailbox):
    mailbox.open()
    thread = later(0.3, lambda: dovecot.append(mail_user, "INBOX", make_raw("new")))
    started = time.monotonic()
    assert mailbox.wait_for_news(10) is True
    elapsed = time.monotonic() - started
    thread.join()
    assert elapsed < 3, elapsed
    assert len(mailbox.uids()) == 1  # the connection is usable again after IDLE


def test_a_message_that_came_before_the_wait_is_reported_at_once(dovecot, mail_user, mailbox):
    mailbox.open()
    dovecot.append(mail_user, "INBOX", make_raw("came early"))
    started = time.monotonic()
    assert mailbox.wait_for_news(5) is True
    assert time.monotonic() - started < 1


def test_idle_times_out_without_news(mailbox):
    mailbox.open()
    started = time.monotonic()
    assert mailbox.wait_for_news(0.6) is False
    assert 0.5 < time.monotonic() - started < 2


def test_idle_is_renewed(dovecot, mail_user, caplog):
    caplog.set_level(logging.DEBUG, logger="imapclient")
    box = ImapMailbox(dovecot.settings_for(mail_user), idle_renew_seconds=0.3)
    try:
        box.open()
        thread = later(1.2, lambda: dovecot.append(mail_user, "INBOX", make_raw("late")))
        assert box.wait_for_news(5) is True
        thread.join()
    finally:
        box.close()
    idle_commands = [r for r in caplog.records if r.getMessage().rstrip("'\"").endswith(" IDLE")]
    assert len(idle_commands) >= 3, [r.getMessage() for r in idle_commands]


def test_polls_with_noop_when_idle_is_off(dovecot, mail_user):
    box = ImapMailbox(dovecot.settings_for(mail_user), use_idle=False)
    try:
        box.open()
        assert box.wait_for_news(0.3) is False
        dovecot.append(mail_user, "INBOX", make_raw("arrived while we slept"))
        assert box.wait_for_news(0.3) is True
    finally:
        box.close()


def test_reconnects_after_the_server_drops_the_connection(dovecot, mail_user, mailbox):
    dovecot.append(mail_user, "INBOX", make_raw("before the drop"))
    uidvalidity = mailbox.open()
    [uid] = mailbox.uids()
    dovecot.kick(mail_user)
    time.sleep(0.2)
    assert mailbox.uids() == [uid]  # reconnected transparently
    assert [m.position.uidvalidity for m in mailbox.fetch([uid])] == [uidvalidity]


def test_survives_a_server_restart(dovecot, mail_user, mailbox):
    dovecot.append(mail_user, "INBOX", make_raw("kept across the restart"))
    uidvalidity = mailbox.open()
    [uid] = mailbox.uids()
    dovecot.halt()
    try:
        with pytest.raises(TransientError):  # down: a clear, retryable error, nothing else
            mailbox.uids()
    finally:
        dovecot.resume()
    assert mailbox.open() == uidvalidity
    assert mailbox.uids() == [uid]


def test_a_connection_dropped_during_idle_counts_as_news(dovecot, mail_user, mailbox):
    # What arrives while we reconnect is never announced, so the caller must look again.
    mailbox.open()
    later(0.3, lambda: dovecot.kick(mail_user))
    started = time.monotonic()
    assert mailbox.wait_for_news(8) is True
    assert time.monotonic() - started < 3
    assert mailbox.uids() == []
    later(0.3, lambda: dovecot.append(mail_user, "INBOX", make_raw("after the drop")))
    started = time.monotonic()
    assert mailbox.wait_for_news(5) is True  # and IDLE works on the new connection
    assert time.monotonic() - started < 3
    assert len(mailbox.uids()) == 1


def test_news_announced_during_other_commands_is_not_missed(dovecot, mail_user, mailbox):
    dovecot.append(mail_user, "INBOX", make_raw("first"))
    mailbox.open()
    [first] = mailbox.uids()
    dovecot.append(mail_user, "INBOX", make_raw("second"))
    mailbox.file_away(first, "processed")  # its answer carries "* 2 EXISTS", which IDLE won't repeat
    started = time.monotonic()
    assert mailbox.wait_for_news(5) is True
    assert time.monotonic() - started < 1
    assert len(mailbox.uids()) == 1


def test_a_changed_uidvalidity_is_never_acted_on(dovecot, mail_user):
    dovecot.append(mail_user, "Inkorg-avsteg", make_raw("old"))
    box = ImapMailbox(dovecot.settings_for(mail_user, folder="Inkorg-avsteg"))
    try:
        old = box.open()
        [old_uid] = box.uids()
        with dovecot.client(mail_user) as other:  # the folder is deleted and made again
            other.delete_folder("Inkorg-avsteg")
            other.create_folder("Inkorg-avsteg")
            other.append("Inkorg-avsteg", make_raw("new"))
        dovecot.kick(mail_user)
        time.sleep(0.2)
        with pytest.raises(UidValidityChanged):
            box.file_away(old_uid, "processed")
        new = box.open()
        assert new != old
        [(_, flags, raw)] = dovecot.fetch_all(mail_user, "Inkorg-avsteg")
        assert b"Subject: new" in raw and "AvstegProcessed" not in flags
    finally:
        box.close()


def test_append_sent_keeps_a_seen_copy(dovecot, mail_user, mailbox):
    assert mailbox.append_sent(make_raw("reply")) is False  # no sent folder configured
    box = ImapMailbox(dovecot.settings_for(mail_user, sent_folder="Skickat"))
    try:
        assert box.append_sent(make_raw("Re: report")) is True
    finally:
        box.close()
    [(_, flags, raw)] = dovecot.fetch_all(mail_user, "Skickat")
    assert r"\Seen" in flags and b"Subject: Re: report" in raw


def test_implicit_tls_and_starttls(dovecot, mail_user, tls_files):
    dovecot.append(mail_user, "INBOX", make_raw("over tls"))
    context = tls_files.client_context()
    implicit = dovecot.settings_for(mail_user, ssl=True, port=dovecot.ssl_port)
    upgraded = dovecot.settings_for(mail_user, ssl=False, starttls=True)
    for settings in (implicit, upgraded):
        with ImapMailbox(settings, ssl_context=context) as box:
            box.open()
            assert len(box.uids()) == 1
            assert box._client is not None
            assert isinstance(box._client.socket(), ssl.SSLSocket)


def test_an_untrusted_certificate_is_refused(dovecot, mail_user):
    settings = dovecot.settings_for(mail_user, ssl=True, port=dovecot.ssl_port)
    with pytest.raises(TransientError, match="(?i)certificate"):
        ImapMailbox(settings).open()  # the default context does not trust a self-signed cert
