"""OAuthTokenProvider's refresh rules, the XOAUTH2 string, and the msal wiring.

msal only accepts an https authority, so it cannot be pointed at a local http server; its own
``http_client`` seam is used instead: a small in-memory transport that answers the two requests
the client-credentials flow makes (tenant discovery, token) and records them.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from avsteg.config.settings import ImapSettings
from avsteg.domain.errors import ConfigurationError, TransientError
from avsteg.ingest.oauth import (
    OAuthTokenProvider,
    TokenError,
    TokenRefused,
    token_provider_from_settings,
    xoauth2_string,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Authority:
    def __init__(self, *results: dict[str, Any] | Exception) -> None:
        self.results = list(results)
        self.calls: list[bool] = []

    def __call__(self, force: bool) -> dict[str, Any]:
        self.calls.append(force)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def token(value: str, expires_in: int = 3600) -> dict[str, Any]:
    return {"access_token": value, "expires_in": expires_in, "token_type": "Bearer"}


def test_xoauth2_string_matches_the_protocol():
    # https://developers.google.com/gmail/imap/xoauth2-protocol, same format at Microsoft
    assert xoauth2_string("someuser@example.com", "ya29.vF9dft4qmT") == (
        "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmT\x01\x01"
    )


def test_the_token_is_cached_until_five_minutes_before_expiry():
    clock, authority = Clock(), Authority(token("one"), token("two"))
    provider = OAuthTokenProvider(authority, clock=clock)
    assert provider() == "one"
    clock.now += 3600 - 300 - 1
    assert provider() == "one"
    assert authority.calls == [False]
    clock.now += 2
    assert provider() == "two"
    assert authority.calls == [False, False]


def test_a_short_lived_token_is_renewed_at_half_its_life():
    clock, authority = Clock(), Authority(token("short", expires_in=120), token("next"))
    provider = OAuthTokenProvider(authority, clock=clock)
    assert provider() == "short"
    clock.now += 59
    assert provider() == "short"
    clock.now += 2
    assert provider() == "next"


def test_invalidate_forces_a_fresh_token():
    clock, authority = Clock(), Authority(token("refused"), token("fresh"))
    provider = OAuthTokenProvider(authority, clock=clock)
    assert provider() == "refused"
    provider.invalidate()
    assert provider() == "fresh"
    assert authority.calls == [False, True]


def test_an_error_answer_is_transient_and_the_force_is_kept():
    busy = {"error": "temporarily_unavailable", "error_description": "AADSTS50196: try later"}
    authority = Authority(token("old"), busy, token("new"))
    provider = OAuthTokenProvider(authority, clock=Clock())
    provider()
    provider.invalidate()
    with pytest.raises(TokenError, match="AADSTS50196") as info:
        provider()
    assert isinstance(info.value, TransientError)
    assert provider() == "new"
    assert authority.calls == [False, True, True]


def test_a_refused_secret_is_a_refused_login_not_a_temporary_failure():
    refused = {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret\nTrace"}
    provider = OAuthTokenProvider(Authority(refused), clock=Clock(),
                                  authority="https://login.example/t", client_id="app-1")
    with pytest.raises(TokenRefused) as info:
        provider()
    assert not isinstance(info.value, TransientError)
    assert str(info.value) == ("OAuth login refused by https://login.example/t for client app-1: "
                               "invalid_client: AADSTS7000215: Invalid secret")


def test_a_network_failure_becomes_a_token_error():
    provider = OAuthTokenProvider(Authority(ConnectionError("no route to host")), clock=Clock())
    with pytest.raises(TokenError, match="no route to host"):
        provider()


def test_missing_settings_are_named():
    with pytest.raises(ConfigurationError, match="imap.client_id, imap.client_secret"):
        token_provider_from_settings(ImapSettings(auth="xoauth2", tenant_id="t"))


# --------------------------------------------------------------------------- msal, in memory


class Response:
    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code
        self.text = json.dumps(body)
        self.headers: dict[str, str] = {"Content-Type": "application/json"}

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


class EntraInMemory:
    """Answers msal like login.microsoftonline.com would, for one tenant; records requests."""

    def __init__(self, tenant: str) -> None:
        self.base = f"https://login.microsoftonline.com/{tenant}"
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.issued = 0

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> Response:
        self.requests.append(("GET", url, dict(params or {})))
        if url.endswith("/.well-known/openid-configuration"):
            return Response(
                200,
                {
                    "authorization_endpoint": f"{self.base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{self.base}/oauth2/v2.0/token",
                    "issuer": f"{self.base}/v2.0",
                },
            )
        if "discovery/instance" in url:
            return Response(
                200,
                {
                    "tenant_discovery_endpoint": f"{self.base}/v2.0/.well-known/openid-configuration",
                    "metadata": [],
                },
            )
        return Response(404, {"error": "not_found"})

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> Response:
        form = parse_qs(data) if isinstance(data, str) else dict(data or {})
        form = {k: v[0] if isinstance(v, list) else v for k, v in form.items()}
        self.requests.append(("POST", url, form))
        if url != f"{self.base}/oauth2/v2.0/token":
            return Response(404, {"error": "not_found"})
        if form.get("client_secret") != "hemlig":
            return Response(401, {"error": "invalid_client", "error_description": "bad secret"})
        self.issued += 1
        return Response(
            200,
            {"access_token": f"token-{self.issued}", "expires_in": 3599, "token_type": "Bearer"},
        )

    def token_requests(self) -> list[dict[str, Any]]:
        return [form for method, _url, form in self.requests if method == "POST"]


def imap_settings(secret: str = "hemlig") -> ImapSettings:
    return ImapSettings(
        auth="xoauth2", tenant_id="contoso-tenant", client_id="app-123", client_secret=secret
    )


def test_msal_client_credentials_request_cache_and_forced_refresh():
    entra = EntraInMemory("contoso-tenant")
    provider = token_provider_from_settings(imap_settings(), http_client=entra)
    assert entra.requests == []  # nothing happens before the first token is needed

    assert provider() == "token-1"
    [form] = entra.token_requests()
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == "app-123"
    assert form["scope"] == "https://outlook.office365.com/.default"

    assert provider() == "token-1"  # cached by us
    provider.invalidate()
    assert provider() == "token-2"  # msal's own cache was bypassed too
    assert len(entra.token_requests()) == 2


def test_msal_refusal_is_a_refused_login():
    entra = EntraInMemory("contoso-tenant")
    provider = token_provider_from_settings(imap_settings("wrong"), http_client=entra)
    with pytest.raises(TokenRefused, match="invalid_client"):
        provider()
