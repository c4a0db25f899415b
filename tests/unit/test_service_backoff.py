"""The long-running worker backs off after refused logins and dropped connections (no sleeping:
the clock is a fake)."""
from __future__ import annotations

import threading

from avsteg.commands.worker_service import Service
from avsteg.config.settings import Settings
from avsteg.domain.backoff import Backoff
from avsteg.domain.errors import LoginRefusedError, TransientError
from avsteg.services.worker import PollReport


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeWorker:
    def __init__(self, failures: list[Exception | None]) -> None:
        self.failures = failures
        self.calls = 0
        self.stop = threading.Event()

    def poll_once(self) -> PollReport:
        self.calls += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        return PollReport()


def _service(worker: FakeWorker, clock: FakeClock) -> Service:
    return Service(Settings(), worker, backoff=Backoff(clock=clock, random=lambda: 1.0))  # type: ignore[arg-type]


def test_a_refused_login_is_not_retried_before_the_backoff_allows():
    clock = FakeClock()
    refused = LoginRefusedError("IMAP", "h:993", "u", "Authentication failed.")
    worker = FakeWorker([refused, refused, None])
    service = _service(worker, clock)
    service.poll()
    assert worker.calls == 1 and service.backoff.remaining() == 60
    for second in range(1, 60):  # the scheduler fires every second: all skipped
        clock.now = second
        service.poll()
    assert worker.calls == 1
    clock.now = 60
    service.poll()
    assert worker.calls == 2 and service.backoff.remaining() == 120  # doubled
    clock.now = 180
    assert service.poll() is not None and worker.calls == 3
    assert service.backoff.failures == 0 and service.backoff.remaining() == 0


def test_a_dropped_connection_backs_off_from_a_shorter_start():
    clock = FakeClock()
    worker = FakeWorker([TransientError("cannot connect"), TransientError("cannot connect")])
    service = _service(worker, clock)
    service.poll()
    assert service.backoff.remaining() == 5
    clock.now = 5
    service.poll()
    assert service.backoff.remaining() == 10


def test_the_backoff_is_logged_with_the_wait(caplog):
    clock = FakeClock()
    service = _service(FakeWorker([LoginRefusedError("IMAP", "h:993", "u", "nope")]), clock)
    with caplog.at_level("WARNING"):
        service.poll()
    assert "IMAP login refused by h:993 for u: nope; next attempt in 60 s" in caplog.text
