"""Which options a person chose in a choice cell, however they marked it (spec 2.3).

One rule set serves Word (one string per paragraph) and Excel (text split on `;`, `,` and line
breaks), in this order:

1. a line is *marked* when a mark (☒ ☑ ✓ ✔ ✗ ✘ ■ [x] (x) X x) stands in front of, in place of or
   after the box; if any line is marked, the marked lines are the choice, and a marked line that
   names no option is an error (``invalid_choice``);
2. otherwise, if ☐ boxes remain: every option still there means nothing was chosen, unless some
   options lost their box (those are chosen); options deleted means the remaining ones are chosen;
3. otherwise the cell is free text: every option whose name or synonym occurs in it (any letter
   case, whole words) is chosen, and an item (between `;`, `,` or line breaks) that names none
   is an error.

`Annat: städning` names only `Annat`: text after an option and a colon or dash is a description.
Longer names win over shorter ones inside them, so `Personer med …` options never collide.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

from avsteg.domain.normalise import Invalid, is_blank, text_of
from avsteg.domain.schema import Field

MARKS = "☒☑✓✔✗✘■⊠▣☓✕✖√🗹⮽❎"
BOXES = "☐□◻⬜❑❒▢"
_LEADING = re.compile(
    rf"\s*(?:(?P<mark>[{MARKS}]|\[\s*x\s*\]|\(\s*x\s*\)|x(?=[\s:.)\]\-–{BOXES}]|$))"
    rf"|(?P<box>[{BOXES}]|\[\s*\]|\(\s*\)))",
    re.IGNORECASE,
)
_TRAILING = re.compile(rf"(?:\s*[{MARKS}]|\s+(?:x|\[x\]|\(x\)))\s*$", re.IGNORECASE)
_DESCRIPTION = re.compile(r"\s*[:\-–—(]")
_DESCRIBED = re.compile(r"[:(–—]|\s-\s")
_SEPARATORS = re.compile(r"[;,\n\r\v]")
# The last character of a line _TRAILING can match at all (it is anchored at the end).
_TRAILING_LAST = frozenset(MARKS + "xX])")

Patterns = tuple[tuple[str, re.Pattern[str]], ...]


class _Options:
    """A choice field's option names and synonyms, compiled once per field (a hot path).

    ``patterns``: one regex per name, longest first (it wins an overlap). ``exact``: the answer
    of :func:`_named` for each name as the schema spells it (folded), worked out once by the same
    scan, because a line usually holds just one option's name. ``lines``: what
    :func:`_classify` makes of each line as the template prints it or a person ticks it (a box
    or a mark, a space and a name; or the bare name), worked out once by :func:`_classify`.
    """

    def __init__(self, field: Field) -> None:
        names = [(opt, opt) for opt in field.options]
        names += [(opt, syn) for opt, syns in field.option_synonyms.items() for syn in syns]
        names.sort(key=lambda pair: -len(pair[1]))
        self.patterns: Patterns = tuple(
            (opt, re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, _fold(name).split())) + r"(?!\w)"))
            for opt, name in names
        )
        self.exact: dict[str, tuple[str, ...]] = {}
        self.lines: dict[str, tuple[str, str]] = {}
        for _, name in names:
            folded = _fold(name)
            self.exact[folded] = _scan(folded, self.patterns)
            for line in (name, *(f"{glyph} {name}" for glyph in MARKS + BOXES)):
                if line == line.strip() and not _SEPARATORS.search(line):  # one line of a cell
                    self.lines[line] = _classify(line)


# Field → its compiled options; fields live as long as their schema, so this stays small.
_OPTIONS: dict[int, tuple[Field, _Options]] = {}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _classified(raw: Any, options: _Options) -> list[tuple[str, str, str]]:
    """(kind, rest, line) of each line of a cell that is more than a lone box or mark."""
    items = raw if isinstance(raw, (list, tuple)) else [text_of(raw) or ""]
    out: list[tuple[str, str, str]] = []
    for item in items:
        if item is None:
            continue
        known = options.lines.get(item) if type(item) is str else None
        if known is not None:
            if known[1]:
                out.append((known[0], known[1], item))
            continue
        for part in _SEPARATORS.split(str(item)):
            part = part.strip()
            if part:
                kind, rest = _classify(part)
                if rest:
                    out.append((kind, rest, part))
    return out


def _options(field: Field) -> _Options:
    hit = _OPTIONS.get(id(field))
    if hit is None or hit[0] is not field:
        if len(_OPTIONS) > 256:
            _OPTIONS.clear()
        hit = _OPTIONS[id(field)] = (field, _Options(field))
    return hit[1]


def _named(text: str, options: _Options) -> tuple[str, ...]:
    """Options a piece of text names; an option followed by `:` or `-` ends the list."""
    folded = _fold(text)
    known = options.exact.get(folded)
    return known if known is not None else _scan(folded, options.patterns)


def _scan(folded: str, patterns: Patterns) -> tuple[str, ...]:
    taken: list[tuple[int, int, str]] = []
    for option, pattern in patterns:
        for m in pattern.finditer(folded):
            if all(m.end() <= s or m.start() >= e for s, e, _ in taken):
                taken.append((m.start(), m.end(), option))
    taken.sort()
    if taken and taken[0][0] == 0 and _DESCRIPTION.match(folded, taken[0][1]):
        return (taken[0][2],)
    return tuple(option for _, _, option in taken)


def _classify(line: str) -> tuple[str, str]:
    """("marked" | "boxed" | "plain", the line without its boxes and marks)."""
    marked = boxed = False
    pos = 0
    while m := _LEADING.match(line, pos):
        if m.end() == pos:
            break
        marked |= m["mark"] is not None
        boxed |= m["box"] is not None
        pos = m.end()
    rest = line[pos:].strip()
    if rest[-1:] in _TRAILING_LAST and (trailing := _TRAILING.search(rest)):
        marked = marked or bool(rest[: trailing.start()].strip())
        rest = rest[: trailing.start()].strip()
    if not rest:  # a lone mark or box is not a choice
        return "plain", ""
    return ("marked" if marked else "boxed" if boxed else "plain"), rest


def _in_schema_order(chosen: set[str], field: Field) -> list[str]:
    return [option for option in field.options if option in chosen]


def chosen_options(raw: Any, field: Field) -> list[str]:
    """Canonical option names chosen, in schema order; [] when nothing is chosen."""
    return [] if is_blank(raw) else chosen_in(raw, field)


def chosen_in(raw: Any, field: Field) -> list[str]:
    """:func:`chosen_options` of a value already known not to be blank."""
    options = _options(field)
    lines = _classified(raw, options)
    marked = [(rest, line) for kind, rest, line in lines if kind == "marked"]
    if marked:
        chosen: set[str] = set()
        for rest, line in marked:
            named = _named(rest, options)
            if not named:
                raise Invalid("invalid_choice", line)
            chosen.update(named)
        return _in_schema_order(chosen, field)
    if any(kind == "boxed" for kind, _, _ in lines):
        boxed = {o for kind, rest, _ in lines if kind == "boxed" for o in _named(rest, options)}
        plain = {o for kind, rest, _ in lines if kind == "plain" for o in _named(rest, options)}
        if boxed | plain >= set(field.options):
            return _in_schema_order(plain, field)  # untouched, or chosen by removing a box
        return _in_schema_order(boxed | plain, field)  # the others were deleted
    # Free text: a list of options (spec 2.2: separated by `;`, `,` or line breaks). An item that
    # names no option is a mistake (`Praktik; Volontärarbete`), unless it continues the
    # description of the item before it (`Annat: städning, fönsterputs`).
    mentioned: set[str] = set()
    describing = False
    for _, rest, line in lines:
        named = _named(rest, options)
        if named:
            mentioned.update(named)
            describing = _DESCRIBED.search(rest) is not None
        elif not describing and not rest.startswith("("):  # `(se kommentar)` is a note
            raise Invalid("invalid_choice", line)
    if not mentioned:
        raise Invalid("invalid_choice", text_of(raw) or "")
    return _in_schema_order(mentioned, field)
