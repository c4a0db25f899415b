"""Simple Excel formulas computed from the sheet, for cells saved without a cached value.

Excel stores a formula's last value next to it; files written by programs (openpyxl, scripts,
some exports) store none, so the field would read as empty while Excel shows a number. This
computes what is simple and common in a filled template: numbers, cell references and ranges on
the same sheet, ``+ - * /``, parentheses, unary signs and ``SUM``. Anything else (other
functions, other sheets, text in arithmetic, division by zero, a cycle) is :class:`Unsupported`,
and the caller names the formula in its error. One left-to-right pass over the tokens: linear
in the formula's length, with nesting and length capped.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from avsteg.domain.report import RawValue, UnreadFormula

MAX_LENGTH = 1000
MAX_DEPTH = 40

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)"
    r"|(?P<range>\$?[A-Za-z]{1,3}\$?\d+:\$?[A-Za-z]{1,3}\$?\d+)"
    r"|(?P<ref>\$?[A-Za-z]{1,3}\$?\d+)(?![\w(!])"
    r"|(?P<func>[A-Za-z][\w.]*)\s*\("
    r"|(?P<op>[-+*/(),;]))"
)
_REF = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)(\d+)")

Cell = tuple[int, int]  # (row, column), 1-based
Lookup = Callable[[Cell], float | None]  # a referenced cell's number; None: empty; raises Unsupported


class Unsupported(ValueError):
    """Raised for a formula this module does not compute (the caller names it in the error)."""


def column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def cell_of(text: str) -> Cell:
    m = _REF.fullmatch(text)
    if m is None:
        raise Unsupported(text)
    return int(m[4]), column_number(m[2])


def shift(formula: str, rows: int, cols: int) -> str:
    """A shared formula as it reads in a cell ``rows``/``cols`` away from its master (relative
    references move, ``$``-anchored ones stay)."""
    def move(m: re.Match[str]) -> str:
        col = column_number(m[2]) + (0 if m[1] else cols)
        row = int(m[4]) + (0 if m[3] else rows)
        if col < 1 or row < 1:
            raise Unsupported(formula)
        return f"{m[1]}{_letters(col)}{m[3]}{row}"

    return _REF.sub(move, formula)


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def evaluate(formula: str, lookup: Lookup, cells_in: Callable[[Cell, Cell], Iterable[float]]) -> float:
    """The value of ``formula`` (without its leading ``=``); raises :class:`Unsupported`.

    ``lookup`` gives a referenced cell's number (None when empty, which counts as 0);
    ``cells_in`` the numbers inside a range (text and empty cells left out, as SUM does)."""
    text = formula.strip().lstrip("=")
    if not text or len(text) > MAX_LENGTH:
        raise Unsupported(formula)
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip():
                raise Unsupported(formula)
            break
        kind = m.lastgroup or ""
        tokens.append((kind, m[kind]))
        pos = m.end()
    parser = _Parser(tokens, lookup, cells_in, formula)
    value = parser.expr(0)
    if parser.i != len(tokens):
        raise Unsupported(formula)
    return value


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], lookup: Lookup,
                 cells_in: Callable[[Cell, Cell], Iterable[float]], formula: str) -> None:
        self.tokens, self.lookup, self.cells_in, self.formula = tokens, lookup, cells_in, formula
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, op: str) -> bool:
        tok = self.peek()
        if tok is not None and tok == ("op", op):
            self.i += 1
            return True
        return False

    def fail(self) -> Unsupported:
        return Unsupported(self.formula)

    def expr(self, depth: int) -> float:
        value = self.term(depth)
        while True:
            if self.take("+"):
                value += self.term(depth)
            elif self.take("-"):
                value -= self.term(depth)
            else:
                return value

    def term(self, depth: int) -> float:
        value = self.factor(depth)
        while True:
            if self.take("*"):
                value *= self.factor(depth)
            elif self.take("/"):
                divisor = self.factor(depth)
                if divisor == 0:
                    raise self.fail()
                value /= divisor
            else:
                return value

    def factor(self, depth: int) -> float:
        if depth > MAX_DEPTH:
            raise self.fail()
        if self.take("-"):
            return -self.factor(depth + 1)
        if self.take("+"):
            return self.factor(depth + 1)
        tok = self.peek()
        if tok is None:
            raise self.fail()
        kind, text = tok
        self.i += 1
        if kind == "num":
            return float(text)
        if kind == "ref":
            value = self.lookup(cell_of(text))
            return 0.0 if value is None else value
        if kind == "op" and text == "(":
            value = self.expr(depth + 1)
            if not self.take(")"):
                raise self.fail()
            return value
        if kind == "func" and text.upper() == "SUM":
            return self.sum(depth + 1)
        raise self.fail()

    def sum(self, depth: int) -> float:
        total = 0.0
        if self.take(")"):
            return total
        while True:
            tok = self.peek()
            if tok is not None and tok[0] == "range":
                self.i += 1
                first, _, last = tok[1].partition(":")
                (r1, c1), (r2, c2) = cell_of(first), cell_of(last)
                total += sum(self.cells_in((min(r1, r2), min(c1, c2)), (max(r1, r2), max(c1, c2))))
            else:
                total += self.expr(depth)
            if self.take(")"):
                return total
            if not (self.take(",") or self.take(";")):
                raise self.fail()


class Pending:
    """A formula cell saved without a value: computed once the whole sheet is read."""

    __slots__ = ("text", "shared")

    def __init__(self, text: str, shared: str | None) -> None:
        self.text, self.shared = text, shared


def compute_formulas(grid: dict[int, dict[int, Any]]) -> None:
    """Each pending formula's value (spec 2.3: a simple formula without a cached value is
    computed), or an :class:`UnreadFormula` that the field's error names."""
    pending: dict[tuple[int, int], Pending] = {}
    for r, row in grid.items():
        for c, v in row.items():
            if isinstance(v, Pending):
                pending[(r, c)] = v
    masters: dict[str, tuple[str, int, int]] = {}
    for (r, c), p in pending.items():
        if p.shared is not None and p.text:
            masters[p.shared] = (p.text, r, c)
    done: dict[tuple[int, int], RawValue] = {}
    busy: set[tuple[int, int]] = set()

    def text_of(cell: tuple[int, int], p: Pending) -> str:
        if p.text or p.shared is None or p.shared not in masters:
            return p.text
        master, r, c = masters[p.shared]
        return shift(master, cell[0] - r, cell[1] - c)

    def number(cell: tuple[int, int]) -> float | None:
        value = grid.get(cell[0], {}).get(cell[1])
        if isinstance(value, Pending):
            value = compute(cell, value)
        if value is None:
            return None
        if isinstance(value, str):  # Excel's arithmetic reads a number typed as text
            try:
                return float(value.strip().replace(",", "."))
            except ValueError:
                raise Unsupported(value) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Unsupported(str(value))
        return float(value)

    def numbers_in(first: tuple[int, int], last: tuple[int, int]) -> list[float]:
        out = []
        for r in [r for r in grid if first[0] <= r <= last[0]]:
            for c in [c for c in grid[r] if first[1] <= c <= last[1]]:
                value = grid[r][c]
                if isinstance(value, Pending):
                    value = compute((r, c), value)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out.append(float(value))
        return out

    def compute(cell: tuple[int, int], p: Pending) -> RawValue:
        if cell in done:
            return done[cell]
        text = ""
        try:
            if cell in busy or len(busy) > MAX_DEPTH:
                raise Unsupported("cycle")
            busy.add(cell)
            text = text_of(cell, p)
            result: RawValue = as_number(evaluate(text, number, numbers_in))
        except Unsupported:
            result = UnreadFormula("=" + (text or p.text or "…"))
        finally:
            busy.discard(cell)
        done[cell] = result
        return result

    for cell, p in pending.items():
        grid[cell[0]][cell[1]] = compute(cell, p)


def as_number(value: float) -> int | float:
    return int(value) if value.is_integer() and abs(value) < 1e15 else value
