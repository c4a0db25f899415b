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
from avsteg.parsers.ooxml import Package, labels_for

NS_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_S_STRICT = "http://purl.oclc.org/ooxml/spreadsheetml/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_R_STRICT = "http://purl.oclc.org/ooxml/officeDocument/relationships"

MAX_SHEETS = 30
MAX_CELLS = 200_000  # a filled template has a few hundred; a budget sheet is no report anyway
HEADER_MIN_LABELS = 3

_BUILTIN_DATE_FORMATS = frozenset(range(14, 23)) | {27, 30, 36, 45, 46, 47, 50, 57}
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')

Grid = dict[int, dict[int, RawValue]]  # row number → column number → value (1-based)


def read_xlsx(pkg: Package, schema: Schema) -> FoundTemplate:
    """Read every visible sheet of an opened package into raw label/value pairs."""
    found = FoundTemplate(format="xlsx")
    found.identifier, found.version = pkg.core_properties()
    workbook_name = pkg.main_part("xl/workbook.xml")
    workbook = pkg.xml(workbook_name)
    if workbook is None:
        return found
    s = _ns(workbook, NS_S)
    pr = workbook.find(f"{{{s}}}workbookPr")
    found.date1904 = pr is not None and pr.get("date1904") in ("1", "true")
    rels = pkg.relationships(workbook_name)
    strings: list[str] = []
    styles: list[bool] = []
    for rel_type, target in rels.values():
        if rel_type.endswith("/sharedStrings"):
            strings = _shared_strings(pkg, target)
        elif rel_type.endswith("/styles"):
            styles = _date_styles(pkg, target)
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


def _ns(root: etree._Element, default: str) -> str:
    return root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else default


def _shared_strings(pkg: Package, name: str) -> list[str]:
    root = pkg.xml(name)
    if root is None:
        return []
    s = _ns(root, NS_S)
    t_tag, rph_tag = f"{{{s}}}t", f"{{{s}}}rPh"
    out: list[str] = []
    for si in root:
        out.append(_rich_text(si, t_tag, rph_tag))
    return out


def _rich_text(el: etree._Element, t_tag: str, rph_tag: str) -> str:
    """Plain text or rich-text runs joined; phonetic guides (rPh) left out."""
    first = el.find(t_tag)
    if first is not None and len(el) == 1:
        return first.text or ""
    parts = []
    for t in el.iter(t_tag):
        if t.getparent().tag != rph_tag:
            parts.append(t.text or "")
    return "".join(parts)


def _date_styles(pkg: Package, name: str) -> list[bool]:
    """For each cell style index (cellXfs), whether its number format shows a date."""
    root = pkg.xml(name)
    if root is None:
        return []
    s = _ns(root, NS_S)
    custom: dict[int, bool] = {}
    fmts = root.find(f"{{{s}}}numFmts")
    for fmt in fmts if fmts is not None else []:
        try:
            custom[int(fmt.get("numFmtId") or "")] = is_date_format(fmt.get("formatCode") or "")
        except ValueError:
            continue
    out: list[bool] = []
    xfs = root.find(f"{{{s}}}cellXfs")
    for xf in xfs if xfs is not None else []:
        try:
            fid = int(xf.get("numFmtId") or 0)
        except ValueError:
            fid = 0
        out.append(custom.get(fid, fid in _BUILTIN_DATE_FORMATS))
    return out


def is_date_format(code: str) -> bool:
    """Whether a custom number format shows a date (has d, m or y outside quotes/brackets)."""
    if code.casefold() == "general":
        return False
    cleaned = _FORMAT_NOISE.sub("", code.split(";")[0]).casefold()
    return any(ch in cleaned for ch in "dmy")


def excel_date(serial: float, date1904: bool) -> dt.datetime | None:
    """An Excel serial number as a datetime; None when out of any sensible range."""
    if not 0 < serial < 2_958_466:
        return None
    if date1904:
        base = dt.datetime(1904, 1, 1)
    else:
        base = dt.datetime(1899, 12, 31) if serial < 60 else dt.datetime(1899, 12, 30)
    return base + dt.timedelta(seconds=round(serial * 86400))


class _SheetReader:
    def __init__(self, strings: list[str], date_styles: list[bool], date1904: bool) -> None:
        self.strings = strings
        self.date_styles = date_styles
        self.date1904 = date1904

    def read(self, root: etree._Element) -> Grid:
        s = _ns(root, NS_S)
        row_tag, c_tag, v_tag, is_tag = f"{{{s}}}row", f"{{{s}}}c", f"{{{s}}}v", f"{{{s}}}is"
        t_tag, rph_tag = f"{{{s}}}t", f"{{{s}}}rPh"
        grid: Grid = {}
        data = root.find(f"{{{s}}}sheetData")
        if data is None:
            return grid
        cells = 0
        row_no = 0
        for row in data.iterchildren(row_tag):
            r = row.get("r")
            row_no = int(r) if r and r.isdigit() else row_no + 1
            values: dict[int, RawValue] = {}
            col = 0
            last_ref: str | None = None  # ref of the last cell skipped without parsing it
            for c in row.iterchildren(c_tag):
                cells += 1
                if cells > MAX_CELLS:
                    return grid
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
                value = self.value(c, v_tag, is_tag, t_tag, rph_tag)
                if value is not None and value != "":
                    values[col] = value
            if values:
                grid[row_no] = values
        return grid

    def value(self, c: etree._Element, v_tag: str, is_tag: str, t_tag: str, rph_tag: str) -> Any:
        kind = c.get("t", "n")
        if kind == "inlineStr":
            inline = c.find(is_tag)
            return _rich_text(inline, t_tag, rph_tag) if inline is not None else None
        v = c.find(v_tag)
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
            for row_no in sorted(grid):
                cells = grid[row_no]
                if header is None:
                    header = self.header(cells)
                    if header is not None:
                        continue
                    self.label_row(cells)
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
            if header is not None:
                for col, fld in header.items():
                    self.seen.add(fld.key)
                    if fld.scope == "report":
                        self.set_report(fld.key, first_values.get(fld.key))
        self.found.recognised_labels = len(self.seen)

    def header(self, cells: dict[int, RawValue]) -> dict[int, Field] | None:
        """Column → field when this row holds several deviation labels, else None."""
        mapping: dict[int, Field] = {}
        for col, value in cells.items():
            if isinstance(value, str):
                fld = self.index.get(value)
                if fld is not None and all(f.key != fld.key for f in mapping.values()):
                    mapping[col] = fld
        deviation_labels = sum(1 for f in mapping.values() if f.scope == "deviation")
        return mapping if deviation_labels >= HEADER_MIN_LABELS else None

    def label_row(self, cells: dict[int, RawValue]) -> None:
        """`Label | value` (value in the next non-empty cell), or `Label: value` in one cell."""
        cols = sorted(cells)
        first = cells[cols[0]]
        if not isinstance(first, str):
            return
        value: RawValue = cells[cols[1]] if len(cols) > 1 else None
        fld = self.index.get(first)
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
