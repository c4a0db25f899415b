"""Entries the Word walker found (label, lines, table) → report fields and deviation blocks.

Split from :mod:`avsteg.parsers.office.docx_reader`, which walks the XML: this is where copied
tables, headings `Avsteg N`, repeated fields and section rows decide where a deviation starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

from avsteg.domain.report import FoundTemplate
from avsteg.domain.schema import Field, label_key
from avsteg.parsers.office.ooxml import Labels


@dataclass(slots=True)
class Entry:
    field: Field | None  # None: a break (a heading "Avsteg 2", or a table start)
    lines: list[str] = dc_field(default_factory=list)
    table: int | None = None
    heading: bool = False  # an empty row labelled by a synonym ("Resultat"): maybe a heading

def trim(lines: list[str]) -> list[str]:
    """Drop blank lines at either end; inner blank lines are part of a multi-line text."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def assemble(entries: list[Entry], found: FoundTemplate, labels: Labels) -> None:
    """Report fields to ``found.report``; deviation fields into blocks (spec 2.3: copied tables)."""
    value_help = labels.value_help
    table_keys: dict[int, set[str]] = {}
    for e in entries:
        if e.field is not None and e.field.scope == "deviation" and e.table is not None:
            table_keys.setdefault(e.table, set()).add(e.field.key)
    seen: set[str] = set()
    current: dict | None = None
    headings: set[tuple[int | None, str]] = set()  # (table, key) of the block's heading rows
    pending = False
    for e in entries:
        if e.field is None:
            if current is not None and (e.table is None or table_keys.get(e.table, set()) & current.keys()):
                pending = True  # a heading, or a table repeating fields of the current block
            continue
        key = e.field.key
        seen.add(key)
        hint = value_help.get(key)
        if hint is not None and e.lines:  # drop the template's line under `Annat`
            e.lines = [ln for ln in e.lines if ln != hint[0] and (
                not ln.lstrip().startswith(hint[1]) or label_key(ln) != hint[2])]
        if e.field.scope == "report":
            old = found.report.get(key)
            if old is None or (not old and e.lines):
                found.report[key] = e.lines
            continue
        if current is not None and not pending and (e.table, key) in headings:
            headings.discard((e.table, key))  # the field itself, under its heading row
        elif current is None or pending or key in current:
            current = {}
            found.deviations.append(current)
            headings.clear()
            pending = False
        if e.heading:
            headings.add((e.table, key))
        current[key] = e.lines
    found.recognised_labels = len(seen)
