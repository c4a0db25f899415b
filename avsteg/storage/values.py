"""Every value from a message fits its column, on SQLite and PostgreSQL alike.

A message is written by a stranger: a Message-ID or From of 5,000 characters, a Content-Type of
a kilobyte, a NUL byte in a file name, a lone surrogate left by a broken encoding. SQLite stores
all of that; PostgreSQL refuses it (``value too long for type character varying(998)``, ``text
fields cannot contain NUL``, invalid surrogates in JSONB) and the unit of work fails. Since the
raw message is stored in full, the columns only need a faithful, bounded copy. One function,
:func:`fit_text`, makes it, applied at the storage boundary:

* :func:`fit_rows` (a ``before_flush`` hook on every session) fits the string and JSON
  attributes of every row being written to its column's length, whatever the column (and
  leaves a typed number column empty when the number is beyond it: 99,999,999,999 jobs);
* :func:`clean_parameters` (a ``before_cursor_execute`` hook) removes what no database takes
  (NUL, lone surrogates) from the parameters of every statement, Core UPDATEs included.

Cut values end in a marker with a hash of the full value, so two long Message-IDs that share
their first 980 characters stay two different values.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, Numeric, String
from sqlalchemy.orm import Session, object_mapper
from sqlalchemy.orm.exc import UnmappedInstanceError

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MARKER = "…[avkortat {digest}]"  # "truncated"; the whole value is in the raw message
_DIGEST_CHARS = 12


def fit_text(value: str, max_chars: int | None = None) -> str:
    """``value`` without NUL bytes and lone surrogates, cut to ``max_chars`` with a marker."""
    if _UNSTORABLE.search(value):
        value = _UNSTORABLE.sub(REPLACEMENT, value)
    if max_chars is None or len(value) <= max_chars:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    marker = _MARKER.format(digest=digest)
    if max_chars <= len(marker) * 2:
        return value[:max_chars]  # a short code column: no room for a marker
    return value[: max_chars - len(marker)] + marker


def fit_json(value: Any) -> Any:
    """A JSON value whose strings (keys too) have no NUL and no lone surrogates (JSONB refuses them)."""
    if isinstance(value, str):
        return fit_text(value)
    if isinstance(value, dict):
        return {fit_text(k) if isinstance(k, str) else k: fit_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fit_json(v) for v in value]
    return value


def fit_row(row: object) -> None:
    """Fit every string and JSON attribute of a mapped ``row`` to its column."""
    try:
        mapper = object_mapper(row)
    except UnmappedInstanceError:
        return
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        kind = column.type
        if isinstance(kind, String):
            value = row.__dict__.get(attr.key)  # not a deferred column's lazy load
            if isinstance(value, str):
                fitted = fit_text(value, kind.length)
                if fitted is not value:
                    setattr(row, attr.key, fitted)
        elif isinstance(kind, Integer | Numeric):
            value = row.__dict__.get(attr.key)
            if value is not None and not fits_number(value, kind):
                # Kept whole where it came from (the raw message, a version's JSON values);
                # the typed column, which only sums and sorts, stays empty.
                setattr(row, attr.key, None)
        elif isinstance(kind, JSON) or isinstance(getattr(kind, "impl", None), JSON):
            value = row.__dict__.get(attr.key)
            if isinstance(value, dict | list) and _json_needs_fit(value):
                setattr(row, attr.key, fit_json(value))


def _json_needs_fit(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_UNSTORABLE.search(value))
    if isinstance(value, dict):
        return any(_json_needs_fit(k) or _json_needs_fit(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_json_needs_fit(v) for v in value)
    return False


INT32 = 2**31 - 1
INT64 = 2**63 - 1


def fits_number(value: Any, kind: Integer | Numeric) -> bool:
    """Whether PostgreSQL's ``integer``/``bigint``/``numeric(p, s)`` can hold ``value``."""
    if isinstance(kind, Integer) and not isinstance(kind, Numeric):
        if not isinstance(value, int):
            return True
        return abs(value) <= (INT64 if isinstance(kind, BigInteger) else INT32)
    precision, scale = getattr(kind, "precision", None), getattr(kind, "scale", None) or 0
    if precision is None or not isinstance(value, int | float | Decimal):
        return True
    try:
        return abs(Decimal(value)) < Decimal(10) ** (precision - scale)
    except (ArithmeticError, ValueError):
        return False


def fit_rows(session: Session, _flush_context: Any, _instances: Any) -> None:
    """``before_flush``: every new or changed row fits its columns before it is written."""
    for row in (*session.new, *session.dirty):
        fit_row(row)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clean(v) for v in value)
    return value


def clean_parameters(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
) -> tuple[str, Any]:
    """``before_cursor_execute`` (retval): no NUL or lone surrogate reaches the driver."""
    return statement, _clean(parameters)
