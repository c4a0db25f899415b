"""``avsteg run`` against Microsoft Graph (the test server in tests/support/graph_server.py).

Configured only by environment variables, as an IT department would: a backlog worked off,
folders and read state afterwards, one reply per answered message, a second ``--once`` that
changes nothing, throttling and a lost delta token waited out, backfill without replies, a
refused secret, a certificate instead of a secret.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.graph_ca import make_client_certificate
from tests.support.graph_env import (
    PROCESSED,
    REJECTED,
    assert_filed,
    folder_state,
    graph_environ,
    sent_by_original,
    touched_human_mail,
)
from tests.support.graph_server import App, start_graph_server, stop_graph_server
from tests.support.worker_env import avsteg, db_facts, ids_by_kind, mixed_backlog

pytestmark = [pytest.mark.integration]


def _deliver(server, backlog, *, read_every: int = 0) -> set[str]:
    """Put ``backlog`` in the Inbox; every ``read_every``-th message already read. Returns the
    Message-IDs delivered as read."""
    read = set()
    for i, m in enumerate(backlog):
        is_read = bool(read_every) and i % read_every == 0
        server.deliver(m.raw, is_read=is_read, received=f"2026-11-20T08:{i // 60:02d}:{i % 60:02d}Z")
        if is_read:
            read.add(m.message_id)
    return read


def _register(env, cwd) -> list[dict]:
    out = avsteg(["list", "--json"], env, cwd=cwd).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_backlog_is_worked_off_and_a_second_run_changes_nothing(graph_server, db_url, tmp_path):
    backlog = mixed_backlog(23, tag="g")
    read_before = _deliver(graph_server, backlog, read_every=4)
    env = graph_environ(graph_server, db_url)

    result = avsteg(["run", "--once"], env, cwd=tmp_path)
    assert "23 in Inbox" in result.stderr, result.stderr[-2000:]

    reports, rejects, human = ids_by_kind(backlog)
    register = _register(env, tmp_path)
    assert sorted(r["message_id"] for r in register) == sorted(reports)

    # Filed by move into folders made on the way; human mail untouched, read state as it was.
    assert_filed(graph_server, reports, rejects, human, read_before)
    for path in (PROCESSED, REJECTED):
        for mid, is_read in folder_state(graph_server, path).items():
            assert is_read == (mid in read_before), mid  # $value never marks anything read

    # One reply per answered message, sent as MIME through sendMail, threaded to the original.
    sent = sent_by_original(graph_server)
    assert set(sent) == reports | rejects
    assert all(len(replies) == 1 for replies in sent.values()), sent
    facts = db_facts(db_url)
    assert {status for _o, status, _h in facts["replies"]} == {"sent"}

    # Delta pages are small: the first round needed several pages and ended in a delta link.
    assert graph_server.count("GET", r"/messages/delta$") >= 3

    # A second run: one delta round, nothing new, nothing sent or moved.
    before = (len(graph_server.sent), graph_server.count("POST", r"/move$"))
    second = avsteg(["run", "--once"], env, cwd=tmp_path)
    assert "nothing new" in second.stderr, second.stderr[-2000:]
    assert (len(graph_server.sent), graph_server.count("POST", r"/move$")) == before
    assert _register(env, tmp_path) == register

    status = json.loads(avsteg(["status", "--json"], env, cwd=tmp_path).stdout)
    assert [p["account"] for p in status["polls"]] == [f"graph:{graph_server.app.mailbox}"]
    assert status["backlog"] == 0 and status["replies_sent"] == len(reports | rejects)


def test_throttling_dropped_connections_and_a_lost_delta_token_are_waited_out(
        graph_server, db_url, tmp_path):
    backlog = mixed_backlog(20, tag="t")  # one list: every template distinct
    first, second = backlog[:12], backlog[12:]
    _deliver(graph_server, first)
    env = graph_environ(graph_server, db_url)
    graph_server.fail(r"/messages/delta$", 429, count=2, retry_after="1")
    graph_server.fail(r"/\$value$", 503, count=2)
    graph_server.drop(r"/\$value$", count=1)
    graph_server.fail(r"/sendMail$", 429, count=1, retry_after="1")
    # Two sendMails lose their answer: one before Graph took it, one after. Sent Items tells
    # which: the first is sent again, the second not.
    graph_server.drop(r"/sendMail$", count=1)
    graph_server.drop(r"/sendMail$", count=1, after=True)
    graph_server.fail(r"/move$", 503, count=1, retry_after="0")
    avsteg(["run", "--once"], env, cwd=tmp_path)
    assert graph_server.count("GET", r"/messages/delta$", 429) == 2
    assert graph_server.count("POST", r"/sendMail$", 429) == 1
    assert graph_server.count("POST", r"/sendMail$", 0) == 2  # the two dropped connections
    answered = {m.message_id for m in first if m.kind != "human"}
    sent = sent_by_original(graph_server)
    assert set(sent) == answered, sent
    assert [k for k, r in sent.items() if len(r) != 1] == [], sent

    # The server forgets every delta link: the next run starts a full round (410 Gone) and
    # handles only what is new; nothing is answered twice, nothing registered twice.
    _deliver(graph_server, second)
    graph_server.forget_delta_tokens()
    avsteg(["run", "--once"], env, cwd=tmp_path)
    assert graph_server.count("GET", r"/messages/delta$", 410) == 1
    answered |= {m.message_id for m in second if m.kind != "human"}
    sent = sent_by_original(graph_server)
    assert set(sent) == answered
    assert all(len(replies) == 1 for replies in sent.values()), sent
    reports = {m.message_id for m in first + second if m.kind == "report"}
    assert sorted(r["message_id"] for r in _register(env, tmp_path)) == sorted(reports)
    assert set(folder_state(graph_server, "Inbox")) == {
        m.message_id for m in first + second if m.kind == "human"}

    # And a third run, after yet another lost token, with nothing new: a resync that does nothing.
    graph_server.forget_delta_tokens()
    moves = graph_server.count("POST", r"/move$")
    third = avsteg(["run", "--once"], env, cwd=tmp_path)
    assert "nothing new" in third.stderr
    assert len(graph_server.sent) == len(answered)
    assert graph_server.count("POST", r"/move$") == moves


def test_backfill_registers_and_files_without_answering(graph_server, db_url, tmp_path):
    backlog = mixed_backlog(10, tag="b")
    _deliver(graph_server, backlog)
    env = graph_environ(graph_server, db_url)
    result = avsteg(["run", "--once", "--no-replies"], env, cwd=tmp_path)
    assert "6 registered, 2 rejected; 0 replies sent; 8 filed away" in result.stderr
    assert graph_server.sent == []
    assert graph_server.count("POST", r"/sendMail$") == 0
    reports = {m.message_id for m in backlog if m.kind == "report"}
    assert set(folder_state(graph_server, PROCESSED)) == reports
    assert sorted(r["message_id"] for r in _register(env, tmp_path)) == sorted(reports)


def test_a_refused_secret_is_permanent_and_touches_nothing(graph_server, db_url, tmp_path):
    backlog = mixed_backlog(3, tag="s")
    _deliver(graph_server, backlog)
    env = graph_environ(graph_server, db_url, GRAPH__CLIENT_SECRET="wrong-secret")
    result = avsteg(["run", "--once"], env, cwd=tmp_path, check=False)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "login refused" in result.stderr and "invalid_client" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(p.startswith("/v1.0/") for _m, p, _s in graph_server.requests)
    assert len(graph_server.in_folder("Inbox")) == 3


def test_an_app_without_mail_send_leaves_replies_queued(db_url, tmp_path):
    server = start_graph_server(tmp_path / "ca")
    try:
        server.app.permissions = {"Mail.ReadWrite"}
        backlog = mixed_backlog(3, tag="p")
        _deliver(server, backlog)
        env = graph_environ(server, db_url)
        # Like a refused SMTP login: the run stops at the first reply (exit 1, one line); the
        # message is registered and its reply queued, nothing lost.
        first = avsteg(["run", "--once"], env, cwd=tmp_path, check=False)
        assert first.returncode == 1 and "login refused" in first.stderr, first.stderr[-2000:]
        assert "ErrorAccessDenied" in first.stderr and "Traceback" not in first.stderr
        assert server.sent == [] and server.count("POST", r"/sendMail$", 403) == 1
        facts = db_facts(db_url)
        assert {status for _o, status, _h in facts["replies"]} == {"queued"}
        # The permission is granted: the next run answers everyone once and files everything.
        server.app.permissions = {"Mail.ReadWrite", "Mail.Send"}
        avsteg(["run", "--once"], env, cwd=tmp_path)
        answered = {m.message_id for m in backlog if m.kind != "human"}
        sent = sent_by_original(server)
        assert set(sent) == answered and all(len(r) == 1 for r in sent.values())
        assert set(folder_state(server, "Inbox")) == {m.message_id for m in backlog if m.kind == "human"}
    finally:
        stop_graph_server(server)


def test_certificate_credentials(db_url, tmp_path: Path):
    pem = tmp_path / "app.pem"
    certificate = make_client_certificate(pem)
    app = App(tenant_id="aaaaaaaa-1111-2222-3333-444444444444",
              client_id="bbbbbbbb-1111-2222-3333-444444444444", client_secret=None,
              mailbox="avsteg@ink.goteborg.se", certificate=certificate)
    server = start_graph_server(tmp_path / "ca", app=app)
    try:
        backlog = mixed_backlog(5, tag="c")
        _deliver(server, backlog)
        env = graph_environ(server, db_url, GRAPH__CERTIFICATE_PATH=str(pem))
        avsteg(["run", "--once"], env, cwd=tmp_path)
        assert set(sent_by_original(server)) == {m.message_id for m in backlog if m.kind != "human"}
        # Another app's certificate is refused: exit 1, nothing read.
        other = tmp_path / "other.pem"
        make_client_certificate(other)
        env = graph_environ(server, db_url, GRAPH__CERTIFICATE_PATH=str(other))
        result = avsteg(["run", "--once"], env, cwd=tmp_path, check=False)
        assert result.returncode == 1 and "AADSTS700027" in result.stderr
    finally:
        stop_graph_server(server)


def test_check_proves_token_mailbox_folders_and_send_permission_touching_nothing(
        graph_server, db_url, tmp_path):
    backlog = mixed_backlog(3, tag="k")
    _deliver(graph_server, backlog)
    env = graph_environ(graph_server, db_url)
    result = avsteg(["check"], env, cwd=tmp_path, check=False)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    for name in ("graph token", "graph mailbox", "graph folders", "graph send permission"):
        assert any(line.startswith(f"OK  {name}:") for line in lines), (name, lines)
    assert not any("imap" in line or "smtp" in line for line in lines), lines
    assert any("Avsteg/Registrerade (graph.processed_folder): missing, created at first use" in line
               for line in lines)
    assert any("3 messages (3 unread)" in line for line in lines)
    # Nothing touched: no folder made, nothing sent, moved or changed.
    assert graph_server.sent == []
    assert not any(m == "POST" and (p.endswith("/mailFolders") or p.endswith("/childFolders")
                                    or p.endswith("/move")) for m, p, _s in graph_server.requests)
    assert touched_human_mail(graph_server) == 0
    assert len(graph_server.in_folder("Inbox")) == 3

    graph_server.app.permissions = {"Mail.ReadWrite"}
    result = avsteg(["check"], env, cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert any(line.startswith("FEL graph send permission:") and "ErrorAccessDenied" in line
               for line in result.stdout.splitlines()), result.stdout

    env = graph_environ(graph_server, db_url, GRAPH__CLIENT_SECRET="wrong")
    result = avsteg(["check"], env, cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert any(line.startswith("FEL graph token:") and "AADSTS7000215" in line
               for line in result.stdout.splitlines()), result.stdout


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_one_ca_variable_is_enough_and_a_failing_token_endpoint_is_waited_out(
        graph_server, db_url, tmp_path, variable):
    """The test CA in one of the two variables, the system bundle in the other (as a machine
    that sets both by default would have); the token endpoint throttled, failing, dropping."""
    backlog = mixed_backlog(3, tag=f"ca{variable[0]}")
    _deliver(graph_server, backlog)
    env = graph_environ(graph_server, db_url)
    other = "REQUESTS_CA_BUNDLE" if variable == "SSL_CERT_FILE" else "SSL_CERT_FILE"
    env[other] = "/etc/ssl/certs/ca-certificates.crt"
    graph_server.fail(r"/oauth2/v2\.0/token$", 429, retry_after="1")
    graph_server.fail(r"/oauth2/v2\.0/token$", 503)
    graph_server.drop(r"/oauth2/v2\.0/token$")
    avsteg(["run", "--once"], env, cwd=tmp_path)
    assert graph_server.count("POST", r"/token$", 200) == 1
    assert set(sent_by_original(graph_server)) == {m.message_id for m in backlog if m.kind != "human"}


def test_short_lived_and_revoked_tokens_are_replaced_without_losing_a_message(
        graph_server, db_url, tmp_path):
    backlog = mixed_backlog(10, tag="tok")
    _deliver(graph_server, backlog)
    graph_server.token_lifetime = 4  # renewed at half its life (on a slow run)
    graph_server.revoke_tokens_at(r"/\$value$")  # and revoked outright at the first message read
    avsteg(["run", "--once"], graph_environ(graph_server, db_url), cwd=tmp_path)
    assert graph_server.count("GET", r"/\$value$", 401) >= 1  # the revoked token was refused …
    assert graph_server.count("POST", r"/token$", 200) >= 2  # … and a new one fetched
    answered = {m.message_id for m in backlog if m.kind != "human"}
    sent = sent_by_original(graph_server)
    assert set(sent) == answered and [k for k, r in sent.items() if len(r) != 1] == []


def test_a_folder_deleted_by_a_person_is_made_again(graph_server, db_url, tmp_path):
    backlog = mixed_backlog(10, tag="del")
    _deliver(graph_server, backlog[:5])
    env = graph_environ(graph_server, db_url)
    avsteg(["run", "--once"], env, cwd=tmp_path)
    first = set(folder_state(graph_server, PROCESSED))
    graph_server.delete_folder(PROCESSED)
    assert folder_state(graph_server, PROCESSED) == {}
    _deliver(graph_server, backlog[5:])
    avsteg(["run", "--once"], env, cwd=tmp_path)
    reports = {m.message_id for m in backlog[5:] if m.kind == "report"}
    assert set(folder_state(graph_server, PROCESSED)) == reports and not first & reports
    assert set(folder_state(graph_server, "Inbox")) == {m.message_id for m in backlog if m.kind == "human"}
    sent = sent_by_original(graph_server)
    assert set(sent) == {m.message_id for m in backlog if m.kind != "human"}
