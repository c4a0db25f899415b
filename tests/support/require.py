"""The one switch between "skip" and "fail" when a test's server or tool is missing.

On a developer's laptop a test that needs Dovecot, PostgreSQL, LibreOffice, pdftotext (or,
later, Chromium) and cannot find it is skipped, with the reason. In CI a skipped test is a test
that did not run while the suite says green, so ``scripts/test`` sets
``AVSTEG_REQUIRE_SERVERS=1`` and the same missing tool is a failure instead.

Every skip in the suite goes through :func:`missing`; tests/unit/test_suite_honesty.py fails
when a test module calls ``pytest.skip`` (or a ``skipif`` mark, or ``importorskip`` of our own
modules) past it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pytest

SWITCH = "AVSTEG_REQUIRE_SERVERS"


def servers_required() -> bool:
    """True in CI (``AVSTEG_REQUIRE_SERVERS=1``): a missing server or tool fails the test."""
    return os.environ.get(SWITCH, "").strip() == "1"


def missing(reason: str) -> NoReturn:
    """Skip the test with ``reason`` — or, when servers are required, fail it."""
    if servers_required():
        pytest.fail(f"{reason} ({SWITCH}=1: a missing server or tool is a failure)",
                    pytrace=False)
    pytest.skip(reason)


def need(tool: str | Sequence[str], why: str) -> str:
    """The path of the executable ``tool`` (or the first found of several names).

    ``why`` says what the test does with it and how to install it, e.g.
    ``need("pdftotext", "reads the printed PDF (apt-get install poppler-utils)")``.
    """
    names = [tool] if isinstance(tool, str) else list(tool)
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    missing(f"{' / '.join(names)} not found: {why}")


def have(tool: str | Sequence[str], why: str) -> bool:
    """For an optional part of a test: True when ``tool`` is installed, False when not —
    and when servers are required, a missing tool fails the test instead of returning False."""
    names = [tool] if isinstance(tool, str) else list(tool)
    if any(shutil.which(name) for name in names):
        return True
    if servers_required():
        missing(f"{' / '.join(names)} not found: {why}")
    return False


def need_path(path: str | Path, why: str) -> Path:
    """A file or directory the test needs (a binary outside PATH, a font…)."""
    found = Path(path)
    if not found.exists():
        missing(f"{found} not found: {why}")
    return found


def need_glyphs(chars: str, why: str) -> None:
    """At least one installed font (fontconfig) draws every character of ``chars``."""
    fc_list = need("fc-list", "lists the installed fonts (apt-get install fontconfig)")
    charset = " ".join(f"{ord(c):x}" for c in chars)
    found = subprocess.run([fc_list, f":charset={charset}", "family"], capture_output=True,
                           text=True, check=False).stdout.strip()
    if not found:
        missing(f"no installed font draws {chars!r}: {why}")
