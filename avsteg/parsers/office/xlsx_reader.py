"""A filled-in Excel template (.xlsx) → :class:`FoundTemplate`, from the sheet XML itself.

openpyxl's full load builds a styled cell object for every cell and costs many times the XML
parse; all we need is each cell's value. This small reader resolves shared and inline strings,
rich-text runs, booleans, formulas' cached values and numbers, and turns a number in a
date-formatted cell into a ``datetime`` (both the 1900 and the 1904 date system).

Sheets are found by their labels, not their names, so a renamed sheet or a workbook with the
report fields and the deviation table on one sheet still reads: rows whose first non-empty cell
is a label are label/value rows (``Rapport``); a row with several deviation labels is the header
of a deviation table, and every later non-empty row is one deviation (``Avsteg``).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from lxml import etree

from avsteg.domain.report import FoundTemplate, RawValue
from avsteg.domain.schema import Field, Schema
from avsteg.parsers.office.ooxml import Package, labels_for
from avsteg.parsers.office.xlsx_parts import (
    NS_S,
    date_styles,
    excel_date,
    first_child,
    ns_of,
    rich_text,
    shared_strings,
)

NS_S_STRICT = "http://purl.oclc.org/ooxml/spreadsheetml/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_R_STRICT = "http://purl.oclc.org/ooxml/officeDocument/relationships"

MAX_SHEETS = 30
MAX_CELLS = 200_000  # a filled template has a few hundred; a budget sheet is no report anyway
HEADER_MIN_LABELS = 3


Grid = dict[int, dict[int, RawValue]]  # row number → column number → value (1-based)


def read_xlsx(pkg: Package, schema: Schema) -> FoundTemplate:
    """Read every visible sheet of an opened package into raw label/value pairs."""
    found = FoundTemplate(format="xlsx")
    found.identifier, found.version = pkg.core_properties()
    workbook_name = pkg.main_part("xl/workbook.xml")
    workbook = pkg.xml(workbook_name)
    if workbook is None:
        return found
    s = ns_of(workbook, NS_S)
    pr = workbook.find(f"{{{s}}}workbookPr")
    found.date1904 = pr is not None and pr.get("date1904") in ("1", "true")
    rels = pkg.relationships(workbook_name)
    strings: list[str] = []
    styles: list[bool] = []
    for rel_type, target in rels.values():
        if rel_type.endswith("/sharedStrings"):
            strings = shared_strings(pkg, target)
        elif rel_type.endswith("/styles"):
            styles = date_styles(pkg, target)
    reader = _SheetReader(strings, styles, found.date1904)
    sheets_el = workbook.find(f"{{{s}}}sheets")
    grids: list[Grid] = []
    for sheet in (sheets_el if sheets_el is not None else [])[:MAX_SHEETS]:
        if sheet.get("state") in ("hidden", "veryHidden"):
            continue  # drop-down lists and the like, not something the reporter filled in
        rid = sheet.get(f"{{{NS_R}}}id") or sheet.get(f"{{{NS_R_STRICT}}}id")
        target = rels.get(rid or "", ("", ""))[1]
        if target and pkg.has(target):
            grids.append(reader.read(pkg.xml(target)))
    _Collector(schema, found).collect(grids)
    return found


class _SheetTags:
    """Clark names and compiled XPaths of one SpreadsheetML namespace (transitional or strict)."""

    def __init__(self, s: str) -> None:
        self.sheet_data, self.row, self.c = f"{{{s}}}sheetData", f"{{{s}}}row", f"{{{s}}}c"
        self.v, self.is_, self.t, self.rph = f"{{{s}}}v", f"{{{s}}}is", f"{{{s}}}t", f"{{{s}}}rPh"
        ns = {"s": s}
        self.count_cells = etree.XPath("count(s:row/s:c)", namespaces=ns)
        # The children of cells (a value, an inline string, a formula): a template's sheet is
        # mostly styled empty cells, and selecting these in C skips those without a Python loop.
        self.cell_children = etree.XPath("s:row/s:c/*", namespaces=ns)


_SHEET_TAGS = {ns: _SheetTags(ns) for ns in (NS_S, NS_S_STRICT)}


class _SheetReader:
    def __init__(self, strings: list[str], date_styles: list[bool], date1904: bool) -> None:
        self.strings = strings
        self.date_styles = date_styles
        self.date1904 = date1904

    def read(self, root: etree._Element) -> Grid:
        s = ns_of(root, NS_S)
        tags = _SHEET_TAGS.get(s) or _SheetTags(s)
        grid: Grid = {}
        data = root.find(tags.sheet_data)
        if data is None:
            return grid
        if tags.count_cells(data) > MAX_CELLS:
            return self.read_capped(data, tags)
        filled: dict[etree._Element, list[etree._Element]] = {}  # row → its non-empty cells
        last = None
        for child in tags.cell_children(data):
            c = child.getparent()
            if c is not last:  # a cell's children come together (document order)
                filled.setdefault(c.getparent(), []).append(c)
                last = c
        row_no = 0
        for row in data.iterchildren(tags.row):
            r = row.get("r")
            row_no = int(r) if r and r.isdigit() else row_no + 1
            cells = filled.get(row)
            if cells is None:
                continue
            values: dict[int, RawValue] = {}
            for c in cells:
                ref = c.get("r")
                if ref is None:  # placed after the cells before it, empty ones included
                    values = self.row_values(row, tags)
                    break
                value = self.value(c, tags)
                if value is not None and value != "":
                    values[_column(ref)] = value
            if values:
                grid[row_no] = values
        return grid

    def read_capped(self, data: etree._Element, tags: _SheetTags) -> Grid:
        """Cell by cell, stopping at :data:`MAX_CELLS` (the current row is left out)."""
        grid: Grid = {}
        cells = 0
        row_no = 0
        for row in data.iterchildren(tags.row):
            r = row.get("r")
            row_no = int(r) if r and r.isdigit() else row_no + 1
            count = sum(1 for _ in row.iterchildren(tags.c))
            if cells + count > MAX_CELLS:
                return grid
            cells += count
            values = self.row_values(row, tags)
            if values:
                grid[row_no] = values
        return grid

    def row_values(self, row: etree._Element, tags: _SheetTags) -> dict[int, RawValue]:
        """Column → value of one row, walking every cell (a cell without ``r`` follows the last)."""
        values: dict[int, RawValue] = {}
        col = 0
        last_ref: str | None = None  # ref of the last cell skipped without parsing it
        for c in row.iterchildren(tags.c):
            ref = c.get("r")
            if not len(c):  # styled but empty: by far the most common cell in a template
                if ref is None:
                    col += 1
                else:
                    last_ref = ref
                continue
            if ref is not None:
                col = _column(ref)
            else:
                col = (_column(last_ref) if last_ref else col) + 1
            last_ref = None
            value = self.value(c, tags)
            if value is not None and value != "":
                values[col] = value
        return values

    def value(self, c: etree._Element, tags: _SheetTags) -> Any:
        kind = c.get("t", "n")
        if kind == "inlineStr":
            inline = first_child(c, tags.is_)
            return rich_text(inline, tags.t, tags.rph) if inline is not None else None
        v = first_child(c, tags.v)
        text = v.text if v is not None else None
        if text is None:
            return None
        if kind == "s":
            try:
                return self.strings[int(text)]
            except (ValueError, IndexError):
                return None
        if kind in ("str", "e"):
            return text
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "d":
            try:
                return dt.datetime.fromisoformat(text.strip().rstrip("Z"))
            except ValueError:
                return text
        try:
            number = float(text)
        except ValueError:
            return text
        style = c.get("s")
        if style and style.isdigit():
            idx = int(style)
            if idx < len(self.date_styles) and self.date_styles[idx]:
                date = excel_date(number, self.date1904)
                if date is not None:
                    return date
        if number.is_integer() and abs(number) < 1e15:
            return int(number)
        return number


_TOTAL = re.compile(r"(?:summa|summering|totalt?|sum)\s*:?", re.IGNORECASE)


def _is_total(first: str, cells: dict[int, RawValue]) -> bool:
    """A row people add under the deviations: `Summa` and numbers (or formulas), nothing else."""
    return _TOTAL.fullmatch(first.strip()) is not None and sum(
        isinstance(v, str) for v in cells.values()) == 1


def _column(ref: str) -> int:
    """1-based column number of a cell reference such as ``AB12``."""
    n = 0
    for ch in ref:
        if not "A" <= ch <= "Z":
            break
        n = n * 26 + (ord(ch) - 64)
    return n


class _Collector:
    """Grids → report fields and deviation blocks (spec 2.2 layout, and what people make of it)."""

    def __init__(self, schema: Schema, found: FoundTemplate) -> None:
        self.index = labels_for(schema)
        self.found = found
        self.seen: set[str] = set()
        self.current: dict[str, RawValue] | None = None

    def collect(self, grids: list[Grid]) -> None:
        for grid in grids:
            self.current = None  # a new sheet starts a new block when a deviation field comes
            header: dict[int, Field] | None = None
            first_values: dict[str, RawValue] = {}
            filled = False
            first_col = 0
            for row_no in sorted(grid):
                cells = grid[row_no]
                if header is None:
                    labels = self.labels(cells)
                    header = self.header(cells, labels)
                    if header is not None:
                        first_col = min(header)
                        continue
                    self.label_row(cells, labels)
                    continue
                first = cells.get(first_col)
                if isinstance(first, str):
                    if first in self.index.printed:  # the header pasted again (a copied block)
                        again = self.header(cells, self.labels(cells))
                        if again is not None:
                            header = again
                            continue
                    elif _is_total(first, cells):
                        continue
                block: dict[str, RawValue] = {}
                for col, fld in header.items():
                    value = cells.get(col)
                    if fld.scope == "report":
                        if value is not None and fld.key not in first_values:
                            first_values[fld.key] = value
                    else:
                        block[fld.key] = value
                if any(v is not None for v in block.values()):
                    self.found.deviations.append(block)
                    filled = True
            if header is not None and not filled:
                # A deviation table with no row filled in: one empty deviation, so a blank
                # template lists the deviation's required fields as Word's empty table does.
                self.found.deviations.append(
                    {f.key: None for f in header.values() if f.scope == "deviation"})
            if header is not None:
                for fld in header.values():
                    self.seen.add(fld.key)
                    if fld.scope == "report":
                        self.set_report(fld.key, first_values.get(fld.key))
        self.found.recognised_labels = len(self.seen)

    def labels(self, cells: dict[int, RawValue]) -> dict[int, Field | None]:
        """Column → the field its text names (None: no label), for every text cell of a row."""
        return {col: self.index.get(value) for col, value in cells.items() if isinstance(value, str)}

    def header(self, cells: dict[int, RawValue], labels: dict[int, Field | None]) -> dict[int, Field] | None:
        """Column → field when this row holds several deviation labels, else None.

        A column named by a lone everyday synonym (`Avtal`, `Leverantor`) counts half, so a
        budget sheet's `Avtal | Leverantör | Kommentar` is no deviation table.
        """
        mapping: dict[int, Field] = {}
        weight = 0.0
        for col, fld in labels.items():
            if fld is not None and all(f.key != fld.key for f in mapping.values()):
                mapping[col] = fld
                if fld.scope == "deviation":
                    weight += 0.5 if self.index.is_weak(cells[col]) else 1.0  # type: ignore[arg-type]
        return mapping if weight >= HEADER_MIN_LABELS else None

    def label_row(self, cells: dict[int, RawValue], labels: dict[int, Field | None]) -> None:
        """`Label | value` (value in the next non-empty cell), or `Label: value` in one cell."""
        cols = sorted(cells)
        first = cells[cols[0]]
        if not isinstance(first, str):
            return
        value: RawValue = cells[cols[1]] if len(cols) > 1 else None
        fld = labels[cols[0]]
        if fld is None:
            head, sep, rest = first.partition(":")
            if not sep:
                head, sep, rest = first.partition("\n")
            fld = self.index.get(head) if sep else None
            if fld is None:
                return
            if rest.strip():
                value = rest.strip() if value is None else f"{rest.strip()}\n{value}"
        self.seen.add(fld.key)
        if fld.scope == "report":
            self.set_report(fld.key, value)
            return
        if self.current is None or fld.key in self.current:
            self.current = {}
            self.found.deviations.append(self.current)
        self.current[fld.key] = value

    def set_report(self, key: str, value: RawValue) -> None:
        report = self.found.report
        if key not in report or (report[key] is None and value is not None):
            report[key] = value
