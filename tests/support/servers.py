"""Real mail servers for the tests: a private Dovecot (IMAP, with XOAUTH2) and aiosmtpd (SMTP).

Integration tests talk to real servers on free loopback ports instead of mocks, so the adapters
meet the same protocol quirks they meet in production. Registered as a pytest plugin in
tests/conftest.py; fixtures: ``dovecot`` (session), ``mail_user`` (a fresh IMAP user per test),
``smtp_server`` (per test), ``tls_files`` (a self-signed certificate for 127.0.0.1).
"""
from __future__ import annotations

import base64
import datetime as dt
import grp
import itertools
import json
import os
import pwd
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (servers that cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# --------------------------------------------------------------------------- TLS material


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx


def make_tls_files(directory: Path) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1/localhost (cryptography comes with msal)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return TlsFiles(cert_path, key_path)


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
instance_name = avsteg-test-{port}
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
        self._process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.config_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.port)
            wait_for_port(self.ssl_port)
        except OSError:
            self.stop()
            raise RuntimeError(f"dovecot did not start:\n{self.log_tail()}") from None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self._introspection.shutdown()
        self._introspection.server_close()

    def log_tail(self, lines: int = 40) -> str:
        log = self.directory / "dovecot.log"
        text = log.read_text(errors="replace") if log.exists() else ""
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


@pytest.fixture(scope="session")
def dovecot(tls_files: TlsFiles) -> Iterator[DovecotServer]:
    """One private Dovecot for the session; tests isolate by taking a fresh ``mail_user``."""
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
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


# --------------------------------------------------------------------------- SMTP (aiosmtpd)


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    mail_options: tuple[str, ...]
    auth_user: str | None


@dataclass
class RecordingHandler:
    """Records what arrives; can be told to refuse the next messages with a given reply."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # XOAUTH2 bearer token -> user
    require_auth: bool = False
    _refusals: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        with self._lock:
            self._refusals.extend([reply] * count)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            refusal = self._refusals.pop(0) if self._refusals else None
        if refusal:
            return refusal
        login = session.login_data
        self.messages.append(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=envelope.original_content or envelope.content,
                mail_options=tuple(envelope.mail_options),
                auth_user=login.decode() if isinstance(login, bytes) else login,
            )
        )
        return "250 2.0.0 Message accepted"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        from aiosmtpd.smtp import AuthResult

        if len(args) < 2:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Initial response required")
        try:
            text = base64.b64decode(args[1]).decode()
            fields = dict(part.split("=", 1) for part in text.split("\x01") if part)
            user, token = fields["user"], fields["auth"].removeprefix("Bearer ")
        except (ValueError, KeyError):
            return AuthResult(success=False, handled=False, message="501 5.5.2 Malformed XOAUTH2")
        if self.tokens.get(token) == user:
            return AuthResult(success=True, auth_data=_Login(user.encode()))
        # Like Gmail/Microsoft: a 334 challenge with a JSON error, then 535 after the empty reply.
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(success=False, handled=False, message="535 5.7.8 Invalid token")

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        login = auth_data.login.decode()
        ok = self.passwords.get(login) == auth_data.password.decode()
        # handled=False: let aiosmtpd answer 535 itself (True would leave the client waiting).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass(frozen=True)
class _Login:
    login: bytes


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler
    controller: Any

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    def refuse_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the next ``count`` messages' DATA with ``reply`` (e.g. a 451 or a 550)."""
        self.handler.refuse_next(count, reply)

    def add_password(self, user: str, password: str) -> None:
        self.handler.passwords[user] = password

    def add_token(self, user: str, token: str | None = None) -> str:
        token = token or secrets.token_urlsafe(24)
        self.handler.tokens[token] = user
        return token


def start_smtp_server(
    tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False
) -> SmtpServer:
    """aiosmtpd on a free port; STARTTLS when ``tls_context`` is given, or implicit TLS."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    kwargs: dict[str, Any] = {
        "authenticator": handler.authenticate,
        "auth_require_tls": False,
        "enable_SMTPUTF8": True,
    }
    if tls_context is not None and implicit_tls:
        kwargs["ssl_context"] = tls_context
    elif tls_context is not None:
        kwargs["tls_context"] = tls_context
    for attempt in range(5):
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        try:
            controller.start()
        except (OSError, RuntimeError):  # the port was taken in between; try another
            if attempt == 4:
                raise
            continue
        return SmtpServer("127.0.0.1", port, handler, controller)
    raise AssertionError("unreachable")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A recording SMTP server (plain, AUTH PLAIN/LOGIN/XOAUTH2 offered, not required)."""
    server = start_smtp_server()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
def smtp_tls_server(tls_files: TlsFiles) -> Iterator[SmtpServer]:
    """Like ``smtp_server`` but offering STARTTLS with the session's self-signed certificate."""
    server = start_smtp_server(tls_files.server_context())
    try:
        yield server
    finally:
        server.controller.stop()

