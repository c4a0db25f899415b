"""OAuth2 access tokens for Microsoft 365 (client-credentials flow) and the XOAUTH2 string.

Microsoft 365 no longer accepts passwords for IMAP/SMTP from an application; it wants an app
registration's token (client id + secret, scope ``https://outlook.office365.com/.default``).
The provider caches the token, fetches a new one a few minutes before it expires, and fetches a
new one at once when a server refuses the current one (``invalidate()``), so a revoked token
costs one failed login rather than an hour of them.

msal is used through one function (``acquire``) so the refresh rules can be tested without a
network; msal itself is built lazily because constructing it already talks to the authority.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from avsteg.config.settings import ImapSettings
from avsteg.domain.errors import ConfigurationError, LoginRefusedError, TransientError

log = logging.getLogger(__name__)

AcquireFunction = Callable[[bool], Mapping[str, Any]]
"""``acquire(force)`` → an msal-style result: ``access_token``/``expires_in`` or ``error``."""


class TokenError(TransientError):
    """Raised when no access token can be obtained for now (authority unreachable, throttled)."""


class TokenRefused(LoginRefusedError):
    """Raised when Entra ID refuses the app itself (wrong or expired secret, unknown client or
    tenant): the Microsoft 365 form of a wrong password, permanent until a person fixes it."""


# Error codes of RFC 6749 §5.2 that no retry will change.
_REFUSED = {"invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope",
            "invalid_request"}


def xoauth2_string(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, before base64 (smtplib and imaplib encode it)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


class OAuthTokenProvider:
    """A cached access token, renewed ``refresh_margin`` seconds before it expires.

    Callable (``provider()`` → token) so it fits wherever a ``Callable[[], str]`` is wanted;
    ``invalidate()`` after a refused login makes the next call fetch a fresh token.
    """

    def __init__(
        self,
        acquire: AcquireFunction,
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        authority: str = "the token endpoint",
        client_id: str = "",
    ) -> None:
        self._acquire = acquire
        self._authority = authority  # for messages only
        self._client_id = client_id
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self._forced = False

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is not None and now < self._renew_at and not self._forced:
                return self._token
            force, self._forced = self._forced, False
            try:
                result = self._acquire(force)
            except TransientError:
                raise
            except Exception as exc:  # msal/requests errors: network, TLS, bad JSON
                raise TokenError(f"cannot obtain an access token: {exc}") from exc
            token = result.get("access_token")
            if not token:
                self._forced = force  # still owed a fresh token next time
                if result.get("error") in _REFUSED:
                    description = str(result.get("error_description") or "").strip()
                    raise TokenRefused("OAuth", self._authority, f"client {self._client_id}",
                                       f"{result.get('error')}: {description.splitlines()[0] if description else ''}")
                raise TokenError(
                    "access token refused: "
                    f"{result.get('error', 'unknown error')}: {result.get('error_description', '')}"
                )
            lifetime = float(result.get("expires_in") or 3600)
            # A token shorter-lived than the margin is still used; renew at half its life then.
            self._renew_at = now + max(lifetime - self._margin, lifetime / 2)
            self._token = str(token)
            log.debug("obtained an access token valid for %.0f s", lifetime)
            return self._token

    def invalidate(self) -> None:
        """The server refused the current token: fetch a new one, bypassing every cache."""
        with self._lock:
            self._token = None
            self._forced = True


def msal_acquire_function(
    tenant_id: str,
    client_id: str,
    client_secret: str,
    *,
    scope: str = "https://outlook.office365.com/.default",
    authority: str | None = None,
    http_client: Any = None,
) -> AcquireFunction:
    """``acquire(force)`` backed by msal's ConfidentialClientApplication (built on first use)."""
    app: Any = None
    authority_url = authority or f"https://login.microsoftonline.com/{tenant_id}"

    def acquire(force: bool) -> Mapping[str, Any]:
        nonlocal app
        if app is None:
            import msal  # imported here: msal is heavy and only needed with xoauth2

            kwargs: dict[str, Any] = {"http_client": http_client} if http_client else {}
            app = msal.ConfidentialClientApplication(
                client_id, client_credential=client_secret, authority=authority_url, **kwargs
            )
        if force:
            app.remove_tokens_for_client()  # msal would otherwise hand back its cached token
        result: Mapping[str, Any] = app.acquire_token_for_client(scopes=[scope])
        return result

    return acquire


def token_provider_from_settings(
    imap: ImapSettings, *, http_client: Any = None, refresh_margin: float = 300.0
) -> OAuthTokenProvider:
    """The Microsoft 365 token provider described by ``imap.tenant_id/client_id/client_secret``."""
    missing = [
        name
        for name in ("tenant_id", "client_id", "client_secret")
        if not getattr(imap, name)
    ]
    if missing:
        raise ConfigurationError(
            "imap.auth = xoauth2 needs " + ", ".join(f"imap.{name}" for name in missing)
        )
    assert imap.tenant_id and imap.client_id and imap.client_secret  # for the type checker
    acquire = msal_acquire_function(
        imap.tenant_id,
        imap.client_id,
        imap.client_secret,
        scope=imap.oauth_scope,
        authority=imap.authority,
        http_client=http_client,
    )
    return OAuthTokenProvider(
        acquire, refresh_margin=refresh_margin, client_id=imap.client_id,
        authority=imap.authority or f"https://login.microsoftonline.com/{imap.tenant_id}",
    )


