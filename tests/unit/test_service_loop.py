"""The poll loop never loses a wake-up, and flushes the outbox between polls (fakes, no servers).

Before, the IDLE watcher brought an APScheduler job forward; when the job was running, the run
was skipped ("maximum number of running instances reached") and mail that arrived during a poll
waited a whole interval. Here the wake-up is an event that stays set until the next poll starts.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from avsteg.commands.worker_service import Service
from avsteg.config.settings import load_settings


@dataclass
class SlowWorker:
    """Stands in for Worker: each poll takes ``seconds``; records when polls start."""

    seconds: float = 0.4
    stop: threading.Event = field(default_factory=threading.Event)
    starts: list[float] = field(default_factory=list)
    flushes: int = 0
    polling: threading.Event = field(default_factory=threading.Event)

    def poll_once(self) -> None:
        self.starts.append(time.monotonic())
        self.polling.set()
        time.sleep(self.seconds)
        self.polling.clear()

    def flush_outbox(self) -> int:
        self.flushes += 1
        return 0


def _service(worker: SlowWorker, interval: float = 300.0) -> tuple[Service, threading.Thread]:
    settings = load_settings(None, worker={"poll_interval_seconds": interval, "idle": False},
                             smtp={"retry_seconds": 0.05})
    service = Service(settings, worker)  # type: ignore[arg-type]
    loop = threading.Thread(target=service.run_loop, daemon=True)
    loop.start()
    return service, loop


def test_a_wake_up_during_a_poll_causes_another_poll_right_after_it():
    worker = SlowWorker()
    service, loop = _service(worker)
    try:
        assert worker.polling.wait(2)  # the first poll runs at start
        service.wake.set()  # news while it runs
        deadline = time.monotonic() + 3
        while len(worker.starts) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(worker.starts) == 2, "the wake-up during the poll was lost"
        gap = worker.starts[1] - worker.starts[0]
        assert gap < worker.seconds + 0.3  # right after the first one, not at the 300 s interval
        time.sleep(0.6)
        assert len(worker.starts) == 2  # and only one more: wake-ups coalesce, nothing spins
        assert worker.flushes >= 3  # the outbox is flushed on its own short schedule between
    finally:
        service.stop.set()
        service.wake.set()
        loop.join(5)
    assert not loop.is_alive()


def test_many_wake_ups_in_a_burst_cost_one_poll_each_time_it_ends():
    worker = SlowWorker(seconds=0.2)
    service, loop = _service(worker)
    try:
        assert worker.polling.wait(2)
        for _ in range(20):  # 40 APPENDs 50 ms apart, as the IDLE watcher reports them
            service.wake.set()
            time.sleep(0.05)
        time.sleep(0.6)
        # Every poll started within one poll's length of the previous one while news came in.
        gaps = [b - a for a, b in zip(worker.starts, worker.starts[1:], strict=False)]
        assert len(worker.starts) >= 4 and max(gaps) < 0.2 + 0.3
        # ... and the last poll began after the last wake-up.
        assert worker.starts[-1] > time.monotonic() - 0.6 - 0.3
    finally:
        service.stop.set()
        service.wake.set()
        loop.join(5)
