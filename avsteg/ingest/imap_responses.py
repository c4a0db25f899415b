"""Reading what an IMAP server answers: plain functions over imapclient's parsed values.

Kept apart from the adapter (``imap_mailbox``) so they can be tested with literal responses,
as imapclient tests its own response parser.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

_NEWS = {b"EXISTS", b"RECENT"}


def has_news(responses: Sequence[Any]) -> bool:
    """True when untagged responses announce messages (``* 3 EXISTS``, ``* 1 RECENT``)."""
    return any(
        isinstance(item, tuple)
        and len(item) >= 2
        and item[1] in _NEWS
        and (item[1] == b"EXISTS" or (isinstance(item[0], int) and item[0] > 0))
        for item in responses
    )


def aware_utc(value: Any) -> dt.datetime | None:
    """imapclient gives INTERNALDATE as a naive local time unless told otherwise: make it UTC."""
    if not isinstance(value, dt.datetime):
        return None
    return value.astimezone(dt.UTC) if value.tzinfo else value.astimezone().astimezone(dt.UTC)


def response_text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
