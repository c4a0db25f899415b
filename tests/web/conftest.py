"""Fixtures of the web app's tests: a register built through the pipeline, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from avsteg.bootstrap import build_web_app
from tests.web.support import CASEWORKER, READER, Register, build_register

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
