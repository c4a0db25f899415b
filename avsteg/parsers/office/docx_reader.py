"""A filled-in Word template (.docx) → :class:`FoundTemplate`, straight from ``document.xml``.

python-docx builds an object per run and is ~15× slower than parsing the XML; and it hides what
people actually do to a template (content controls around rows, checkbox controls, Wingdings
ticks, tracked changes, vertically merged label cells). So this walks the lxml tree itself, in
document order, and hands validation the raw text lines of each value cell. It does not
normalise values: that is :mod:`avsteg.domain.validation`'s job.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import lru_cache

from lxml import etree

from avsteg.domain.report import FoundTemplate
from avsteg.domain.schema import Field, Schema, label_key
from avsteg.parsers.office.docx_text import (
    NS_W,
    TAGS,
    Tags,
    paragraph_text,
    paragraph_texts,
    placeholder,
)
from avsteg.parsers.office.ooxml import Package, labels_for


@dataclass(slots=True)
class _Entry:
    field: Field | None  # None: a break (a heading "Avsteg 2", or a table start)
    lines: list[str] = dc_field(default_factory=list)
    table: int | None = None


_Row = tuple["etree._Element | None", list[list[str]], list[etree._Element]]


def read_docx(pkg: Package, schema: Schema) -> FoundTemplate:
    """Read the main document part of an opened package into raw label/value pairs."""
    root = pkg.xml(pkg.main_part("word/document.xml"))
    found = FoundTemplate(format="docx")
    found.identifier, found.version = pkg.core_properties()
    if root is None:
        return found
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else NS_W
    walker = _Walker(TAGS.get(ns, TAGS[NS_W]), schema)
    body = root.find(walker.t.body)
    if body is not None:
        walker.texts = paragraph_texts(body, walker.t)
        walker.continued = merged_continuations(body, walker.t)
        walker.blocks(body)
    _assemble(walker.entries, found)
    return found


class _Walker:
    def __init__(self, tags: Tags, schema: Schema) -> None:
        self.t = tags
        self.index = labels_for(schema)
        self.heading = _heading_pattern(schema.deviation_heading)
        self.entries: list[_Entry] = []
        self.tables = 0
        self.texts: dict[etree._Element, str] = {}
        self.continued: set[etree._Element] = set()

    def text(self, p: etree._Element) -> str:
        text = self.texts.get(p)
        return paragraph_text(p, self.t) if text is None else text

    # -- block level -------------------------------------------------------------------------
    def blocks(self, parent: etree._Element) -> None:
        t = self.t
        for child in parent:
            tag = child.tag
            if tag == t.p:
                self.paragraph(child)
            elif tag == t.tbl:
                self.table(child)
            elif tag == t.sdt:
                if not placeholder(child, t):
                    content = child.find(t.sdtContent)
                    if content is not None:
                        self.blocks(content)
            elif tag == t.customXml:
                self.blocks(child)

    def paragraph(self, p: etree._Element) -> None:
        """A paragraph outside tables: `Label: value` (retyped reports) or a deviation heading."""
        text = self.text(p)
        if not text.strip():
            return
        if self.heading.match(text):
            self.entries.append(_Entry(None))
            return
        lines = text.split("\n")
        label, sep, rest = lines[0].partition(":")
        if sep:
            fld = self.index.get(label)
            if fld is not None:
                self.entries.append(_Entry(fld, _trim([rest.strip(), *lines[1:]])))

    def table(self, tbl: etree._Element) -> None:
        self.tables += 1
        number = self.tables
        self.entries.append(_Entry(None, table=number))
        previous: _Entry | None = None
        continued, index = self.continued, self.index
        rows = self.plain_rows(tbl)
        for first, cells, nested in rows if rows is not None else self.rows(tbl):
            if first is None:
                continue
            if first in continued and previous is not None:
                # The label cell is merged down from the row above: more of the same value.
                previous.lines = _trim(previous.lines + [ln for c in cells[1:] for ln in c])
                continue
            label = cells[0] if len(cells) == 2 else None
            fld = None
            if label is not None and len(label) == 1 and label[0] and not label[0].isspace():
                fld = index.get(label[0])  # the template's shape: one-line label, then value
            if fld is not None:
                value = cells[1]
                if not value or not value[0].strip() or not value[-1].strip():
                    value = _trim(value)
                previous = _Entry(fld, value, number)
                self.entries.append(previous)
                continue
            entries = self.row(cells, number)
            if entries:
                self.entries.extend(entries)
                previous = entries[-1]
            else:
                previous = None
                for inner in nested:
                    self.table(inner)

    def plain_rows(self, tbl: etree._Element) -> list[_Row] | None:
        """The rows of a table whose rows, cells and paragraphs are plain children (the template
        as written): one C-level pass, no element made for row and cell properties. None when
        the table holds a nested table, a content control, custom XML or anything out of place;
        :meth:`rows` then reads it."""
        t = self.t
        tr_tag, tc_tag, p_tag, texts = t.tr, t.tc, t.p, self.texts
        out: list[_Row] = []
        tr = tc = None
        cells: list[list[str]] = []
        lines: list[str] = []
        for el in tbl.iter(tr_tag, tc_tag, p_tag, t.tbl, t.sdt, t.customXml):
            tag = el.tag
            if tag == p_tag:
                if el.getparent() is not tc:
                    return None
                _add_lines(lines, el, texts, t)
            elif tag == tc_tag:
                if tr is None or el.getparent() is not tr:
                    return None
                if not cells:
                    out[-1] = (el, cells, [])
                tc, lines = el, []
                cells.append(lines)
            elif tag == tr_tag:
                if el.getparent() is not tbl:
                    return None
                tr, tc, cells = el, None, []
                out.append((None, cells, []))
            elif el is not tbl:
                return None
        return out

    def rows(self, tbl: etree._Element) -> list[_Row]:
        """Each row's first cell, its cells' lines and the tables nested in them, read through
        content controls and custom XML."""
        t = self.t
        tc_tag, p_tag, sdt, containers = t.tc, t.p, t.sdt, t.containers
        texts = self.texts
        out: list[_Row] = []
        for tr in _children(tbl, t.tr, t):
            # The cells of the row, read inline: a tc holding only its properties and paragraphs
            # (nearly all of them) costs no call; anything else goes through cell_lines.
            nested: list[etree._Element] = []
            cells: list[list[str]] = []
            first: etree._Element | None = None
            for child in tr:
                ctag = child.tag
                if ctag == tc_tag:
                    tcs: Sequence[etree._Element] = (child,)
                elif ctag == sdt:
                    content = child.find(t.sdtContent)
                    tcs = () if content is None else _children(content, tc_tag, t)
                elif ctag == t.customXml:
                    tcs = _children(child, tc_tag, t)
                else:
                    continue
                for tc in tcs:
                    if first is None:
                        first = tc
                    lines: list[str] | None = []
                    for el in tc:
                        etag = el.tag
                        if etag == p_tag:
                            text = texts.get(el)
                            if text is None:
                                text = paragraph_text(el, t)
                            if "\n" in text:
                                lines.extend(text.split("\n"))  # type: ignore[union-attr]
                            else:
                                lines.append(text)  # type: ignore[union-attr]
                        elif etag in containers:  # not w:tcPr: the general reader
                            lines = None
                            break
                    cells.append(self.cell_lines(tc, nested) if lines is None else lines)
            out.append((first, cells, nested))
        return out

    def row(self, cells: list[list[str]], table: int) -> list[_Entry]:
        """Label/value pairs in one table row; [] when its first non-empty cell is no label."""
        n = len(cells)
        if n == 2 and _has_text(cells[0]):  # the template's shape: label, value
            entry = self.label_cell(cells[0], table)
            if entry is None:
                return []
            entry.lines = _trim(entry.lines + cells[1] if entry.lines else cells[1])
            return [entry]
        i = 0
        while i < n and not _has_text(cells[i]):
            i += 1
        out: list[_Entry] = []
        while i < n:
            entry = self.label_cell(cells[i], table)
            if entry is None:
                break
            j = i + 1
            # Cells up to the next label cell are this field's value; a value cell right after
            # the label is never taken for a label (a value "Övrigt" is no new field).
            while j < n:
                if j >= i + 2 and j + 1 < n and self._is_label(cells[j]):
                    break
                entry.lines.extend(cells[j])
                j += 1
            entry.lines = _trim(entry.lines)
            out.append(entry)
            i = j
        return out

    def label_cell(self, cell: list[str], table: int) -> _Entry | None:
        lines = [ln for ln in cell if ln.strip()] if len(cell) > 1 else cell  # a blank one: below
        if not lines or (len(lines) == 1 and not lines[0].strip()):
            return None
        whole = " ".join(lines) if len(lines) > 1 else lines[0]
        fld = self.index.get(whole)
        if fld is not None:
            return _Entry(fld, [], table)
        fld = self.index.get(lines[0]) if len(lines) > 1 else None  # one line: just looked up
        if fld is not None:  # the label, then a line break, then the value
            rest = [ln for ln in lines[1:] if not _is_help(ln, fld)]
            return _Entry(fld, rest, table)
        label, sep, value = lines[0].partition(":")
        if sep:
            fld = self.index.get(label)
            if fld is not None:  # `Leverantör: Städ AB`
                rest = [ln for ln in lines[1:] if not _is_help(ln, fld)]
                return _Entry(fld, [value.strip(), *rest], table)
        return None

    def _is_label(self, cell: list[str]) -> bool:
        text = _cell_text(cell)
        return bool(text) and self.index.get(text) is not None

    def cell_lines(self, parent: etree._Element, nested: list[etree._Element]) -> list[str]:
        """A table cell's text lines, nested tables flattened to a line per row (and listed in
        ``nested``), looking through content controls and custom XML."""
        lines: list[str] = []
        t, texts = self.t, self.texts
        p_tag = t.p
        for child in parent:
            tag = child.tag
            if tag == p_tag:
                _add_lines(lines, child, texts, t)
            elif tag not in t.containers:  # w:tcPr, mostly
                continue
            elif tag == t.tbl:
                nested.append(child)
                for tr in _children(child, t.tr, t):
                    row = [_cell_text(self.cell_lines(tc, [])) for tc in _children(tr, t.tc, t)]
                    lines.append(" ".join(x for x in row if x))
            elif tag == t.sdt:
                if not placeholder(child, t):
                    content = child.find(t.sdtContent)
                    if content is not None:
                        lines.extend(self.cell_lines(content, nested))
            elif tag == t.customXml:
                lines.extend(self.cell_lines(child, nested))
        return lines


def _add_lines(lines: list[str], p: etree._Element, texts: dict[etree._Element, str],
               t: Tags) -> None:
    """Append a paragraph's text lines (from the one-pass ``texts``, else the exact walker)."""
    text = texts.get(p)
    if text is None:
        text = paragraph_text(p, t)
    if "\n" in text:
        lines.extend(text.split("\n"))
    else:
        lines.append(text)


@lru_cache(maxsize=8)
def _heading_pattern(heading: str) -> re.Pattern[str]:
    """`Avsteg 2`, however spaced or cased: the heading over a copied deviation table."""
    return re.compile(rf"^\s*{re.escape(heading)}\s*\d+\s*$", re.IGNORECASE)


def _cell_text(lines: list[str]) -> str:
    """A cell's lines as one line: what a label or a nested table's cell reads as."""
    return " ".join([ln.strip() for ln in lines if ln and not ln.isspace()])


def _has_text(lines: list[str]) -> bool:
    for ln in lines:
        if ln and not ln.isspace():
            return True
    return False


def merged_continuations(body: etree._Element, t: Tags) -> set[etree._Element]:
    """Cells that continue a vertical merge from the row above (``w:vMerge`` without restart)."""
    out = set()
    for merge in body.iter(t.vMerge):
        if merge.get(t.val) in (None, "continue"):
            tc = merge.getparent().getparent()  # w:tc/w:tcPr/w:vMerge
            if tc is not None and tc.tag == t.tc:
                out.add(tc)
    return out


def _children(parent: etree._Element, tag: str, t: Tags) -> list[etree._Element]:
    """Rows of a table or cells of a row, looking through content controls and custom XML."""
    out: list[etree._Element] = []
    for child in parent:
        ctag = child.tag
        if ctag == tag:
            out.append(child)
        elif ctag == t.sdt:
            content = child.find(t.sdtContent)
            if content is not None:
                out.extend(_children(content, tag, t))
        elif ctag == t.customXml:
            out.extend(_children(child, tag, t))
    return out


def _is_help(line: str, fld: Field) -> bool:
    if not fld.help:
        return False
    return label_key(line).strip("() ") == label_key(fld.help).strip("() ")


def _trim(lines: list[str]) -> list[str]:
    """Drop blank lines at either end; inner blank lines are part of a multi-line text."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


# -- blocks ------------------------------------------------------------------------------------
def _assemble(entries: list[_Entry], found: FoundTemplate) -> None:
    """Report fields to ``found.report``; deviation fields into blocks (spec 2.3: copied tables)."""
    table_keys: dict[int, set[str]] = {}
    for e in entries:
        if e.field is not None and e.field.scope == "deviation" and e.table is not None:
            table_keys.setdefault(e.table, set()).add(e.field.key)
    seen: set[str] = set()
    current: dict | None = None
    pending = False
    for e in entries:
        if e.field is None:
            if current is not None and (e.table is None or table_keys.get(e.table, set()) & current.keys()):
                pending = True  # a heading, or a table repeating fields of the current block
            continue
        key = e.field.key
        seen.add(key)
        if e.field.scope == "report":
            old = found.report.get(key)
            if old is None or (not old and e.lines):
                found.report[key] = e.lines
            continue
        if current is None or pending or key in current:
            current = {}
            found.deviations.append(current)
            pending = False
        current[key] = e.lines
    found.recognised_labels = len(seen)
