"""The clocks the worker reads: the system's (aware UTC) and the fake one tests move by hand."""
from __future__ import annotations

import datetime as dt

import pytest

from avsteg.domain.clock import SYSTEM_CLOCK, FakeClock


def test_the_system_clock_tells_aware_utc_time():
    now = SYSTEM_CLOCK.now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    first = SYSTEM_CLOCK.monotonic()
    SYSTEM_CLOCK.sleep(0.001)
    assert SYSTEM_CLOCK.monotonic() > first


def test_the_fake_clock_moves_only_when_told():
    start = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    clock = FakeClock(start)
    assert clock.now() == start and clock.now().utcoffset() == dt.timedelta(0)
    assert clock.now() == clock.now() and clock.monotonic() == 0.0
    assert clock.advance(30) == start + dt.timedelta(seconds=30)
    clock.advance(minutes=2)
    clock.sleep(0.5)  # returns at once, having "waited"
    assert clock.now() - start == dt.timedelta(seconds=150.5)
    assert clock.monotonic() == 150.5 and clock.slept == [0.5]
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        FakeClock(dt.datetime(2026, 3, 9, 9, 0))  # a naive start would compare wrongly
