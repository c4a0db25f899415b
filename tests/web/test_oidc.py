"""Sign-in with Entra ID (OpenID Connect) against a real provider, in a real browser.

panva/oidc-provider runs under node on a loopback port, set up as an Entra ID app registration
(confidential client, PKCE required, app roles in the ID token); Debian's chromium goes through
the whole flow: the app's sign-in page → the provider's form → back to /auth/callback, where
Authlib checks state, nonce and the ID token against the provider's JWKS.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from avsteg.config.settings import Settings
from tests.support.net import free_port
from tests.web.conftest import browser_context
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, ROLE_CASEWORKER, ROLE_READER, USERS
from tests.web.oidc_provider import oidc_provider as start_provider
from tests.web.support import LiveServer, Register

pytestmark = pytest.mark.integration


@dataclasses.dataclass
class Servers:
    app: LiveServer  # Entra ID sign-in with the usual ten minutes to sign in at the provider
    hasty: LiveServer  # the same, but a state older than one second is refused


def with_oidc(register: Register, metadata_url: str, **web: object) -> Register:
    oidc = {"oidc_metadata_url": metadata_url, "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET, "oidc_role_handlaggare": ROLE_CASEWORKER,
            "oidc_role_lasare": ROLE_READER, **web}
    settings: Settings = register.settings.model_copy(
        update={"web": register.settings.web.model_copy(update=oidc)})
    assert settings.web.oidc_enabled
    return dataclasses.replace(register, settings=settings)


@pytest.fixture(scope="module")
def servers(register: Register, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    provider_port = free_port()
    metadata = f"http://127.0.0.1:{provider_port}/.well-known/openid-configuration"
    app = LiveServer(with_oidc(register, metadata))
    hasty = LiveServer(with_oidc(register, metadata, oidc_state_seconds=1))
    callbacks = [f"{s.url}/auth/callback" for s in (app, hasty)]
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with start_provider(provider_port, callbacks, log), app, hasty:
        yield Servers(app, hasty)


@pytest.fixture
def context(browser: Browser, servers: Servers) -> Iterator[BrowserContext]:
    ctx = browser_context(browser, servers.app.url)
    yield ctx
    ctx.close()


def at_provider(page: Page, user: str, start: str = "/logga-in") -> None:
    """From our sign-in page to the provider's form, and sign in there as ``user``."""
    page.goto(start)
    page.get_by_role("link", name="Logga in med Microsoft").click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/interaction/"))
    page.locator("input[name=login]").fill(user)
    page.locator("input[name=password]").fill("vad-som-helst")


def submit_at_provider(page: Page) -> None:
    page.locator("button[type=submit]").click()


def report_link(page: Page, organisation: str) -> str:
    page.goto("/registret?sort=referens&ordning=stigande")
    row = page.get_by_role("row").filter(has_text=organisation).first
    return row.get_by_role("link").first.inner_text()


def test_the_sign_in_page_offers_both_ways(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/registret")
    expect(page).to_have_url(re.compile(r"/logga-in"))
    expect(page.get_by_role("link", name="Logga in med Microsoft")).to_be_visible()
    expect(page.get_by_label("Användarnamn")).to_be_visible()


def test_a_caseworker_signs_in_withdraws_and_signs_out(
        context: BrowserContext, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="avsteg")
    page = context.new_page()
    at_provider(page, "anna")
    submit_at_provider(page)
    expect(page.get_by_role("heading", name="Registret", level=1)).to_be_visible()
    expect(page.locator("header .who")).to_contain_text("Anna Entra (handläggare)")
    ref = report_link(page, "Kretslopp och vatten")
    page.goto(f"/rapporter/{ref}")
    page.get_by_role("button", name="Dra tillbaka").click()
    page.get_by_label("Skäl").fill("Inskickad två gånger")
    page.get_by_role("button", name="Dra tillbaka rapporten").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("återkallad")
    history = page.locator("table").last
    expect(history).to_contain_text("Anna Entra")
    expect(history).to_contain_text("Inskickad två gånger")
    page.get_by_role("button", name="Ångra tillbakadragningen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("aktuell")

    page.get_by_role("button", name="Logga ut").click()
    expect(page).to_have_url(re.compile(r"/logga-in$"))
    page.goto("/registret")
    expect(page).to_have_url(re.compile(r"/logga-in\?"))
    logged = caplog.text
    assert "signed in: Anna Entra (handläggare) via Entra ID as anna@example.test" in logged
    assert "signed out: Anna Entra (handläggare, via oidc)" in logged


def test_a_reader_reads_but_every_action_is_refused(context: BrowserContext) -> None:
    page = context.new_page()
    at_provider(page, "lars")
    submit_at_provider(page)
    expect(page.locator("header .who")).to_contain_text("Lars Entra (läsare)")
    ref = report_link(page, "Trafikkontoret")
    page.goto(f"/rapporter/{ref}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(ref)
    expect(page.get_by_role("button", name="Dra tillbaka")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    for action, form in ((f"/rapporter/{ref}/dra-tillbaka", {"skal": "Läsaren försöker"}),
                         (f"/rapporter/{ref}/angra-tillbakadragning", {})):
        response = page.request.post(action, form={"csrf_token": token, **form})
        assert response.status == 403, action
        assert "Åtkomst nekad" in response.text()
    page.goto(f"/rapporter/{ref}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("aktuell")


def test_a_user_without_an_app_role_is_refused(
        context: BrowserContext, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="avsteg")
    assert not {ROLE_CASEWORKER, ROLE_READER} & set(USERS["nils"]["roles"])
    page = context.new_page()
    at_provider(page, "nils")
    with page.expect_response(re.compile(r"/auth/callback\?")) as answer:
        submit_at_provider(page)
    assert answer.value.status == 403
    expect(page.get_by_role("heading", name="Du saknar behörighet")).to_be_visible()
    expect(page.locator("main")).to_contain_text("handläggare eller läsare")
    page.goto("/registret")
    expect(page).to_have_url(re.compile(r"/logga-in\?"))
    assert "has no app role of avsteg" in caplog.text
    assert "signed in: Nils" not in caplog.text


def provider_answer(page: Page, user: str) -> str:
    """Sign in at the provider's form outside the browser's navigation and return the URL it
    sends the browser back to (``/auth/callback?code=…&state=…``), without following it.

    ``page.request`` shares the browser context's cookies (our session with the state, the
    provider's interaction cookie), so this is the browser's own flow, held before the last hop.
    """
    at_provider(page, user)
    form = page.locator("form").first
    url = urljoin(page.url, form.get_attribute("action") or "")
    response = page.request.post(url, form={"prompt": "login", "login": user,
                                            "password": "vad-som-helst"}, max_redirects=0)
    for _ in range(10):
        location = urljoin(response.url, response.headers.get("location", ""))
        assert response.status in (302, 303), (response.status, response.text()[:500])
        if "/auth/callback?" in location:
            return location
        response = page.request.get(location, max_redirects=0)
    raise AssertionError("the provider never sent the browser back to /auth/callback")


def test_a_tampered_state_is_refused(context: BrowserContext) -> None:
    page = context.new_page()
    genuine = provider_answer(page, "anna")
    assert "state=" in genuine and "code=" in genuine
    forged = re.sub(r"state=[^&]+", "state=forged-by-someone", genuine)
    response = page.goto(forged)
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", name="Inloggningen kunde inte slutföras")).to_be_visible()
    page.goto("/registret")
    expect(page).to_have_url(re.compile(r"/logga-in\?"))
    # The untouched answer still signs in: the refusal was the state's doing. Used once only.
    page.goto(genuine)
    expect(page.locator("header .who")).to_contain_text("Anna Entra (handläggare)")
    page.context.clear_cookies()
    response = page.goto(genuine)
    assert response is not None and response.status == 400


def test_a_state_older_than_allowed_is_refused(
        browser: Browser, servers: Servers, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="avsteg")
    ctx = browser_context(browser, servers.hasty.url)
    page = ctx.new_page()
    at_provider(page, "anna")
    page.wait_for_timeout(1500)  # the person dawdles at the provider
    with page.expect_response(re.compile(r"/auth/callback\?")) as answer:
        submit_at_provider(page)
    assert answer.value.status == 400
    expect(page.get_by_role("heading", name="Inloggningen kunde inte slutföras")).to_be_visible()
    page.goto("/registret")
    expect(page).to_have_url(re.compile(r"/logga-in\?"))
    assert "the state has expired" in caplog.text
    ctx.close()

