"""The reconnect policy: doubling with jitter, capped at an hour, longer after a refused login."""
from __future__ import annotations

import pytest

from avsteg.domain.backoff import CAP_SECONDS, Backoff, backoff_delay


def test_the_delay_doubles_and_stops_at_the_cap():
    delays = [backoff_delay(n, base=5, jitter=1.0) for n in range(1, 14)]
    assert delays[:5] == [5, 10, 20, 40, 80]
    assert delays[-1] == CAP_SECONDS
    assert all(b >= a for a, b in zip(delays, delays[1:]))


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 1.0])
def test_jitter_stays_in_the_upper_half(jitter):
    for n in range(1, 20):
        ceiling = min(CAP_SECONDS, 5 * 2 ** (n - 1))
        assert ceiling / 2 <= backoff_delay(n, base=5, jitter=jitter) <= ceiling


def test_no_failure_no_wait():
    assert backoff_delay(0, base=60) == 0


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def attempts_in(seconds: float, *, login_refused: bool, jitter: float) -> int:
    """How often a worker that is refused every time tries within ``seconds``."""
    clock = FakeTime()
    gate = Backoff(clock=clock, random=lambda: jitter)
    start, attempts = clock.now, 0
    while clock.now - start < seconds:
        if gate.remaining() > 0:
            clock.now += gate.remaining()
            continue
        attempts += 1
        gate.failed(login_refused=login_refused)
    return attempts


def test_a_refused_login_is_tried_a_handful_of_times_per_minute_at_most():
    assert attempts_in(60, login_refused=True, jitter=0.0) <= 2
    assert attempts_in(3600, login_refused=True, jitter=0.0) <= 8
    # then about once an hour (never more often than every 30 minutes)
    assert attempts_in(6 * 3600, login_refused=True, jitter=0.0) <= 8 + 10


def test_a_closed_port_is_not_knocked_on_every_two_seconds():
    assert attempts_in(60, login_refused=False, jitter=0.0) <= 5
    assert attempts_in(60, login_refused=False, jitter=1.0) <= 4


def test_success_resets_the_count():
    clock = FakeTime()
    gate = Backoff(clock=clock, random=lambda: 1.0)
    gate.failed()
    gate.failed()
    assert gate.failures == 2 and gate.remaining() == 10
    gate.succeeded()
    assert gate.failures == 0 and gate.remaining() == 0
    assert gate.failed(login_refused=True) == 60
