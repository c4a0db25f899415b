"""The web app's protections, checked over HTTP against a register built from real mail.

Sign-in required everywhere but /healthz and static files; CSRF on every POST; readers refused
on every action (the POST routes are enumerated from the app, so a new action cannot be
forgotten); cookies HttpOnly/SameSite=Lax and Secure over HTTPS (proxy trusted only when set);
a strict Content-Security-Policy; sign-in rate limited; no traceback ever reaches the browser.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from avsteg.bootstrap import build_web_app
from avsteg.web.app import starlette_app
from tests.web.conftest import csrf_of, signed_in
from tests.web.support import CASEWORKER, READER, Register, web_settings

pytestmark = pytest.mark.integration


def post_routes(register: Register) -> list[str]:
    """Every POST path of the app, with sample path parameters filled in."""
    app = starlette_app(build_web_app(register.settings, register.db))
    paths = []
    for route in app.routes:
        if isinstance(route, Route) and route.methods and "POST" in route.methods:
            path = re.sub(r"\{reference\}", "AVS-2000-0001", route.path)
            path = re.sub(r"\{[a-z_]+:int\}", "1", path)
            path = re.sub(r"\{item\}", "M1", path)
            path = re.sub(r"\{[a-z_]+\}", "x", path)
            paths.append(path)
    return paths


ACTION_PATHS_EXPECTED = {  # the spec's actions must be among the app's POST routes
    "/rapporter/AVS-2000-0001/dra-tillbaka", "/rapporter/AVS-2000-0001/angra-tillbakadragning",
    "/rapporter/AVS-2000-0001/ratta", "/rapporter/AVS-2000-0001/meddelanden/1/bearbeta-igen",
    "/att-hantera/M1/registrera", "/att-hantera/M1/lita-pa-domanen", "/att-hantera/M1/hanterad",
    "/att-hantera/M1/skicka-igen", "/att-hantera/M1/bearbeta-igen",
}
NOT_ACTIONS = {"/logga-in", "/logga-ut"}


def test_the_spec_actions_are_post_routes(register: Register) -> None:
    assert ACTION_PATHS_EXPECTED <= set(post_routes(register))


def test_nothing_but_healthz_and_static_without_signing_in(anonymous: TestClient,
                                                           register: Register) -> None:
    assert anonymous.get("/healthz").text == "ok"
    assert anonymous.get("/static/style.css").status_code == 200
    for path in ("/", "/registret", "/registret.xlsx", "/att-hantera", "/sammanstallning",
                 "/sammanstallning/namndrapport.docx", "/rapporter/AVS-2026-0001"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/logga-in"), path
    for path in post_routes(register):
        if path in NOT_ACTIONS:
            continue
        response = anonymous.post(path, data={}, follow_redirects=False)
        assert response.status_code in (303, 403), path
        assert "location" not in response.headers or \
            response.headers["location"].startswith("/logga-in")


def test_a_reader_sees_everything_and_is_refused_every_action(reader: TestClient,
                                                               register: Register) -> None:
    page = reader.get("/registret")
    assert page.status_code == 200
    ref = re.search(r"/rapporter/(AVS-\d{4}-\d{4})", page.text).group(1)  # type: ignore[union-attr]
    report = reader.get(f"/rapporter/{ref}")
    assert report.status_code == 200
    assert "Dra tillbaka" not in report.text and "Bearbeta igen" not in report.text
    token = csrf_of(page.text)
    real_ref = {"AVS-2000-0001": ref}
    checked = 0
    for path in post_routes(register):
        if path in NOT_ACTIONS:
            continue
        path = path.replace("AVS-2000-0001", real_ref["AVS-2000-0001"])
        response = reader.post(path, data={"csrf_token": token, "skal": "test", "falt": "x",
                                           "varde": "y"}, follow_redirects=False)
        assert response.status_code == 403, path
        assert "Åtkomst nekad" in response.text
        checked += 1
    assert checked >= len(ACTION_PATHS_EXPECTED)
    for path in (f"/rapporter/{ref}/dra-tillbaka", f"/rapporter/{ref}/ratta"):
        assert reader.get(path).status_code == 403
    assert reader.get(f"/rapporter/{ref}").text.count("återkallad") == \
        report.text.count("återkallad")  # nothing changed


def test_every_post_without_the_csrf_token_is_refused(caseworker: TestClient,
                                                      register: Register) -> None:
    for path in post_routes(register):
        for data in ({}, {"csrf_token": "forged"}):
            response = caseworker.post(path, data={**data, "skal": "x"}, follow_redirects=False)
            assert response.status_code == 403, (path, data)
    # still signed in: the refused logout did not log out
    assert caseworker.get("/registret").status_code == 200


def test_a_forged_withdraw_from_another_site_changes_nothing(caseworker: TestClient) -> None:
    ref = f"AVS-{register_year(caseworker)}-0001"
    response = caseworker.post(f"/rapporter/{ref}/dra-tillbaka", data={"skal": "forged"},
                               headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert response.status_code == 403
    assert "återkallad" not in caseworker.get(f"/rapporter/{ref}").text.split("<h1>")[1][:200]


def register_year(client: TestClient) -> int:
    found = re.search(r"/rapporter/AVS-(\d{4})-0001", client.get("/registret?sort=referens").text)
    assert found
    return int(found.group(1))


def test_security_headers_and_cookie_flags(anonymous: TestClient) -> None:
    response = anonymous.get("/logga-in")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP, no proxy trusted
    assert "<script>" not in response.text and " style=" not in response.text


def test_secure_cookie_only_when_the_proxy_is_trusted(register: Register) -> None:
    untrusted = TestClient(build_web_app(register.settings, register.db))
    cookie = untrusted.get("/logga-in", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "secure" not in cookie.lower()
    settings = web_settings(register.settings.database.url, trust_proxy_headers=True)
    trusted = TestClient(build_web_app(settings, register.db))
    cookie = trusted.get("/logga-in", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "secure" in cookie.lower()
    https = TestClient(build_web_app(register.settings, register.db), base_url="https://testserver")
    assert "secure" in https.get("/logga-in").headers["set-cookie"].lower()


def test_sign_in_is_rate_limited_per_name_and_address(register: Register) -> None:
    settings = web_settings(register.settings.database.url, login_attempts=3)
    client = TestClient(build_web_app(settings, register.db))
    token = csrf_of(client.get("/logga-in").text)
    statuses = []
    for _ in range(4):
        response = client.post("/logga-in", data={"csrf_token": token, "anvandarnamn": CASEWORKER[0],
                                                  "losenord": "fel"})
        statuses.append(response.status_code)
    assert statuses == [400, 400, 400, 429]
    assert "Fel användarnamn eller lösenord" in client.post(
        "/logga-in", data={"csrf_token": token, "anvandarnamn": READER[0], "losenord": "fel"}).text
    # the right password does not get through while blocked either
    response = client.post("/logga-in", data={"csrf_token": token, "anvandarnamn": CASEWORKER[0],
                                              "losenord": CASEWORKER[1]}, follow_redirects=False)
    assert response.status_code == 429 and "För många" in response.text


def test_no_open_redirect_after_sign_in(register: Register) -> None:
    client = TestClient(build_web_app(register.settings, register.db))
    token = csrf_of(client.get("/logga-in").text)
    response = client.post("/logga-in", data={"csrf_token": token, "anvandarnamn": READER[0],
                                              "losenord": READER[1], "nasta": "//evil.example/x"},
                           follow_redirects=False)
    assert response.headers["location"] == "/registret"


def test_errors_are_swedish_pages_without_a_traceback(caseworker: TestClient,
                                                      register: Register) -> None:
    missing = caseworker.get("/rapporter/AVS-1999-9999")
    assert missing.status_code == 404 and "Sidan finns inte" in missing.text
    app = build_web_app(register.settings, register.db)
    starlette_app(app).add_route("/trasig", _broken)
    client = signed_in(TestClient(app, raise_server_exceptions=False), *CASEWORKER)
    response = client.get("/trasig")
    assert response.status_code == 500
    assert "Något gick fel" in response.text
    assert "Traceback" not in response.text and "hemlig detalj" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


def _broken(request):  # a route that fails, as a bug would
    raise RuntimeError("hemlig detalj i ett stackspår")


def test_signing_out_ends_the_session(caseworker: TestClient) -> None:
    token = csrf_of(caseworker.get("/registret").text)
    assert caseworker.post("/logga-ut", data={"csrf_token": token},
                           follow_redirects=False).status_code == 303
    assert caseworker.get("/registret", follow_redirects=False).status_code == 303


def test_a_session_ends_session_hours_after_sign_in(register: Register) -> None:
    settings = web_settings(register.settings.database.url, session_hours=1)
    app = build_web_app(settings, register.db)
    client = signed_in(TestClient(app), *READER)
    assert client.get("/registret", follow_redirects=False).status_code == 200
    # The server's clock 61 minutes on: the session's row says it is over, whatever the cookie.
    store = starlette_app(app).state.web.sessions
    store.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=61)
    response = client.get("/registret", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/logga-in")
