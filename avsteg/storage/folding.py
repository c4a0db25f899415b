"""Case-insensitive "contains" that folds Swedish (any Unicode) letters on every database.

``ILIKE`` is not enough: on SQLite it is ``lower() LIKE lower()`` and SQLite's ``lower()`` folds
ASCII only, so "örebro" never found "Örebro"; on PostgreSQL it folds by the database's
``LC_CTYPE``, and a cluster made with ``--locale=C`` (the tests', and many a server's) folds
ASCII only as well. So :func:`contains_folded` compiles per dialect:

* SQLite — ``avsteg_fold(column) LIKE avsteg_fold(pattern)``: :func:`fold` (Python's
  ``str.casefold``) registered as a deterministic function on every connection
  (:mod:`avsteg.storage.database`).
* PostgreSQL — ``column ILIKE prefilter AND (column COLLATE "und-x-icu") ILIKE pattern``. The
  ICU collation folds every letter whatever the database's ctype. The trigram indexes of
  migration 0007 are on the column's own collation, so a comparison in another collation
  cannot use them; the first, plain ILIKE can: its pattern has each non-ASCII character
  replaced by ``_`` (any one character), which matches at least what the ICU comparison
  matches (the only exceptions would be the Kelvin sign and a dotted capital I in the text
  matching ASCII k or i in the search), so the index narrows and ICU decides.
* Anything else — ``lower() LIKE lower()``.

``%``, ``_`` and ``\\`` in the searched text are matched literally (escaped with ``\\``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

FOLD_FUNCTION = "avsteg_fold"
ESCAPE = "\\"
PG_COLLATION = '"und-x-icu"'  # ICU's root locale: Unicode's case folding, any database ctype


def fold(value: str | None) -> str | None:
    """The SQLite function ``avsteg_fold``: Unicode case folding (NULL stays NULL)."""
    return value.casefold() if isinstance(value, str) else value


def escape_like(text: str) -> str:
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


class contains_folded(FunctionElement[bool]):  # noqa: N801 - a SQL function, named like one
    """``column`` contains ``text``, ignoring case (Unicode): see the module's docstring."""

    type = Boolean()
    inherit_cache = True
    name = "contains_folded"

    def __init__(self, column: ColumnElement[Any], text: str) -> None:
        escaped = escape_like(text)
        pattern = f"%{escaped}%"
        prefilter = "%" + "".join(c if c.isascii() else "_" for c in escaped) + "%"
        super().__init__(column, bindparam(None, pattern, unique=True),
                         bindparam(None, prefilter, unique=True))


def _parts(element: contains_folded, compiler: Any, **kw: Any) -> tuple[str, str, str]:
    column, pattern, prefilter = (compiler.process(c, **kw) for c in element.clauses)
    return column, pattern, prefilter


@compiles(contains_folded)
def _compile_default(element: contains_folded, compiler: Any, **kw: Any) -> str:
    column, pattern, _ = _parts(element, compiler, **kw)
    return f"(lower({column}) LIKE lower({pattern}) ESCAPE '{ESCAPE}')"


@compiles(contains_folded, "sqlite")
def _compile_sqlite(element: contains_folded, compiler: Any, **kw: Any) -> str:
    column, pattern, _ = _parts(element, compiler, **kw)
    return (f"({FOLD_FUNCTION}({column}) LIKE {FOLD_FUNCTION}({pattern}) "
            f"ESCAPE '{ESCAPE}')")


@compiles(contains_folded, "postgresql")
def _compile_postgresql(element: contains_folded, compiler: Any, **kw: Any) -> str:
    column, pattern, prefilter = _parts(element, compiler, **kw)
    # standard_conforming_strings (on since PostgreSQL 9.1): '\' is one backslash.
    return (f"({column} ILIKE {prefilter} ESCAPE '{ESCAPE}' AND "
            f"({column} COLLATE {PG_COLLATION}) ILIKE {pattern} ESCAPE '{ESCAPE}')")
