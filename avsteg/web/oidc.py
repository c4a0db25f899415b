"""Signing in with Microsoft Entra ID: OpenID Connect through Authlib, ending in the sign-in seam.

The browser goes to ``/logga-in/entra``, which sends it to the provider with an
authorization-code request (``state``, ``nonce`` and a PKCE ``S256`` challenge kept in the signed
session). The provider sends it back to ``/auth/callback`` (the redirect URI of the app
registration), where Authlib checks the state, exchanges the code (with the PKCE verifier and the
client secret) and validates the ID token against the provider's JWKS: signature, issuer,
audience, expiry and nonce. We write no token validation of our own; we only read the validated
claims — the app roles in ``roles`` decide ``handläggare`` or ``läsare``, ``name`` (else
``preferred_username``) is who it was — and hand the user to :func:`avsteg.web.auth.sign_in`.

Authlib keeps the state in the session without looking at its age; we refuse one older than
``web.oidc_state_seconds`` so a sign-in page left open for a day cannot be completed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteIntegration
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from avsteg.config.settings import WebSettings
from avsteg.web.auth import CASEWORKER, READER, User, current_user, sign_in
from avsteg.web.context import render
from avsteg.web.login import client_address

log = logging.getLogger(__name__)

NAME = "entra"  # Authlib's client name: the session keys are "_state_entra_<state>"
LABEL = "Logga in med Microsoft"
START_PATH = "/logga-in/entra"
CALLBACK_PATH = "/auth/callback"

REFUSED_NO_ROLE = (
    "Du saknar behörighet",
    "Du är inloggad hos Microsoft men har ingen roll i Avstegsregistret. Be den som förvaltar "
    "tjänsten att ge dig rollen handläggare eller läsare.",
)
REFUSED_FAILED = (
    "Inloggningen kunde inte slutföras",
    "Inloggningen med Microsoft kunde inte kontrolleras, eller tog för lång tid. Börja om från "
    "inloggningssidan.",
)
REFUSED_UNREACHABLE = (
    "Inloggningen med Microsoft svarar inte",
    "Det gick inte att nå Microsofts inloggning just nu. Försök igen om en stund, eller logga in "
    "med ett lokalt konto om du har ett.",
)


def role_of(claims: dict[str, Any], settings: WebSettings) -> str | None:
    """``handläggare`` wins over ``läsare`` when both roles are assigned; neither: None."""
    roles = claims.get("roles") or []
    if isinstance(roles, str):
        roles = [roles]
    if settings.oidc_role_handlaggare in roles:
        return CASEWORKER
    if settings.oidc_role_lasare in roles:
        return READER
    return None


def name_of(claims: dict[str, Any]) -> str:
    for key in ("name", "preferred_username", "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "okänd"


class EntraSignIn:
    """The Entra ID routes of one app, with its own Authlib registry (nothing global)."""

    def __init__(self, settings: WebSettings) -> None:
        if not settings.oidc_enabled:
            raise ValueError("web.oidc_client_id and web.oidc_tenant_id (or oidc_metadata_url) "
                             "are needed for Entra ID sign-in")
        self.settings = settings
        integration = type("StateIntegration", (StarletteIntegration,),
                           {"expires_in": settings.oidc_state_seconds})
        self.oauth = OAuth()
        self.oauth.framework_integration_cls = integration
        self.client: Any = self.oauth.register(
            name=NAME,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=settings.oidc_metadata,
            client_kwargs={"scope": "openid profile", "code_challenge_method": "S256"},
        )
        self.label = LABEL

    def routes(self) -> list[BaseRoute]:
        return [
            Route(START_PATH, self.start, methods=["GET"], name="oidc_start"),
            Route(CALLBACK_PATH, self.callback, methods=["GET"], name="oidc_callback"),
        ]

    def redirect_uri(self, request: Request) -> str:
        return self.settings.oidc_redirect_uri or str(request.url_for("oidc_callback"))

    async def start(self, request: Request) -> Response:
        if current_user(request) is not None:
            return RedirectResponse("/registret", 303)
        try:
            response: Response = await self.client.authorize_redirect(
                request, self.redirect_uri(request))
        except (httpx.HTTPError, OAuthError, ValueError) as exc:
            log.error("Entra ID sign-in could not start: %s", exc)
            return _refused(request, REFUSED_UNREACHABLE, 503)
        return response

    async def callback(self, request: Request) -> Response:
        address = client_address(request)
        state = request.query_params.get("state", "")
        kept = request.session.get(f"_state_{NAME}_{state}")
        if isinstance(kept, dict) and float(kept.get("exp") or 0) < time.time():
            request.session.pop(f"_state_{NAME}_{state}", None)
            log.warning("Entra ID sign-in refused from %s: the state has expired", address)
            return _refused(request, REFUSED_FAILED, 400)
        try:
            token = await self.client.authorize_access_token(request)
        except OAuthError as exc:
            log.warning("Entra ID sign-in refused from %s: %s %s", address, exc.error,
                        exc.description or "")
            return _refused(request, REFUSED_FAILED, 400)
        except httpx.HTTPError as exc:
            log.error("Entra ID sign-in failed from %s: provider unreachable: %s", address, exc)
            return _refused(request, REFUSED_UNREACHABLE, 503)
        claims = dict(token.get("userinfo") or {})
        if not claims:  # no ID token came back: nothing validated, nobody signed in
            log.warning("Entra ID sign-in refused from %s: no ID token", address)
            return _refused(request, REFUSED_FAILED, 400)
        name = name_of(claims)
        role = role_of(claims, self.settings)
        if role is None:
            log.warning("Entra ID sign-in refused: %s (%s) has no app role of avsteg (roles %s)",
                        name, claims.get("preferred_username"), claims.get("roles"))
            request.session.clear()
            return _refused(request, REFUSED_NO_ROLE, 403)
        await sign_in(request, User(name, role, "oidc"))
        log.info("signed in: %s (%s) via Entra ID as %s from %s", name, role,
                 claims.get("preferred_username") or claims.get("sub"), address)
        return RedirectResponse("/registret", 303)


def _refused(request: Request, texts: tuple[str, str], status: int) -> Response:
    title, text = texts
    return render(request, "signin_refused.html", status_code=status, title=title, text=text)


def entra_sign_in(settings: WebSettings) -> EntraSignIn | None:
    """The Entra ID sign-in when the settings configure it, else None (local accounts only)."""
    return EntraSignIn(settings) if settings.oidc_enabled else None
