"""How much of which message to fetch per IMAP round trip, so the worker's memory stays bounded.

A FETCH of ``BODY.PEEK[]`` holds every message of the batch in memory at once: 50 messages with
30 MB attachments would be 1.5 GB, and a 150 MB message (what Exchange Online accepts at most)
would be read whole only for the pipeline to keep its headers. So the adapter first asks for
``RFC822.SIZE`` (a few bytes per message, nothing read from disk on most servers), then

* fetches bodies in batches bounded by count (``imap.batch_size``) *and* by bytes
  (``imap.batch_bytes``); a message larger than the byte bound travels alone;
* fetches only ``BODY.PEEK[HEADER]`` (at most :data:`MAX_HEADER_BYTES`) of a message over
  ``policy.max_message_bytes``: the pipeline stores those headers, marked as cut with the real
  size, answers the sender and files the message away; the whole message stays in the mailbox.

:func:`plan` is pure (tested with literal sizes); the rest are thin calls of imapclient.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient

MAX_HEADER_BYTES = 1024 * 1024  # what reader._headers_only reads of a header at most
SIZE_CHUNK = 1000  # UIDs per RFC822.SIZE fetch: a backlog of 100,000 is not one huge command
HEADER_ITEM = f"BODY.PEEK[HEADER]<0.{MAX_HEADER_BYTES}>"


@dataclass(frozen=True)
class Batch:
    """One FETCH: whole messages, or (``complete`` False) the headers of too large ones."""

    uids: tuple[int, ...]
    complete: bool


def plan(sizes: Sequence[tuple[int, int]], *, max_count: int, max_bytes: int,
         max_message: int | None) -> list[Batch]:
    """Batches in the given order for ``(uid, size)`` pairs.

    A batch of bodies holds at most ``max_count`` messages and ``max_bytes`` bytes, except that
    one message larger than ``max_bytes`` makes a batch of its own. Messages over
    ``max_message`` are cut (headers only); consecutive ones share a batch.
    """
    max_count, max_bytes = max(1, max_count), max(1, max_bytes)
    batches: list[Batch] = []
    current: list[int] = []
    current_bytes = 0
    current_complete = True

    def flush() -> None:
        nonlocal current, current_bytes
        if current:
            batches.append(Batch(tuple(current), current_complete))
        current, current_bytes = [], 0

    for uid, size in sizes:
        complete = max_message is None or size <= max_message
        weight = size if complete else 0
        if current and (complete != current_complete or len(current) >= max_count
                        or current_bytes + weight > max_bytes):
            flush()
        current_complete = complete
        current.append(uid)
        current_bytes += weight
    flush()
    return batches


def fetch_sizes(client: IMAPClient, uids: Sequence[int]) -> dict[int, int]:
    """UID → RFC822.SIZE; a UID missing from the answer was expunged meanwhile."""
    found: dict[int, int] = {}
    for start in range(0, len(uids), SIZE_CHUNK):
        chunk = list(uids[start : start + SIZE_CHUNK])
        answer: Mapping[int, Mapping[bytes, Any]] = client.fetch(chunk, ["RFC822.SIZE"])
        for uid, item in answer.items():
            size = item.get(b"RFC822.SIZE")
            if isinstance(size, int):
                found[uid] = size
    return found


def fetch_batch(client: IMAPClient, batch: Batch) -> dict[int, dict[bytes, Any]]:
    """The batch's bodies (or headers) with FLAGS and INTERNALDATE; \\Seen is left alone."""
    item = "BODY.PEEK[]" if batch.complete else HEADER_ITEM
    result: dict[int, dict[bytes, Any]] = client.fetch(list(batch.uids),
                                                       [item, "FLAGS", "INTERNALDATE"])
    return result


def content(item: Mapping[bytes, Any], complete: bool) -> bytes | None:
    """The fetched bytes of one message in a FETCH answer (``BODY[HEADER]<0>`` for a partial)."""
    if complete:
        data = item.get(b"BODY[]")
    else:
        data = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER]")), None)
    return None if data is None else bytes(data)
