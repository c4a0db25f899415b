"""Real mail servers for the tests: a private Dovecot (IMAP, with XOAUTH2) and aiosmtpd (SMTP).

Integration tests talk to real servers on free loopback ports instead of mocks, so the adapters
meet the same protocol quirks they meet in production. Registered as a pytest plugin in
tests/conftest.py; fixtures: ``dovecot`` (session), ``mail_user`` (a fresh IMAP user per test),
``smtp_server`` / ``smtp_tls_server`` (per test, from smtp_server.py), ``tls_files`` (a
self-signed certificate for 127.0.0.1). ``free_port()`` lives in net.py and is re-exported.
"""
from __future__ import annotations

import contextlib
import grp
import itertools
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.support.net import TlsFiles, free_port, make_tls_files, wait_for_port
from tests.support.require import need
from tests.support.smtp_server import (  # re-exported: this module is the registered plugin
    ReceivedMessage,
    SmtpServer,
    smtp_server,
    smtp_tls_server,
    start_smtp_server,
)

__all__ = [
    "DovecotServer",
    "MailUser",
    "ReceivedMessage",
    "SmtpServer",
    "TlsFiles",
    "dovecot",
    "free_port",
    "mail_user",
    "smtp_server",
    "smtp_tls_server",
    "start_smtp_server",
    "tls_files",
]


@pytest.fixture(scope="session")
def tls_files() -> Iterator[TlsFiles]:
    directory = Path(tempfile.mkdtemp(prefix="avsteg-tls-"))
    try:
        yield make_tls_files(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)

# --------------------------------------------------------------------------- token introspection


class _Introspection(ThreadingHTTPServer):
    """What Dovecot's oauth2 passdb asks: is this bearer token valid, and whose is it?"""

    daemon_threads = True
    tokens: dict[str, str]
    requests_seen: int


class _IntrospectionHandler(BaseHTTPRequestHandler):
    server: _Introspection

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        token = (form.get("token") or [""])[0]
        self.server.requests_seen += 1
        user = self.server.tokens.get(token)
        body = json.dumps({"active": True, "username": user} if user else {"active": False})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:  # silence per-request logging
        pass


# --------------------------------------------------------------------------- Dovecot


@dataclass(frozen=True)
class MailUser:
    name: str
    password: str


_DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = {instance_name}
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
auth_cache_size = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
mail_uid = {mail_user}
mail_gid = {mail_group}
first_valid_uid = {first_uid}
first_valid_gid = {first_gid}
mail_location = maildir:{d}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN {d}/passwd.d/%u
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={d}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
"""

_OAUTH2_CONF = """\
introspection_mode = post
introspection_url = http://127.0.0.1:{port}/introspect
username_attribute = username
active_attribute = active
active_value = true
"""


class DovecotServer:
    """A private Dovecot 2.3 with password and XOAUTH2 logins; helpers act as another client."""

    def __init__(self, directory: Path, tls: TlsFiles) -> None:
        self.directory = directory
        self.host = "127.0.0.1"
        self.port = free_port()
        self.ssl_port = free_port()
        self.tls = tls
        self.users: dict[str, MailUser] = {}
        self._counter = itertools.count(1)
        self._process: subprocess.Popen[bytes] | None = None
        self._introspection = _Introspection(("127.0.0.1", 0), _IntrospectionHandler)
        self._introspection.tokens = {}
        self._introspection.requests_seen = 0
        self.config_file = directory / "dovecot.conf"
        self.instance_name = f"avsteg-test-{os.getpid()}-{self.port}"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._introspection.serve_forever, daemon=True).start()
        d = self.directory
        d.chmod(0o755)  # login and mail processes run as other users and must traverse it
        if os.geteuid() == 0:
            login_user, internal_user, mail_user = "dovenull", "dovecot", "mail"
        else:  # a normal user: every Dovecot process runs as ourselves
            login_user = internal_user = mail_user = pwd.getpwuid(os.geteuid()).pw_name
        mail_pw = pwd.getpwnam(mail_user)
        mail_group = grp.getgrgid(mail_pw.pw_gid).gr_name
        for sub in ("mail", "home"):
            (d / sub).mkdir(exist_ok=True)
            os.chown(d / sub, mail_pw.pw_uid, mail_pw.pw_gid)
        # One passwd-file per user: Dovecot re-reads a changed passwd-file at most once a second,
        # so a shared file would not know a user added a moment ago.
        (d / "passwd.d").mkdir(exist_ok=True)
        (d / "oauth2.conf").write_text(
            _OAUTH2_CONF.format(port=self._introspection.server_address[1])
        )
        self.config_file.write_text(
            _DOVECOT_CONF.format(
                d=d,
                instance_name=self.instance_name,
                port=self.port,
                ssl_port=self.ssl_port,
                cert=self.tls.cert,
                key=self.tls.key,
                login_user=login_user,
                internal_user=internal_user,
                mail_user=mail_user,
                mail_group=mail_group,
                first_uid=min(mail_pw.pw_uid, 500),
                first_gid=min(mail_pw.pw_gid, 500),
            )
        )
        self.resume()

    def resume(self) -> None:
        """Start the Dovecot master (again) on the same ports, config and mail."""
        with open(self.directory / "dovecot.stderr", "ab") as stderr:
            self._process = subprocess.Popen(
                ["dovecot", "-F", "-c", str(self.config_file)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        process = self._process
        try:
            wait_for_port(self.port, alive=lambda: process.poll() is None)
            wait_for_port(self.ssl_port, alive=lambda: process.poll() is None)
        except OSError:
            self.halt()
            raise RuntimeError(f"dovecot did not start:\n{self.log_tail()}") from None

    def halt(self) -> None:
        """Stop the Dovecot master and every connection (a server restart's first half).

        The master leaves its imap, log and stats children running when it stops (whatever
        ``shutdown_clients`` says), so they are ended too: by pid, found by this instance's
        unique process title.
        """
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self._instance_pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 2
            while pids and time.monotonic() < deadline:
                time.sleep(0.02)
                pids = self._instance_pids()
            if not pids:
                break

    def _instance_pids(self) -> list[int]:
        """Processes of this Dovecot instance: their title carries its unique instance name."""
        marker = f"{self.instance_name}/".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in title[:200]:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        self.halt()
        self._introspection.shutdown()
        self._introspection.server_close()

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for name in ("dovecot.log", "dovecot.stderr"):
            log = self.directory / name
            text += log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kick(self, user: str | MailUser) -> None:
        """Drop every connection of ``user``, as a server restart or an idle timeout would."""
        name = user.name if isinstance(user, MailUser) else user
        subprocess.run(
            ["doveadm", "-c", str(self.config_file), "kick", name],
            check=True,
            capture_output=True,
        )

    # -- accounts --------------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str | None = None) -> MailUser:
        """A fresh account (its own passwd-file, read by Dovecot on first login)."""
        user = MailUser(
            name or f"user{next(self._counter)}-{secrets.token_hex(3)}@example.test",
            password or secrets.token_urlsafe(12),
        )
        self.users[user.name] = user
        (self.directory / "passwd.d" / user.name).write_text(
            f"{user.name}:{{PLAIN}}{user.password}\n", encoding="utf-8"
        )
        return user

    def add_token(self, user: str | MailUser, token: str | None = None) -> str:
        """Make the introspection endpoint vouch for ``token`` as belonging to ``user``."""
        name = user.name if isinstance(user, MailUser) else user
        token = token or secrets.token_urlsafe(24)
        self._introspection.tokens[token] = name
        return token

    def revoke_token(self, token: str) -> None:
        self._introspection.tokens.pop(token, None)

    @property
    def introspection_requests(self) -> int:
        return self._introspection.requests_seen

    def settings_for(self, user: MailUser, **overrides: Any) -> Any:
        """ImapSettings for ``user`` on the plain port (no TLS) unless ``overrides`` say otherwise."""
        from avsteg.config.settings import ImapSettings

        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "ssl": False,
            "starttls": False,
            "username": user.name,
            "password": user.password,
            "timeout_seconds": 10.0,
        }
        values.update(overrides)
        return ImapSettings(**values)

    # -- acting as another mail client -----------------------------------------------------

    def client(self, user: MailUser) -> Any:
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.plain_login(user.name, user.password)  # UTF-8 safe, unlike LOGIN
        return client

    def append(
        self, user: MailUser, folder: str, raw: bytes, flags: Sequence[str] = ()
    ) -> int | None:
        """Store ``raw`` in ``folder`` (created when missing); returns the new UID."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=tuple(flags))
        # b'[APPENDUID <uidvalidity> <uid>] Append completed.'
        text = response.decode() if isinstance(response, bytes) else str(response)
        if "APPENDUID" in text:
            return int(text.split("APPENDUID", 1)[1].split("]")[0].split()[1])
        return None

    def fetch_all(self, user: MailUser, folder: str) -> list[tuple[int, tuple[str, ...], bytes]]:
        """Every message in ``folder`` as (uid, flags, raw), read without setting \\Seen."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        return [
            (
                uid,
                tuple(f.decode() if isinstance(f, bytes) else f for f in item[b"FLAGS"]),
                item[b"BODY[]"],
            )
            for uid, item in sorted(data.items())
        ]

    def folders(self, user: MailUser) -> list[str]:
        with self.client(user) as client:
            return sorted(name for _flags, _sep, name in client.list_folders())


def start_dovecot(prefix: str = "avsteg-bench-") -> tuple[DovecotServer, Path]:
    """A private Dovecot outside pytest (the benchmarks), in a fresh directory it returns."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)  # Dovecot's mail and login users must traverse it
    tls_dir = directory / "tls"
    tls_dir.mkdir()
    server = DovecotServer(directory / "dovecot", make_tls_files(tls_dir))
    server.directory.mkdir()
    server.start()
    return server, directory


@pytest.fixture(scope="session")
def dovecot(tls_files: TlsFiles) -> Iterator[DovecotServer]:
    """One private Dovecot for the session; tests isolate by taking a fresh ``mail_user``."""
    need("dovecot", "the real IMAP server of the mailbox tests (apt-get install dovecot-imapd)")
    need("doveadm", "stops and kicks the test Dovecot (apt-get install dovecot-imapd)")
    directory = Path(tempfile.mkdtemp(prefix="avsteg-dovecot-"))
    server = DovecotServer(directory, tls_files)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> MailUser:
    """A fresh, empty mailbox account on the shared Dovecot."""
    return dovecot.add_user()
