"""Shared fixtures. Real servers live in tests/support/ and are registered here as plugins.

Hypothesis runs derandomized (the same examples on every run and every machine, no example
database): a property test that fails, fails again. Set ``HYPOTHESIS_PROFILE=explore`` to let
it search with fresh random examples locally.
"""
import os

from hypothesis import settings

pytest_plugins = [
    "tests.support.servers",  # Dovecot, aiosmtpd
    "tests.support.postgres",  # a private PostgreSQL cluster
    "tests.support.graph_server",  # Microsoft Graph + Entra ID over HTTPS
    "tests.support.worker_fixtures",  # in-process workers, closed after each test
]

settings.register_profile("avsteg", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "avsteg"))
