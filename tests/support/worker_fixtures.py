"""Fixtures for the in-process worker tests, registered as a plugin in tests/conftest.py.

test_worker.py, test_worker_faults.py, test_poison.py and test_delivery_robust.py each build
workers the way ``avsteg run`` does and must close their IMAP connections and database engines
afterwards; one fixture does that for all of them. worker_env.py stays free of pytest, since the
benchmarks import it too.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.worker_env import Workers


@pytest.fixture
def workers() -> Iterator[Workers]:
    """``workers(settings, **kwargs)`` builds a real worker; all are closed after the test."""
    made = Workers()
    yield made
    made.close()
