"""Sessions end for real: on the server, on SQLite and on PostgreSQL.

The app is the real one (``build_web_app``) on a real database, driven over HTTP. A cookie copied
before "Logga ut" is refused afterwards; removing or changing an account signs its browsers out;
the idle and absolute limits are decided from the server's row (the clock of the app's session
store is moved, not the cookie); a cookie forged with the app's own key is worth nothing without
a row; the row holds the id's SHA-256, never the id; last seen is written at most once a minute;
old rows are pruned at sign-in.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select
from starlette.testclient import TestClient

from avsteg.bootstrap import build_web_app, open_database
from avsteg.config.settings import Settings
from avsteg.storage import Database, WebSessionRow
from avsteg.web.accounts import add_account, remove_account
from avsteg.web.app import starlette_app
from avsteg.web.sessions import SessionStore
from tests.web.conftest import csrf_of, signed_in
from tests.web.support import web_settings

pytestmark = pytest.mark.integration
ANNA = ("Anna Handläggare", "rätt-lösenord-1")
LARS = ("Lars Läsare", "rätt-lösenord-2")


@dataclass
class Site:
    settings: Settings
    db: Database
    app: object

    @property
    def store(self) -> SessionStore:
        return starlette_app(self.app).state.web.sessions  # type: ignore[arg-type, no-any-return]

    def client(self, cookie: str | None = None) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False)  # type: ignore[arg-type]
        if cookie is not None:
            client.cookies.set("avsteg_session", cookie)
        return client

    def rows(self) -> list[WebSessionRow]:
        with self.db.unit_of_work(readonly=True) as s:
            return list(s.scalars(select(WebSessionRow).order_by(WebSessionRow.created_at)))


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    settings = web_settings(db_url, session_hours=1, session_idle_minutes=20)
    db = open_database(settings)
    add_account(db, ANNA[0], "handläggare", ANNA[1])
    add_account(db, LARS[0], "läsare", LARS[1])
    try:
        yield Site(settings, db, build_web_app(settings, db))
    finally:
        db.dispose()


def cookie_data(site: Site, client: TestClient) -> dict:
    signer = TimestampSigner(str(site.settings.web.secret_key))
    return json.loads(base64.b64decode(signer.unsign(client.cookies["avsteg_session"].encode())))


def refused(client: TestClient) -> bool:
    response = client.get("/registret", follow_redirects=False)
    return response.status_code == 303 and response.headers["location"].startswith("/logga-in")


def test_a_cookie_copied_before_signing_out_is_refused_after(site: Site) -> None:
    anna = signed_in(site.client(), *ANNA)
    page = anna.get("/registret")
    assert page.status_code == 200
    copied = anna.cookies["avsteg_session"]
    assert not refused(site.client(copied))  # the copy works while the session lives
    assert anna.post("/logga-ut", data={"csrf_token": csrf_of(page.text)},
                     follow_redirects=False).status_code == 303
    thief = site.client(copied)
    assert refused(thief)
    # Nor can the copy act: its CSRF token is right, its session is over.
    response = thief.post("/logga-ut", data={"csrf_token": csrf_of(page.text)},
                          follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/logga-in"
    [row] = site.rows()
    assert row.ended_at is not None and row.ended_reason == "signed-out"


def test_removing_an_account_signs_its_browsers_out(site: Site) -> None:
    first, second = signed_in(site.client(), *ANNA), signed_in(site.client(), *ANNA)
    lars = signed_in(site.client(), *LARS)
    assert not refused(first) and not refused(second)
    assert remove_account(site.db, ANNA[0])  # what `avsteg user remove` does
    assert refused(first) and refused(second)
    assert not refused(lars)  # someone else's session goes on
    ended = {r.ended_reason for r in site.rows() if r.name == ANNA[0]}
    assert ended == {"account-removed"}


def test_a_new_password_or_role_signs_the_account_out(site: Site) -> None:
    lars = signed_in(site.client(), *LARS)
    assert add_account(site.db, LARS[0], "handläggare", "ett-nytt-lösenord") is False
    assert refused(lars)
    again = signed_in(site.client(), LARS[0], "ett-nytt-lösenord")
    assert "Lars Läsare (handläggare)" in again.get("/registret").text


def test_idle_and_absolute_limits_are_kept_on_the_server(site: Site) -> None:
    start = dt.datetime.now(dt.UTC)
    now = [start]
    site.store.clock = lambda: now[0]
    anna = signed_in(site.client(), *ANNA)
    now[0] = start + dt.timedelta(minutes=19)
    assert not refused(anna)  # 19 idle minutes: still on (limit 20), last seen now
    now[0] = start + dt.timedelta(minutes=38)
    assert not refused(anna)
    now[0] = start + dt.timedelta(minutes=57)
    assert not refused(anna)  # busy all along: the absolute limit (1 hour) is not reached
    now[0] = start + dt.timedelta(minutes=61)
    assert refused(anna)
    assert site.rows()[0].ended_reason == "expired"

    lars = signed_in(site.client(), *LARS)
    now[0] = start + dt.timedelta(minutes=61 + 21)
    assert refused(lars)  # idle too long


def test_last_seen_is_written_at_most_once_a_minute(site: Site) -> None:
    start = dt.datetime.now(dt.UTC)
    now = [start]
    site.store.clock = lambda: now[0]
    anna = signed_in(site.client(), *ANNA)
    for seconds in (10, 30, 59):
        now[0] = start + dt.timedelta(seconds=seconds)
        assert not refused(anna)
    assert site.rows()[0].last_seen_at == site.rows()[0].created_at
    now[0] = start + dt.timedelta(seconds=61)
    assert not refused(anna)
    assert site.rows()[0].last_seen_at - site.rows()[0].created_at == dt.timedelta(seconds=61)


def test_the_cookie_holds_only_an_id_whose_hash_is_stored(site: Site) -> None:
    anna = signed_in(site.client(), *ANNA)
    data = cookie_data(site, anna)
    assert set(data) == {"sid", "csrf"}
    [row] = site.rows()
    assert row.id_hash == hashlib.sha256(data["sid"].encode()).hexdigest() != data["sid"]
    assert (row.name, row.role, row.via, row.ended_at) == (ANNA[0], "handläggare", "local", None)


def test_a_cookie_forged_with_the_apps_key_is_worth_nothing(site: Site) -> None:
    """Who is signed in is no longer in the cookie: even the signing key makes no session."""
    signer = TimestampSigner(str(site.settings.web.secret_key))
    for data in ({"user": {"name": ANNA[0], "role": "handläggare", "via": "local",
                           "since": int(time.time())}, "csrf": "x"},
                 {"sid": "made-up", "csrf": "x"}):
        forged = signer.sign(base64.b64encode(json.dumps(data).encode())).decode()
        assert refused(site.client(forged))


def test_signing_in_again_ends_the_browsers_old_session_and_prunes_old_rows(site: Site) -> None:
    start = dt.datetime.now(dt.UTC)
    now = [start - dt.timedelta(days=9)]
    site.store.clock = lambda: now[0]
    old = signed_in(site.client(), *LARS)
    old.post("/logga-ut", data={"csrf_token": csrf_of(old.get("/registret").text)})
    now[0] = start
    anna = signed_in(site.client(), *ANNA)
    first = cookie_data(site, anna)["sid"]
    signed_in(anna, *ANNA)  # the same browser signs in again
    assert cookie_data(site, anna)["sid"] != first
    assert refused(site.client(None)) and not refused(anna)
    rows = site.rows()
    assert [r.name for r in rows] == [ANNA[0], ANNA[0]]  # Lars's ended row (9 days) is gone
    assert rows[0].ended_reason == "replaced" and rows[1].ended_at is None
