"""Time as a dependency: the worker, its leases and the reply backoff ask a Clock, not the OS.

Leases expire, failed replies wait ``base · 2^(n-1)`` seconds, polls are stamped: all of that
is behaviour worth testing, and a test that sleeps for it is slow and flaky. Production wires
:class:`SystemClock`; unit tests wire :class:`FakeClock` and move time by hand, so "the lease
has expired" or "the backoff is over" is one ``advance()`` away and takes no real time.

Wall-clock time is always timezone-aware UTC; ``monotonic()`` is for measuring intervals only.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    """Where the worker gets the time from."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go backwards (for intervals)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock just moves on)."""
        ...


class SystemClock:
    """The operating system's clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock that stands still until told to move: deterministic tests of time-based rules.

    ``sleep`` advances it instead of blocking, so code that waits returns at once, having
    "waited" exactly as long as it asked.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start.astimezone(dt.UTC)
        self._monotonic = 0.0
        self.slept: list[float] = []  # every sleep() asked for, in order

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float = 0.0, **delta: float) -> dt.datetime:
        """Move time forward by ``seconds`` (and/or ``minutes=``, ``hours=``…); returns now."""
        step = dt.timedelta(seconds=seconds, **delta)
        if step < dt.timedelta(0):
            raise ValueError("time does not go backwards")
        self._now += step
        self._monotonic += step.total_seconds()
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"
