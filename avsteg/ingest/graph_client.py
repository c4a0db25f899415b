"""A small Microsoft Graph REST client: bearer tokens, throttling, and errors in our terms.

Plain httpx against the documented v1.0 endpoints (the msgraph SDK is very large for the six
calls we make). Every request goes through :meth:`GraphClient.request`, which

* sends the app's access token and, when Graph says 401, fetches a fresh one once; a second 401,
  or a 403 (the app is not allowed into the mailbox), is a permanent :class:`GraphAuthError`;
* waits out throttling (``429`` with ``Retry-After``) and ``5xx`` answers, with the server's
  ``Retry-After`` when it gives one and doubling waits otherwise, both capped, for at most
  ``max_retries`` tries; then :class:`GraphUnavailable` (transient: the next poll goes on);
* retries a dropped connection for reads; for a POST only when it never reached the server
  (a connect error), because a ``sendMail`` that did reach it may already have been sent;
* turns every other answer into one of the exceptions below. httpx's own exceptions never
  leave this module.
"""
from __future__ import annotations

import email.utils
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from avsteg.domain.errors import TransientError
from avsteg.ingest.graph_auth import GraphAuthError, ca_files, host_of
from avsteg.ingest.ports import TokenSource, refresh_token

log = logging.getLogger(__name__)

Headers = Mapping[str, str] | Sequence[tuple[str, str]]  # a list when a header repeats (Prefer)

RETRYABLE = {429, 500, 502, 503, 504}


class GraphError(TransientError):
    """Raised for an answer we did not expect; ``status`` and Graph's error ``code`` kept."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class GraphUnavailable(GraphError):
    """Raised when Graph stayed throttled, unavailable or unreachable through every retry.

    ``maybe_done``: the connection dropped after a request that changes something had been
    sent, so Graph may have carried it out (a ``sendMail`` may be out)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "",
                 maybe_done: bool = False) -> None:
        super().__init__(message, status=status, code=code)
        self.maybe_done = maybe_done


class GraphNotFound(GraphError):
    """Raised on 404: the message, folder or mailbox is not there (any more)."""


class GraphGone(GraphError):
    """Raised on 410 Gone: a delta link the server no longer knows. Start a full round."""


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """Graph's ``{"error": {"code", "message"}}``, tolerant of other bodies."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")
    if isinstance(error, str):  # token endpoints answer {"error": "...", "error_description"}
        return error, str(body.get("error_description") or "")
    return "", response.text[:200]


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (a number, or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def ssl_context() -> ssl.SSLContext | bool:
    """Trust the CAs of ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` when set, else httpx's
    default (certifi)."""
    files = ca_files()
    if not files:
        return True
    context = ssl.create_default_context()
    for name in files:
        context.load_verify_locations(cafile=name)
    return context


@dataclass(frozen=True)
class Download:
    """A body read up to a limit: ``complete`` False when there was more than the limit."""

    data: bytes
    complete: bool
    size: int | None  # Content-Length, when the server said it


def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk[: limit - total])
        total += len(chunks[-1])
        if total >= limit:
            break
    return b"".join(chunks)


class GraphClient:
    """Requests to one Graph service root (``graph.base_url``) on behalf of one app."""

    def __init__(
        self,
        base_url: str,
        token: TokenSource,
        *,
        timeout: float = 60.0,
        max_retries: int = 6,
        max_wait: float = 120.0,
        first_backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        identity: str = "the app",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity = identity  # who we are, for a refusal's message: "app <id> for <mailbox>"
        self._token = token
        self._max_retries = max(1, max_retries)
        self._max_wait = max(0.0, max_wait)
        self._first_backoff = first_backoff
        self._sleep = sleep
        self._http = httpx.Client(timeout=timeout, transport=transport,
                                  verify=ssl_context() if transport is None else True)
        self.waits: list[float] = []  # every wait, for logs and tests
        # httpx logs every request at INFO; our own lines say what matters (waits, refusals).
        logging.getLogger("httpx").setLevel(logging.WARNING)

    def close(self) -> None:
        self._http.close()

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("https://", "http://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    # -- verbs -------------------------------------------------------------------------------

    def get_json(self, path: str, *, params: Mapping[str, str] | None = None,
                 headers: Headers | None = None) -> dict[str, Any]:
        return _json(self.request("GET", path, params=params, headers=headers))

    def get_bytes(self, path: str) -> bytes:
        return self.request("GET", path).content

    def post_json(self, path: str, body: Mapping[str, Any], *,
                  headers: Headers | None = None, idempotent: bool = True) -> dict[str, Any]:
        response = self.request("POST", path, json=body, headers=headers, idempotent=idempotent)
        return _json(response) if response.content else {}

    def post_text(self, path: str, text: str, *, idempotent: bool = False) -> httpx.Response:
        return self.request("POST", path, content=text.encode("ascii"),
                            headers={"Content-Type": "text/plain"}, idempotent=idempotent)

    def download(self, path: str, *, limit: int, head: int = 1024 * 1024,
                 headers: Headers | None = None) -> Download:
        """GET a body of at most ``limit`` bytes; of a larger one only the first ``head`` bytes
        (when Content-Length says so up front) or ``limit + 1`` (when it does not): a 150 MB
        message is never held whole. A connection lost while reading is retried like any read."""
        wanted = httpx.Headers(headers)
        wanted["Accept-Encoding"] = "identity"  # so Content-Length is the body's real size
        for attempt in range(1, self._max_retries + 1):
            response = self.request("GET", path, headers=wanted, stream=True)
            try:
                length = response.headers.get("Content-Length", "")
                size = int(length) if length.isdigit() else None
                too_big = size is not None and size > limit
                data = _read_at_most(response, min(head, limit + 1) if too_big else limit + 1)
                return Download(data, complete=not too_big and len(data) <= limit, size=size)
            except httpx.TransportError as exc:
                if attempt >= self._max_retries:
                    raise GraphUnavailable(f"Graph GET {_short(self.url(path))} failed while "
                                           f"reading: {type(exc).__name__}: {exc}") from exc
                self._wait(self._backoff(attempt), f"{type(exc).__name__} reading {_short(path)}")
            finally:
                response.close()
        raise AssertionError("unreachable")

    # -- the one place that talks --------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                headers: Headers | None = None, json: Any = None,
                content: bytes | None = None, idempotent: bool = True,
                stream: bool = False) -> httpx.Response:
        """One request through every retry; with ``stream`` a 2xx answer's body is left unread
        (the caller reads and closes it; see :meth:`download`)."""
        url = self.url(path)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            all_headers = httpx.Headers(headers)
            all_headers["Authorization"] = f"Bearer {self._token()}"
            try:
                response = self._http.send(self._http.build_request(
                    method, url, params=params, headers=all_headers, json=json, content=content),
                    stream=stream)
                if stream and not 200 <= response.status_code < 300:
                    try:  # an error's body is small: read it for the message
                        response.read()
                    finally:
                        response.close()
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if not (idempotent or never_sent) or attempt >= self._max_retries:
                    raise GraphUnavailable(f"Graph {method} {_short(url)} failed: "
                                           f"{type(exc).__name__}: {exc}",
                                           maybe_done=not (idempotent or never_sent)) from exc
                self._wait(self._backoff(attempt), f"{type(exc).__name__} on {method} {_short(url)}")
                continue
            status = response.status_code
            if 200 <= status < 300:
                return response
            code, message = _error_of(response)
            if status == 401 and not refreshed:
                log.info("Graph refused the access token (%s); fetching a fresh one", code)
                refresh_token(self._token)
                refreshed = True
                attempt -= 1  # not a try of its own
                continue
            if status in RETRYABLE and attempt < self._max_retries:
                wait = retry_after(response)
                self._wait(min(self._max_wait, wait) if wait is not None else self._backoff(attempt),
                           f"{status} {code} on {method} {_short(url)}")
                continue
            text = f"Graph {method} {_short(url)}: {status} {code}: {message}".rstrip(": ")
            if status in (401, 403):
                hint = (" (is the app allowed into this mailbox? see README, Microsoft 365)"
                        if status == 403 else "")
                raise GraphAuthError(host_of(self.base_url), self.identity,
                                     f"{method} {_short(url)}: {status} {code}: {message}{hint}")
            if status in RETRYABLE:
                raise GraphUnavailable(text + f" (gave up after {attempt} tries)", status=status, code=code)
            if status == 404:
                raise GraphNotFound(text, status=status, code=code)
            if status == 410:
                raise GraphGone(text, status=status, code=code)
            raise GraphError(text, status=status, code=code)

    def _backoff(self, attempt: int) -> float:
        base = self._first_backoff * (2 ** (attempt - 1))
        return min(self._max_wait, base * (0.75 + random.random() / 2))  # noqa: S311 - jitter

    def _wait(self, seconds: float, why: str) -> None:
        log.warning("Graph: %s; waiting %.1f s", why, seconds)
        self.waits.append(seconds)
        self._sleep(seconds)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise GraphError(f"Graph answered {response.status_code} without JSON",
                         status=response.status_code) from exc
    if not isinstance(body, dict):
        raise GraphError("Graph answered JSON that is not an object", status=response.status_code)
    return body


def _short(url: str) -> str:
    """A URL for logs: without query (delta and skip tokens are long and say nothing)."""
    return url.split("?", 1)[0]
