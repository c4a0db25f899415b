"""Go-live against real servers: refused logins, TLS mismatches, ``avsteg check``, databases.

Every command runs as a child process configured only by ``AVSTEG_…`` variables, as an IT
person would run it. The login count comes from Dovecot's own log: what the server saw.
"""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.worker_env import (
    PROCESSED,
    REJECTED,
    append_all,
    avsteg,
    folder_ids,
    human_message,
    report_message,
    spawn,
    worker_environ,
)

pytestmark = pytest.mark.integration


def refused_logins(dovecot, user) -> int:
    """Failed authentications of ``user`` as Dovecot logged them."""
    log = Path(dovecot.directory) / "dovecot.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(1 for line in text.splitlines()
               if f"user=<{user.name}>" in line and "auth failed" in line)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_a_refused_login_is_permanent_one_line_exit_1(dovecot, mail_user, smtp_server, tmp_path):
    env = worker_environ(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/a.sqlite",
                         IMAP__PASSWORD="fel-lösenord")
    result = avsteg(["run", "--once"], env, cwd=tmp_path, check=False)
    assert result.returncode == 1, result.stderr
    line = _last_line(result.stderr)
    assert f"IMAP login refused by {dovecot.host}:{dovecot.port} for {mail_user.name}" in line
    assert "b'" not in result.stderr and "Traceback" not in result.stderr
    assert refused_logins(dovecot, mail_user) == 1

    # The refusal is recorded: status --check fails, and --json agrees.
    status = avsteg(["status", "--check"], env, cwd=tmp_path, check=False)
    assert status.returncode == 1 and "login refused" in status.stdout
    info = json.loads(avsteg(["status", "--json"], env, cwd=tmp_path).stdout)
    assert info["healthy"] is False and any("login refused" in p for p in info["problems"])


def test_a_refused_smtp_login_keeps_the_reply_queued_uncounted(dovecot, mail_user, smtp_server,
                                                               tmp_path):
    smtp_server.handler.require_auth = True
    smtp_server.add_password("svar@goteborg.se", "rätt")
    append_all(dovecot, mail_user, [report_message(0, tag="smtpfel")])
    env = worker_environ(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/a.sqlite",
                         SMTP__AUTH="password", SMTP__USERNAME="svar@goteborg.se",
                         SMTP__PASSWORD="fel", SMTP__MAX_ATTEMPTS="1")
    result = avsteg(["run", "--once"], env, cwd=tmp_path, check=False)
    assert result.returncode == 1, result.stderr
    assert "SMTP login refused by" in _last_line(result.stderr)
    info = json.loads(avsteg(["status", "--json"], env, cwd=tmp_path).stdout)
    assert info["replies_queued"] == 1 and info["replies_failed"] == 0  # max_attempts=1 untouched
    assert info["healthy"] is False

    env["AVSTEG_SMTP__PASSWORD"] = "rätt"
    avsteg(["run", "--once"], env, cwd=tmp_path)
    assert len(smtp_server.messages) == 1  # the receipt, once
    assert folder_ids(dovecot, mail_user, "INBOX") == {}
    assert len(folder_ids(dovecot, mail_user, PROCESSED)) == 1
    info = json.loads(avsteg(["status", "--json"], env, cwd=tmp_path).stdout)
    assert info["replies_sent"] == 1 and info["healthy"] is True


def test_tls_against_a_plain_port_gets_a_hint(dovecot, mail_user, tmp_path):
    env = worker_environ(dovecot, mail_user, None, f"sqlite:///{tmp_path}/a.sqlite",
                         IMAP__SSL="true")
    result = avsteg(["run", "--once", "--no-replies"], env, cwd=tmp_path, check=False)
    assert result.returncode == 75, result.stderr
    line = _last_line(result.stderr)
    assert "WRONG_VERSION_NUMBER" in line and "set imap.ssl = false" in line


def test_plain_against_a_tls_port_gets_a_hint(dovecot, mail_user, tmp_path):
    env = worker_environ(dovecot, mail_user, None, f"sqlite:///{tmp_path}/a.sqlite",
                         IMAP__PORT=str(dovecot.ssl_port), IMAP__TIMEOUT_SECONDS="2")
    result = avsteg(["run", "--once", "--no-replies"], env, cwd=tmp_path, check=False)
    assert result.returncode == 75, result.stderr
    assert "set imap.ssl = true" in _last_line(result.stderr)


@pytest.mark.slow
def test_a_wrong_password_for_a_minute_costs_a_handful_of_logins(dovecot, mail_user, smtp_server,
                                                                 tmp_path):
    """The service with IDLE (two connections: poll and watcher) against a refused login.

    Without the backoff it logged in every ~7 s (poll) plus every 2 s (watcher): dozens a
    minute, which locks a Microsoft 365 account. Now: a handful.
    """
    env = worker_environ(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/a.sqlite",
                         IMAP__PASSWORD="fel-lösenord", WORKER__IDLE="true",
                         WORKER__POLL_INTERVAL_SECONDS="2")
    log = tmp_path / "worker.log"
    worker = spawn(["run"], env, cwd=tmp_path, log=log)
    try:
        time.sleep(60)
        seen = refused_logins(dovecot, mail_user)
        status = avsteg(["status", "--check"], env, cwd=tmp_path, check=False)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    text = log.read_text(errors="replace")
    print(f"refused logins seen by Dovecot in 60 s: {seen}")
    assert 1 <= seen <= 5, text[-3000:]
    assert "next attempt in" in text and "b'" not in text
    assert status.returncode == 1


def test_check_against_real_servers_touches_nothing(dovecot, mail_user, smtp_server, db_url,
                                                    tmp_path):
    smtp_server.handler.require_auth = True
    smtp_server.add_password("svar@goteborg.se", "smtp-lösen")
    append_all(dovecot, mail_user, [human_message(0, tag="chk")])
    before = folder_ids(dovecot, mail_user, "INBOX")
    env = worker_environ(dovecot, mail_user, smtp_server, db_url,
                         SMTP__AUTH="password", SMTP__USERNAME="svar@goteborg.se",
                         SMTP__PASSWORD="smtp-lösen")
    result = avsteg(["check"], env, cwd=tmp_path, check=False)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split(":")[0] for line in lines] == [
        "OK  settings", "OK  schema", "OK  database", "OK  imap login", "OK  imap folders",
        "OK  smtp login"]
    assert "INBOX: 1 messages" in result.stdout
    assert f"{PROCESSED} (imap.processed_folder): missing, created at first use" in result.stdout
    # nothing touched: no folder created, the message still unread, nothing sent
    assert folder_ids(dovecot, mail_user, "INBOX") == before
    assert PROCESSED not in dovecot.folders(mail_user) and REJECTED not in dovecot.folders(mail_user)
    assert smtp_server.messages == []

    env["AVSTEG_SMTP__PASSWORD"] = "fel"
    env["AVSTEG_IMAP__PASSWORD"] = "fel"
    result = avsteg(["check"], env, cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "FEL imap login: IMAP login refused by" in result.stdout
    assert "FEL imap folders: not checked" in result.stdout
    assert "FEL smtp login: SMTP login refused by" in result.stdout


def test_check_with_bad_settings_exits_2(tmp_path, monkeypatch):
    env = {"AVSTEG_IMAP__HOTS": "x", "PATH": "/usr/bin:/bin"}
    import os

    env.update({k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")})
    result = avsteg(["check"], env, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stdout.startswith("FEL settings:") and "AVSTEG_IMAP__HOST" in result.stdout


def test_an_unreachable_postgresql_is_temporary(tmp_path, monkeypatch):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/avsteg"
    for argv in (["list", "--db", url], ["export", "-o", "r.xlsx", "--db", url]):
        result = avsteg(argv, env, cwd=tmp_path, check=False)
        assert result.returncode == 75, result.stderr
        assert "Connection refused" in result.stderr and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1


def test_a_misconfigured_postgresql_is_a_configuration_error(postgres_cluster, tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    url = postgres_cluster.url("no_such_database")
    result = avsteg(["list", "--db", url], env, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert "does not exist" in result.stderr and "check database.url" in result.stderr
    assert "Traceback" not in result.stderr
