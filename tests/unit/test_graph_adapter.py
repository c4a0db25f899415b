"""The Graph adapter's own logic, against httpx's in-memory transport and an in-memory state.

What the real wire looks like is the business of the integration tests (a Graph test server
over HTTPS); here: waits and retries, token refresh, error translation, delta rounds merged
into UIDs, resync after a lost delta link, the outbox's error mapping, the service's back-off
after a refused login. No sleeping: waits are recorded, not slept.
"""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import json
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from avsteg.config.settings import GraphSettings, Settings
from avsteg.ingest.graph_auth import GraphAuthError, client_credential
from avsteg.ingest.graph_client import GraphClient, GraphUnavailable, retry_after
from avsteg.ingest.graph_mailbox import GraphMailbox
from avsteg.ingest.graph_outbox import GraphOutbox
from avsteg.ingest.ports import MailboxAuthError, PermanentDeliveryError, TemporaryDeliveryError
from avsteg.storage.database import Database
from avsteg.storage.graph_state import SqlGraphState

BASE = "https://graph.test/v1.0"


class Token:
    """A token source that counts refreshes (``invalidate``)."""

    def __init__(self) -> None:
        self.n = 1
        self.invalidated = 0

    def __call__(self) -> str:
        return f"token-{self.n}"

    def invalidate(self) -> None:
        self.invalidated += 1
        self.n += 1


def client(handler: Callable[[httpx.Request], httpx.Response], token: Token | None = None,
           **kwargs: Any) -> tuple[GraphClient, list[float]]:
    slept: list[float] = []
    c = GraphClient(BASE, token or Token(), transport=httpx.MockTransport(handler),
                    sleep=slept.append, first_backoff=1.0, **kwargs)
    return c, slept


def answers(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def ok(body: Any = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {})


def err(status: int, code: str = "X", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": "m"}}, headers=headers)


# -- the client ----------------------------------------------------------------------------------


def test_retry_after_is_seconds_or_a_date_and_ignored_when_garbage():
    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after(httpx.Response(429, headers={"Retry-After": past})) == 0


def test_throttling_waits_what_the_server_asks_capped():
    c, slept = client(answers(err(429, headers={"Retry-After": "7"}),
                              err(429, headers={"Retry-After": "900"}), ok({"a": 1})), max_wait=30)
    assert c.get_json("users/x/mailFolders/inbox") == {"a": 1}
    assert slept == [7, 30]


def test_5xx_backs_off_doubling_and_gives_up_after_max_retries():
    c, slept = client(answers(*[err(503)] * 4), max_retries=4)
    with pytest.raises(GraphUnavailable, match="gave up after 4 tries"):
        c.get_json("users/x/mailFolders/inbox")
    assert len(slept) == 3
    assert 0.75 <= slept[0] <= 1.25 and 1.5 <= slept[1] <= 2.5 and 3 <= slept[2] <= 5


def test_a_refused_token_is_refreshed_once_then_permanent():
    token = Token()
    handler = answers(err(401, "InvalidAuthenticationToken"), ok({"id": "f"}))
    c, _ = client(handler, token)
    assert c.get_json("users/x/mailFolders/inbox") == {"id": "f"}
    assert token.invalidated == 1
    assert [r.headers["Authorization"] for r in handler.seen] == ["Bearer token-1", "Bearer token-2"]  # type: ignore[attr-defined]

    c, _ = client(answers(err(401), err(401)), Token())
    with pytest.raises(GraphAuthError):
        c.get_json("users/x/mailFolders/inbox")


def test_access_denied_is_a_permanent_auth_error():
    c, _ = client(answers(err(403, "ErrorAccessDenied")))
    with pytest.raises(MailboxAuthError, match="allowed into this mailbox"):
        c.get_json("users/x/mailFolders/inbox")


def test_a_dropped_post_is_not_repeated_but_a_refused_connect_is():
    c, slept = client(answers(httpx.ReadError("reset"), ok()))
    with pytest.raises(GraphUnavailable):
        c.post_text("users/x/sendMail", "QUJD")
    assert slept == []
    c, slept = client(answers(httpx.ConnectError("refused"), httpx.Response(202)))
    assert c.post_text("users/x/sendMail", "QUJD").status_code == 202
    assert len(slept) == 1
    c, slept = client(answers(httpx.RemoteProtocolError("closed"), ok({"v": 1})))
    assert c.get_json("users/x/messages/1") == {"v": 1}  # a read is simply asked again


# -- the mailbox: delta rounds into UIDs -------------------------------------------------------


class FakeGraph:
    """Just enough of a folder's delta for the adapter's merge logic."""

    def __init__(self) -> None:
        self.pages: list[list[dict[str, Any]]] = []
        self.gone_links: set[str] = set()
        self.requests: list[str] = []
        self.round = 0
        self.raw: dict[str, bytes] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(f"{request.method} {url}")
        if url.endswith("/mailFolders/inbox"):
            return ok({"id": "INBOX-ID", "displayName": "Inbox"})
        if "/messages/delta" in url:
            if any(link in url for link in self.gone_links):
                return err(410, "SyncStateNotFound")
            page_no = int(request.url.params.get("page", "0"))
            body: dict[str, Any] = {"value": self.pages[page_no]}
            if page_no + 1 < len(self.pages):
                body["@odata.nextLink"] = f"{BASE}/users/m/mailFolders/INBOX-ID/messages/delta?page={page_no + 1}"
            else:
                self.round += 1
                body["@odata.deltaLink"] = f"{BASE}/users/m/mailFolders/INBOX-ID/messages/delta?dt=r{self.round}"
            return ok(body)
        if url.endswith("/$value"):
            graph_id = url.rsplit("/", 2)[-2]
            return httpx.Response(200, content=self.raw.get(graph_id, b"Subject: x\r\n\r\nbody"))
        return err(400)


@pytest.fixture
def state(tmp_path: Path) -> SqlGraphState:
    db = Database(f"sqlite:///{tmp_path / 'g.sqlite'}")
    db.upgrade()
    return SqlGraphState(db)


def mailbox(fake: FakeGraph, state: SqlGraphState, **settings: Any) -> GraphMailbox:
    c, _ = client(fake)
    return GraphMailbox(GraphSettings(mailbox="m@x.se", **settings), c, state,
                        clock=lambda: dt.datetime(2026, 11, 26, tzinfo=dt.UTC), sleep=lambda s: None)


def msg(graph_id: str, received: str, is_read: bool = False) -> dict[str, Any]:
    return {"id": graph_id, "isRead": is_read, "receivedDateTime": received}


def test_a_round_follows_next_links_and_gives_older_mail_the_lower_uid(state):
    fake = FakeGraph()
    fake.pages = [[msg("B", "2026-11-02T00:00:00Z"), msg("C", "2026-11-03T00:00:00Z")],
                  [msg("A", "2026-11-01T00:00:00Z", is_read=True)]]
    box = mailbox(fake, state)
    assert box.open() == 1
    uids = box.uids()
    assert len(uids) == 3 and uids == sorted(uids)
    fetched = list(box.fetch(uids))
    assert [f.flags for f in fetched] == [("\\Seen",), (), ()]  # A (read), B, C
    assert [r.split("/")[-2] for r in fake.requests if r.endswith("$value")] == ["A", "B", "C"]
    assert all("PATCH" not in r for r in fake.requests)


def test_removed_messages_leave_and_a_lost_delta_link_means_a_full_round_with_the_same_uids(state):
    fake = FakeGraph()
    fake.pages = [[msg("A", "2026-11-01T00:00:00Z"), msg("B", "2026-11-02T00:00:00Z")]]
    box = mailbox(fake, state)
    box.open()
    first = box.uids()
    # Next round: A left the folder (moved by a person), C arrived, B was read meanwhile.
    fake.pages = [[{"id": "A", "@removed": {"reason": "deleted"}}, msg("C", "2026-11-03T00:00:00Z")]]
    second = box.uids()
    assert second == [first[1], max(first) + 1]
    # The server forgets our delta link: a full round; B and C keep their UIDs, A stays gone.
    fake.gone_links.add("dt=r2")
    fake.pages = [[msg("C", "2026-11-03T00:00:00Z"), msg("B", "2026-11-02T00:00:00Z", True)]]
    assert box.uids() == second
    assert any("dt=r2" in r for r in fake.requests)
    assert state.lookup(box.account, box.folder, [second[0]])[second[0]] == ("B", True)


def test_without_folders_a_handled_message_is_left_in_place_and_not_listed_again(state):
    fake = FakeGraph()
    fake.pages = [[msg("A", "2026-11-01T00:00:00Z")]]
    box = mailbox(fake, state)
    box.open()
    [uid] = box.uids()
    box.file_away(uid, "processed")
    fake.pages = [[]]
    assert box.uids() == []
    assert not any("/move" in r for r in fake.requests)


# -- the outbox ----------------------------------------------------------------------------------


def reply() -> EmailMessage:
    m = EmailMessage()
    m["From"] = "socialhansyn@ink.goteborg.se"
    m["To"] = "person@goteborg.se"
    m["Subject"] = "Re: Avstegsrapport [AVS-2026-0001]"
    m["Auto-Submitted"] = "auto-replied"
    m.set_content("Tack för rapporten. Åäö.")
    return m


def test_the_outbox_posts_the_mime_message_base64_as_text_plain():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    c, _ = client(handler)
    GraphOutbox(GraphSettings(mailbox="socialhansyn@ink.goteborg.se"), c).deliver(reply())
    [request] = seen
    assert request.url.path == "/v1.0/users/socialhansyn@ink.goteborg.se/sendMail"
    assert request.headers["Content-Type"] == "text/plain"
    sent = email.message_from_bytes(base64.b64decode(request.content), policy=email.policy.default)
    assert sent["Subject"] == "Re: Avstegsrapport [AVS-2026-0001]"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert "Åäö" in sent.get_content()


@pytest.mark.parametrize(("response", "error"), [
    (err(400, "ErrorInvalidRecipients"), PermanentDeliveryError),
    (err(403, "ErrorAccessDenied"), GraphAuthError),  # like a refused SMTP login: stop, stay queued
    (err(404, "ErrorInvalidUser"), TemporaryDeliveryError),
    (err(503), TemporaryDeliveryError),
])
def test_outbox_errors_are_temporary_unless_the_request_or_the_app_is_refused(response, error):
    c, _ = client(lambda request: response, max_retries=1)
    with pytest.raises(error):
        GraphOutbox(GraphSettings(mailbox="m@x.se"), c).deliver(reply())


# -- credentials and the service's back-off --------------------------------------------------------


def test_a_certificate_pem_gives_msal_its_key_and_sha1_thumbprint(tmp_path):
    from cryptography.hazmat.primitives import hashes

    from tests.support.graph_ca import make_client_certificate

    pem = tmp_path / "app.pem"
    cert = make_client_certificate(pem)
    cred = client_credential(GraphSettings(certificate_path=str(pem)))
    assert isinstance(cred, dict)
    assert cred["thumbprint"] == cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert cred["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert client_credential(GraphSettings(client_secret="s")) == "s"


class RefusingWorker:
    def __init__(self) -> None:
        import threading

        self.stop = threading.Event()
        self.calls = 0

    def poll_once(self) -> Any:
        self.calls += 1
        raise GraphAuthError("login.microsoftonline.com", "app 1", "no token: invalid_client")


def test_a_refused_token_is_a_refused_login_and_the_service_backs_off():
    from avsteg.commands import worker_service as service_module
    from avsteg.domain.backoff import Backoff
    from avsteg.domain.errors import LoginRefusedError, TransientError

    error = GraphAuthError("login.microsoftonline.com", "app 1", "no token: invalid_client")
    assert isinstance(error, LoginRefusedError) and not isinstance(error, TransientError)
    assert "login refused" in str(error) and "invalid_client" in str(error)
    now = [1000.0]
    worker = RefusingWorker()
    svc = service_module.Service(Settings(), worker,  # type: ignore[arg-type]
                                 backoff=Backoff(clock=lambda: now[0], random=lambda: 1.0))
    waits = []
    for _ in range(8):
        svc.poll()
        waits.append(svc.backoff.remaining())
        svc.poll()  # too early: not even tried
        now[0] += svc.backoff.remaining()
    assert worker.calls == 8
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]


@pytest.mark.parametrize(("in_sent_items", "posts"), [(True, 1), (False, 2)])
def test_a_dropped_sendmail_is_looked_up_in_sent_items_before_it_is_sent_again(in_sent_items, posts):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            assert request.url.params["$filter"] == "internetMessageId eq '<r1@ink.goteborg.se>'"
            return ok({"value": [{"id": "x"}] if in_sent_items else []})
        if len([r for r in seen if r.method == "POST"]) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(202)

    c, _ = client(handler)
    message = reply()
    message["Message-ID"] = "<r1@ink.goteborg.se>"
    GraphOutbox(GraphSettings(mailbox="m@x.se"), c).deliver(message)
    assert [r.method for r in seen].count("POST") == posts


def test_a_move_into_a_folder_deleted_meanwhile_looks_the_folder_up_again(state):
    folders = {"F1": "Done"}
    moves: list[str] = []
    fake = FakeGraph()
    fake.pages = [[msg("A", "2026-11-01T00:00:00Z")]]

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/mailFolders") and request.method == "GET":
            return ok({"value": [{"id": k, "displayName": v} for k, v in folders.items()]})
        if path.endswith("/mailFolders") and request.method == "POST":
            folders["F2"] = json.loads(request.content)["displayName"]
            return httpx.Response(201, json={"id": "F2"})
        if path.endswith("/move"):
            destination = json.loads(request.content)["destinationId"]
            moves.append(destination)
            return httpx.Response(201, json={"id": "A"}) if destination in folders else err(404, "ErrorItemNotFound")
        return fake(request)

    c, _ = client(handler)
    box = GraphMailbox(GraphSettings(mailbox="m@x.se", processed_folder="Done"), c, state,
                       sleep=lambda s: None)
    box.open()
    [uid] = box.uids()
    box.folder_id("Done", create=True)  # looked up (F1) ...
    del folders["F1"]  # ... then a person deletes it
    box.file_away(uid, "processed")
    assert moves == ["F1", "F2"]
    fake.pages = [[]]
    assert box.uids() == []
