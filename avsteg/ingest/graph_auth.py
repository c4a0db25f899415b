"""App-only access tokens for Microsoft Graph: msal client credentials, a secret or a certificate.

msal does the OAuth (client credentials, token cache); :class:`OAuthTokenProvider` adds the
refresh margin and ``invalidate()`` after a refused token. Two things differ from the IMAP
token source:

* the authority may be a national cloud or a test server with its own certificate authority.
  msal would ask Microsoft's instance discovery about any authority first (which fails offline
  and for a server that is not Microsoft's), so discovery is turned off unless the authority is
  Microsoft's public one; and msal talks through ``requests``, which trusts ``REQUESTS_CA_BUNDLE``
  but not ``SSL_CERT_FILE``: its session trusts the CAs of both;
* an answer from the token endpoint that refuses us (a wrong secret, an unknown app or tenant, a
  certificate it does not know) is a permanent :class:`GraphAuthError` (spec 4: a refused login
  is not temporary), while an endpoint that cannot be reached stays transient.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from avsteg.config.settings import GraphSettings
from avsteg.domain.errors import ConfigurationError
from avsteg.ingest.oauth import AcquireFunction, OAuthTokenProvider, TokenError
from avsteg.ingest.ports import MailboxAuthError

log = logging.getLogger(__name__)

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
_TRANSIENT_TOKEN_ERRORS = {"temporarily_unavailable", "server_error"}


class GraphAuthError(MailboxAuthError):
    """Raised when Microsoft Entra ID or Graph refuses us: wrong secret or certificate, unknown
    app or tenant, a token Graph will not accept, or no access to the mailbox (403). Ours to fix;
    retrying at a steady pace does not help (spec 4: ``run --once`` exits 1, ``run`` backs off)."""

    def __init__(self, server: str, account: str, detail: str = "") -> None:
        super().__init__("Microsoft Graph", server, account, detail)


def host_of(url: str) -> str:
    """``login.microsoftonline.com`` of ``https://login.microsoftonline.com/…`` (for messages)."""
    return urlsplit(url).netloc or url


def ca_files() -> list[str]:
    """The CA files the process is told to trust: ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE``.

    Both count: a machine may set one to the system bundle and a deployment (or a test) the
    other to its own CA. Missing files are left out (a wrong path shows as a TLS error)."""
    found: list[str] = []
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(name)
        if value and os.path.isfile(value) and value not in found:
            found.append(value)
    return found


_combined: dict[tuple[str, ...], str] = {}


def ca_bundle() -> str | None:
    """One CA file holding every CA of :func:`ca_files` (requests takes a single path)."""
    files = ca_files()
    if len(files) <= 1:
        return files[0] if files else None
    key = tuple(files)
    if key not in _combined:
        with tempfile.NamedTemporaryFile("wb", prefix="avsteg-ca-", suffix=".pem",
                                         delete=False) as out:
            for name in files:
                out.write(Path(name).read_bytes().rstrip(b"\n") + b"\n")
        _combined[key] = out.name
    return _combined[key]


def _requests_session(bundle: str | None) -> Any:
    """A requests session for msal that trusts ``bundle`` even when ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` name another file (requests would let those win over ``verify``)."""
    import requests

    class _Session(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if bundle:
                settings["verify"] = bundle
            return settings

    return _Session()


def client_credential(graph: GraphSettings) -> str | dict[str, str]:
    """msal's ``client_credential``: the secret, or the certificate's key and thumbprint."""
    if graph.certificate_path:
        path = Path(graph.certificate_path)
        if path.suffix.lower() in (".pfx", ".p12"):
            cred = {"private_key_pfx_path": str(path)}
            if graph.certificate_password:
                cred["passphrase"] = graph.certificate_password
            return cred
        try:
            pem = path.read_text("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"graph.certificate_path: cannot read {path}: {exc}") from exc
        key = _pem_block(pem, "PRIVATE KEY")
        if key is None:
            raise ConfigurationError(f"graph.certificate_path: no private key in {path}")
        thumbprint = graph.certificate_thumbprint or _sha1_thumbprint(pem)
        if thumbprint is None:
            raise ConfigurationError(
                "graph.certificate_thumbprint must be set (the PEM holds no certificate to read it from)")
        cred = {"private_key": key, "thumbprint": thumbprint.replace(":", "").upper()}
        if graph.certificate_password:
            cred["passphrase"] = graph.certificate_password
        return cred
    if graph.client_secret:
        return graph.client_secret
    raise ConfigurationError("graph.client_secret or graph.certificate_path must be set")


def _pem_block(pem: str, kind: str) -> str | None:
    """The first PEM block whose label ends with ``kind`` (``PRIVATE KEY`` covers RSA/EC/…)."""
    lines = pem.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("-----BEGIN ") and line.rstrip("-").endswith(kind):
            label = line[len("-----BEGIN "):].rstrip("-")
            for j in range(i + 1, len(lines)):
                if lines[j].startswith(f"-----END {label}"):
                    return "\n".join(lines[i:j + 1]) + "\n"
    return None


def _sha1_thumbprint(pem: str) -> str | None:
    block = _pem_block(pem, "CERTIFICATE")
    if block is None:
        return None
    from cryptography import x509  # only needed for certificate credentials

    cert = x509.load_pem_x509_certificate(block.encode("ascii"))
    return hashlib.sha1(cert.public_bytes(_der())).hexdigest().upper()  # noqa: S324 - Entra's x5t


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


TOKEN_WAITS = (1.0, 2.0, 4.0, 8.0)  # msal keeps a 429/5xx answer 5 s (or its Retry-After)


def graph_acquire_function(graph: GraphSettings, *,
                           sleep: Callable[[float], None] = time.sleep) -> AcquireFunction:
    """``acquire(force)`` → msal's result; refusals raise :class:`GraphAuthError`.

    A throttled (429), failing (5xx) or unreachable token endpoint is tried again a few times
    (msal itself keeps a throttled answer for its ``Retry-After``, so a wait is needed first);
    then the last problem is raised as it is and counts as temporary."""
    missing = [f"graph.{name}" for name in ("tenant_id", "client_id", "mailbox")
               if not getattr(graph, name)]
    if missing:
        raise ConfigurationError("mailbox.transport = graph needs " + ", ".join(missing))
    credential = client_credential(graph)
    base = graph.authority.rstrip("/")
    # The tenant is added to the authority; an authority given with it already is taken as is.
    authority = base if base.lower().endswith(f"/{graph.tenant_id}".lower()) else f"{base}/{graph.tenant_id}"
    microsoft = urlsplit(base).netloc.lower() == urlsplit(MICROSOFT_AUTHORITY).netloc
    app: Any = None

    def acquire(force: bool) -> Mapping[str, Any]:
        nonlocal app
        if app is None:
            import msal  # heavy; only the Graph transport needs it at run time

            session = _requests_session(ca_bundle())
            app = msal.ConfidentialClientApplication(
                graph.client_id, client_credential=credential, authority=authority,
                instance_discovery=microsoft, http_client=session,
                timeout=graph.timeout_seconds,
            )
        if force:
            app.remove_tokens_for_client()
        for wait in (*TOKEN_WAITS, None):
            try:
                result: Mapping[str, Any] = app.acquire_token_for_client(scopes=[graph.scope])
            except Exception as exc:  # noqa: BLE001 - requests/msal: connection, TLS, HTTP 5xx
                if wait is None:
                    raise
                log.warning("token endpoint failed (%s: %s); trying again in %.0f s",
                            type(exc).__name__, exc, wait)
                sleep(wait)
                continue
            error = result.get("error")
            if error is None or (isinstance(error, str) and error not in _TRANSIENT_TOKEN_ERRORS):
                break
            if wait is None:  # still throttled or unavailable: temporary for the caller
                raise TokenError(f"token endpoint unavailable: {str(error)[:200]}")
            log.warning("token endpoint answered %s; trying again in %.0f s", str(error)[:200], wait)
            sleep(wait)
        error = result.get("error")
        if error:
            description = str(result.get("error_description") or "").splitlines()[0:1]
            raise GraphAuthError(
                host_of(graph.authority), f"app {graph.client_id} in tenant {graph.tenant_id}",
                f"no token: {error}" + (f": {description[0]}" if description else ""))
        return result

    return acquire


def graph_token_provider(graph: GraphSettings, *, refresh_margin: float = 300.0) -> OAuthTokenProvider:
    return OAuthTokenProvider(graph_acquire_function(graph), refresh_margin=refresh_margin)
