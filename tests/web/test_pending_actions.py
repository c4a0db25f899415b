"""Att hantera's other actions over HTTP: trust a domain, mark handled with a note, send again.

Each on a fresh register built through the pipeline; each act must leave the list and land in
the history with the person's name.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from avsteg.bootstrap import build_web_app
from avsteg.ingest.ports import PermanentDeliveryError
from avsteg.services.delivery import deliver_due
from avsteg.services.pending import pending_items
from avsteg.storage import history_of_message
from tests.web.conftest import csrf_of, signed_in
from tests.web.support import CASEWORKER, OUTSIDER, Register, build_register

pytestmark = pytest.mark.integration


class RefusingOutbox:
    """A mail server that answers 550 to every recipient (the Outbox port)."""

    def deliver(self, message: EmailMessage) -> Path | None:
        raise PermanentDeliveryError(550, "5.1.1 mailbox unavailable")


@pytest.fixture
def fresh(tmp_path: Path):
    register = build_register(f"sqlite:///{tmp_path / 'p.sqlite'}", tmp_path / "svar")
    client = signed_in(TestClient(build_web_app(register.settings, register.db),
                                  raise_server_exceptions=False), *CASEWORKER)
    yield register, client
    register.db.dispose()


def _item(register: Register, kind: str):
    items = [i for i in pending_items(register.db) if i.kind == kind]
    assert items, f"no {kind} item waits"
    return items[0]


def test_trust_the_domain_registers_its_waiting_report(fresh) -> None:
    register, client = fresh
    item = _item(register, "unknown-domain")
    page = client.get("/att-hantera")
    response = client.post(f"/att-hantera/{item.id}/lita-pa-domanen",
                           data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 200
    assert "byggbolaget.example är betrodd" in response.text
    ref = re.search(r"registrerades: (AVS-\d{4}-\d{4})", response.text)
    assert ref and OUTSIDER not in response.text.split("</h1>", 1)[1].split("<footer")[0]
    story = client.get(f"/rapporter/{ref.group(1)}").text
    assert "Registrerade trots okänd avsändardomän" in story and CASEWORKER[0] in story
    assert not [i for i in pending_items(register.db) if i.kind == "unknown-domain"]


def test_mark_handled_needs_a_note(fresh) -> None:
    register, client = fresh
    item = _item(register, "unknown-domain")
    token = csrf_of(client.get("/att-hantera").text)
    refused = client.post(f"/att-hantera/{item.id}/hanterad", data={"csrf_token": token})
    assert "Skriv en anteckning" in refused.text
    assert [i.id for i in pending_items(register.db)] == [item.id]
    done = client.post(f"/att-hantera/{item.id}/hanterad",
                       data={"csrf_token": token, "anteckning": "Ringde Kalle; ingen rapport"})
    assert "Markerad som hanterad" in done.text and "Inget väntar" in done.text
    with register.db.unit_of_work(readonly=True) as s:
        rows = history_of_message(s, item.message_pk)
    assert [(r.actor, r.reason) for r in rows] == [(CASEWORKER[0], "Ringde Kalle; ingen rapport")]


def test_send_an_undelivered_reply_again(fresh) -> None:
    register, client = fresh
    failed = deliver_due(register.db, RefusingOutbox())  # the queued receipts bounce for good
    assert failed
    item = _item(register, "undelivered-reply")
    page = client.get("/att-hantera")
    assert "Skicka svaret igen" in page.text and "550" in page.text
    done = client.post(f"/att-hantera/{item.id}/skicka-igen",
                       data={"csrf_token": csrf_of(page.text)})
    assert "ligger i kö igen" in done.text
    assert item.id not in {i.id for i in pending_items(register.db)}


def test_reprocess_a_report_message_from_its_page(fresh) -> None:
    register, client = fresh
    listing = client.get("/registret", params={"q": "Snöröjning Väst"})
    ref = re.search(r'href="/rapporter/(AVS-\d{4}-\d{4})"', listing.text).group(1)  # type: ignore[union-attr]
    page = client.get(f"/rapporter/{ref}")
    message = re.search(rf"/rapporter/{ref}/meddelanden/(\d+)/bearbeta-igen", page.text)
    assert message
    done = client.post(f"/rapporter/{ref}/meddelanden/{message.group(1)}/bearbeta-igen",
                       data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200
    # The same file again is never registered twice: the copy is a duplicate.
    assert "Meddelandet bearbetades igen: redan registrerad (dubblett)." in done.text
    assert "Bearbetade meddelandet igen" in done.text and CASEWORKER[0] in done.text
    after = client.get("/registret", params={"q": "Snöröjning Väst"})
    assert re.findall(r'href="/rapporter/(AVS-\d{4}-\d{4})"', after.text) == [ref]
    other = client.post(f"/rapporter/{ref}/meddelanden/999999/bearbeta-igen",
                        data={"csrf_token": csrf_of(page.text)})
    assert other.status_code == 404  # only this report's own messages
