"""How long to wait before the next attempt at a mail server that failed: doubling, with jitter.

A server that sees a refused login every few seconds locks the account (Microsoft 365 does), and
one that is down gains nothing from being asked every two seconds. So each failure in a row
doubles the wait, up to an hour; a refused login starts from a longer wait than a dropped
connection, since it will not go away by itself. Jitter spreads workers that failed together.

:func:`backoff_delay` is the policy as a pure function; :class:`Backoff` keeps the count and the
time of the next attempt, with the clock and the random source passed in so tests need no sleep.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CONNECTION_BASE_SECONDS = 5.0
LOGIN_BASE_SECONDS = 60.0
CAP_SECONDS = 3600.0


def backoff_delay(failures: int, *, base: float, cap: float = CAP_SECONDS,
                  jitter: float = 1.0) -> float:
    """Seconds to wait after ``failures`` failures in a row (1 = the first).

    ``jitter`` in [0, 1] picks a point in the upper half of the doubled delay ("equal jitter"):
    never less than half of it, so a refused login is never retried at once.
    """
    if failures <= 0:
        return 0.0
    ceiling = min(cap, base * 2.0 ** min(failures - 1, 32))
    return ceiling / 2 + ceiling / 2 * min(1.0, max(0.0, jitter))


@dataclass
class Backoff:
    """The failures in a row at one server and when it may be tried again."""

    connection_base: float = CONNECTION_BASE_SECONDS
    login_base: float = LOGIN_BASE_SECONDS
    cap: float = CAP_SECONDS
    clock: Callable[[], float] = time.monotonic
    random: Callable[[], float] = field(default=random.random)
    failures: int = 0
    next_attempt: float = 0.0

    def failed(self, *, login_refused: bool = False) -> float:
        """Count a failure; returns the seconds until the next attempt."""
        self.failures += 1
        base = self.login_base if login_refused else self.connection_base
        delay = backoff_delay(self.failures, base=base, cap=self.cap, jitter=self.random())
        self.next_attempt = self.clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt = 0.0

    def remaining(self) -> float:
        """Seconds until an attempt is allowed (0 when it is allowed now)."""
        return max(0.0, self.next_attempt - self.clock())
