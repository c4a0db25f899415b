"""Fixtures of the web app's tests: a register built through the pipeline, signed-in clients,
and Debian's chromium for the tests in a real browser (test_browser.py, test_oidc.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright
from starlette.testclient import TestClient

from avsteg.bootstrap import build_web_app
from tests.web.support import (
    CASEWORKER,
    CHROMIUM_ARGS,
    READER,
    Register,
    build_register,
    chromium_path,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Register]:
    base: Path = tmp_path_factory.mktemp("web")
    reg = build_register(f"sqlite:///{base / 'avsteg.sqlite'}", base / "svar")
    try:
        yield reg
    finally:
        reg.db.dispose()


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "every page with a form carries the session's CSRF token"
    return found.group(1)


def signed_in(client: TestClient, name: str, password: str) -> TestClient:
    token = csrf_of(client.get("/logga-in").text)
    response = client.post("/logga-in", data={"csrf_token": token, "anvandarnamn": name,
                                              "losenord": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def anonymous(register: Register) -> TestClient:
    return TestClient(build_web_app(register.settings, register.db), raise_server_exceptions=False)


@pytest.fixture
def caseworker(register: Register) -> TestClient:
    client = TestClient(build_web_app(register.settings, register.db),
                        raise_server_exceptions=False)
    return signed_in(client, *CASEWORKER)


@pytest.fixture
def reader(register: Register) -> TestClient:
    client = TestClient(build_web_app(register.settings, register.db),
                        raise_server_exceptions=False)
    return signed_in(client, *READER)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium (never ``playwright install``), one per test module."""
    executable = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def browser_context(browser: Browser, base_url: str, **kw: Any) -> BrowserContext:
    """A fresh context (cookies, scripts on or off) speaking Swedish, with a patient timeout
    for a loaded machine; the caller closes it."""
    context = browser.new_context(base_url=base_url, locale="sv-SE", **kw)
    context.set_default_timeout(15_000)
    return context
