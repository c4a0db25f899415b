"""Fixtures of the fast worker tests: a migrated SQLite file per test and a rig of fakes."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.worker_rig import Rig, migrated_template


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def rig(sqlite_template: Path, tmp_path: Path) -> Iterator[Rig]:
    path = tmp_path / "avsteg.sqlite"
    shutil.copyfile(sqlite_template, path)
    made = Rig(path)
    yield made
    made.close()
