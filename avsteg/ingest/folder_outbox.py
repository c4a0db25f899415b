"""Replies written as .eml files into a directory instead of being sent.

Used by ``avsteg ingest --outbox DIR`` and ``avsteg demo``: the whole pipeline runs, and a person
(or a test) reads exactly the bytes that would have gone out. Names sort in the order written.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
from email.message import EmailMessage
from pathlib import Path

from avsteg.domain.replies.addresses import message_bytes
from avsteg.ingest.ports import TemporaryDeliveryError


class FolderOutbox:
    """The ``Outbox`` port as a folder: ``<UTC timestamp>-<nnnn>.eml`` per message."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._counter = itertools.count(1)

    def deliver(self, message: EmailMessage) -> Path:
        """Write ``message`` and return its path; never overwrites an existing file."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TemporaryDeliveryError(f"cannot create outbox {self.directory}: {exc}") from exc
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        data = message_bytes(message)
        while True:
            path = self.directory / f"{stamp}-{next(self._counter):04d}.eml"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:  # another process wrote the same name this microsecond
                continue
            except OSError as exc:
                raise TemporaryDeliveryError(f"cannot write {path}: {exc}") from exc
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            except OSError as exc:
                path.unlink(missing_ok=True)
                raise TemporaryDeliveryError(f"cannot write {path}: {exc}") from exc
            return path

