"""A filled-in Word template (.docx) → :class:`FoundTemplate`, straight from ``document.xml``.

python-docx builds an object per run and is ~15× slower than parsing the XML; and it hides what
people actually do to a template (content controls around rows, checkbox controls, Wingdings
ticks, tracked changes, vertically merged label cells). So this walks the lxml tree itself, in
document order, and hands validation the raw text lines of each value cell. It does not
normalise values: that is :mod:`avsteg.domain.validation`'s job.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field

from lxml import etree

from avsteg.domain.report import FoundTemplate
from avsteg.domain.schema import Field, Schema, label_key
from avsteg.parsers.ooxml import Package, labels_for

NS_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS_W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
NS_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
NS_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"

CHECKED, UNCHECKED = "☒", "☐"

# Symbol fonts put a tick or a box at a private code point; the readable equivalent.
_SYMBOLS: dict[str, dict[int, str]] = {
    "wingdings": {0xA8: UNCHECKED, 0x6F: UNCHECKED, 0x71: UNCHECKED, 0x72: UNCHECKED,
                  0xFE: CHECKED, 0xFD: CHECKED, 0xFC: CHECKED, 0xFB: CHECKED, 0x78: CHECKED,
                  0x6E: CHECKED},
    "wingdings 2": {0xA3: UNCHECKED, 0x2A: UNCHECKED, 0x50: CHECKED, 0x4F: CHECKED,
                    0x51: CHECKED, 0x52: CHECKED, 0x53: CHECKED, 0x54: CHECKED},
}
_UNICODE_BOXES = {0x2610: UNCHECKED, 0x2611: CHECKED, 0x2612: CHECKED}


class _Tags:
    """Clark-notation tag names for one WordprocessingML namespace (transitional or strict)."""

    def __init__(self, ns: str) -> None:
        def q(name: str) -> str:
            return f"{{{ns}}}{name}"

        self.body = q("body")
        self.p = q("p")
        self.r = q("r")
        self.t = q("t")
        self.tab = q("tab")
        self.br = q("br")
        self.cr = q("cr")
        self.sym = q("sym")
        self.tbl = q("tbl")
        self.tr = q("tr")
        self.tc = q("tc")
        self.sdt = q("sdt")
        self.sdtPr = q("sdtPr")
        self.sdtContent = q("sdtContent")
        self.showingPlcHdr = q("showingPlcHdr")
        self.customXml = q("customXml")
        self.moveFrom = q("moveFrom")
        self.delText = q("delText")
        self.instrText = q("instrText")
        self.pPr = q("pPr")
        self.rPr = q("rPr")
        self.tcPr = q("tcPr")
        self.trPr = q("trPr")
        self.tblPr = q("tblPr")
        self.tblGrid = q("tblGrid")
        self.vMerge = q("vMerge")
        self.fldChar = q("fldChar")
        self.ffData = q("ffData")
        self.checkBox = q("checkBox")
        self.checked = q("checked")
        self.default = q("default")
        self.noBreakHyphen = q("noBreakHyphen")
        self.softHyphen = q("softHyphen")
        self.font = q("font")
        self.char = q("char")
        self.val = q("val")
        self.sectPr = q("sectPr")
        self.tabs = q("tabs")
        self.txbxContent = q("txbxContent")
        self.del_ = q("del")
        self.skip = frozenset({self.pPr, self.rPr, self.delText, self.instrText, self.del_,
                               self.moveFrom, self.sdtPr, self.tcPr, self.trPr, self.tblPr,
                               self.tblGrid, self.sectPr, self.softHyphen,
                               f"{{{NS_MC}}}Fallback"})


_TAGS = {ns: _Tags(ns) for ns in (NS_W, NS_W_STRICT)}


@dataclass
class _Entry:
    field: Field | None  # None: a break (a heading "Avsteg 2", or a table start)
    lines: list[str] = dc_field(default_factory=list)
    table: int | None = None


def read_docx(pkg: Package, schema: Schema) -> FoundTemplate:
    """Read the main document part of an opened package into raw label/value pairs."""
    root = pkg.xml(pkg.main_part("word/document.xml"))
    found = FoundTemplate(format="docx")
    found.identifier, found.version = pkg.core_properties()
    if root is None:
        return found
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else NS_W
    walker = _Walker(_TAGS.get(ns, _TAGS[NS_W]), schema)
    body = root.find(walker.t.body)
    if body is not None:
        walker.texts = paragraph_texts(body, walker.t)
        walker.continued = merged_continuations(body, walker.t)
        walker.blocks(body)
    _assemble(walker.entries, found)
    return found


class _Walker:
    def __init__(self, tags: _Tags, schema: Schema) -> None:
        self.t = tags
        self.index = labels_for(schema)
        self.heading = re.compile(rf"^\s*{re.escape(schema.deviation_heading)}\s*\d+\s*$", re.IGNORECASE)
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
                if not _placeholder(child, t):
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
        for tr in _children(tbl, self.t.tr, self.t):
            cells = [_Cell(tc, self) for tc in _children(tr, self.t.tc, self.t)]
            if not cells:
                continue
            if cells[0].continued and previous is not None:
                # The label cell is merged down from the row above: more of the same value.
                previous.lines = _trim(previous.lines + [ln for c in cells[1:] for ln in c.lines])
                continue
            entries = self.row(cells, number)
            if entries:
                self.entries.extend(entries)
                previous = entries[-1]
            else:
                previous = None
                for cell in cells:
                    for nested in cell.nested:
                        self.table(nested)

    def row(self, cells: list[_Cell], table: int) -> list[_Entry]:
        """Label/value pairs in one table row; [] when its first non-empty cell is no label."""
        first = next((i for i, c in enumerate(cells) if c.text), None)
        if first is None:
            return []
        out: list[_Entry] = []
        i = first
        while i < len(cells):
            entry = self.label_cell(cells[i], table)
            if entry is None:
                break
            j = i + 1
            # Cells up to the next label cell are this field's value; a value cell right after
            # the label is never taken for a label (a value "Övrigt" is no new field).
            while j < len(cells):
                if j >= i + 2 and j + 1 < len(cells) and self._is_label(cells[j]):
                    break
                entry.lines.extend(cells[j].lines)
                j += 1
            entry.lines = _trim(entry.lines)
            out.append(entry)
            i = j
        return out

    def label_cell(self, cell: _Cell, table: int) -> _Entry | None:
        lines = [ln for ln in cell.lines if ln.strip()]
        if not lines:
            return None
        fld = self.index.get(" ".join(lines))
        if fld is not None:
            return _Entry(fld, [], table)
        fld = self.index.get(lines[0])
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

    def _is_label(self, cell: _Cell) -> bool:
        return bool(cell.text) and self.index.get(cell.text) is not None


class _Cell:
    """One table cell: its text lines (nested tables flattened), nested tables, merge state."""

    __slots__ = ("continued", "lines", "nested", "text")

    def __init__(self, tc: etree._Element, walker: _Walker) -> None:
        self.lines: list[str] = []
        self.nested: list[etree._Element] = []
        self.continued = tc in walker.continued
        self._collect(tc, walker)
        self.text = " ".join([ln.strip() for ln in self.lines if ln and not ln.isspace()])

    def _collect(self, parent: etree._Element, walker: _Walker) -> None:
        t = walker.t
        for child in parent:
            tag = child.tag
            if tag == t.p:
                text = walker.text(child)
                if "\n" in text:
                    self.lines.extend(text.split("\n"))
                else:
                    self.lines.append(text)
            elif tag == t.tbl:
                self.nested.append(child)
                for tr in _children(child, t.tr, t):
                    texts = [_Cell(tc, walker).text for tc in _children(tr, t.tc, t)]
                    self.lines.append(" ".join(x for x in texts if x))
            elif tag == t.sdt:
                if not _placeholder(child, t):
                    content = child.find(t.sdtContent)
                    if content is not None:
                        self._collect(content, walker)
            elif tag == t.customXml:
                self._collect(child, walker)


def merged_continuations(body: etree._Element, t: _Tags) -> set[etree._Element]:
    """Cells that continue a vertical merge from the row above (``w:vMerge`` without restart)."""
    out = set()
    for merge in body.iter(t.vMerge):
        if merge.get(t.val) in (None, "continue"):
            tc = merge.getparent().getparent()  # w:tc/w:tcPr/w:vMerge
            if tc is not None and tc.tag == t.tc:
                out.add(tc)
    return out


def _children(parent: etree._Element, tag: str, t: _Tags) -> Iterator[etree._Element]:
    """Rows of a table or cells of a row, looking through content controls and custom XML."""
    for child in parent:
        ctag = child.tag
        if ctag == tag:
            yield child
        elif ctag == t.sdt:
            content = child.find(t.sdtContent)
            if content is not None:
                yield from _children(content, tag, t)
        elif ctag == t.customXml:
            yield from _children(child, tag, t)


# -- inline level ------------------------------------------------------------------------------
def paragraph_texts(body: etree._Element, t: _Tags) -> dict[etree._Element, str]:
    """The text of every paragraph in one C-level pass over the few tags that carry text.

    Walking every element in Python (run properties make up most of them) costs several times
    the XML parse. Paragraphs holding anything unusual (tracked changes, content controls, field
    checkboxes, symbols, text boxes) are recomputed by the exact walker :func:`paragraph_text`.
    """
    special = set()
    for el in body.iter(t.del_, t.moveFrom, t.sdt, t.fldChar, t.sym, f"{{{NS_MC}}}AlternateContent",
                        t.txbxContent):
        for ancestor in el.iterancestors(t.p):
            special.add(ancestor)
    texts: dict[etree._Element, str] = {}
    parts: list[str] | None = None
    current = None
    p_tag, t_tag, tab, tabs = t.p, t.t, t.tab, t.tabs
    for el in body.iter(p_tag, t_tag, tab, t.br, t.cr, t.noBreakHyphen):
        tag = el.tag
        if tag == t_tag:
            if parts is not None and el.text:
                parts.append(el.text)
        elif tag == p_tag:
            if current is not None:
                texts[current] = "".join(parts or ())
            current, parts = el, []
        elif parts is None:
            continue
        elif tag == tab:
            if el.getparent().tag != tabs:  # a tab stop in the paragraph properties is no text
                parts.append(" ")
        elif tag == t.noBreakHyphen:
            parts.append("-")
        else:
            parts.append("\n")
    if current is not None:
        texts[current] = "".join(parts or ())
    for p in special:
        texts[p] = paragraph_text(p, t)
    return texts


def paragraph_text(p: etree._Element, t: _Tags) -> str:
    """The text a reader sees in a paragraph: deletions dropped, ticks made characters."""
    out: list[str] = []
    _inline(p, t, out)
    return "".join(out)


def _inline(parent: etree._Element, t: _Tags, out: list[str]) -> None:
    for child in parent:
        tag = child.tag
        if tag == t.t:
            if child.text:
                out.append(child.text)
        elif tag == t.r:
            _inline(child, t, out)
        elif tag in t.skip or not isinstance(tag, str):
            continue
        elif tag == t.tab:
            out.append(" ")
        elif tag == t.br or tag == t.cr:
            out.append("\n")
        elif tag == t.sym:
            out.append(_symbol(child, t))
        elif tag == t.noBreakHyphen:
            out.append("-")
        elif tag == t.sdt:
            box = _checkbox(child)
            if box is not None:
                out.append(box)
            elif not _placeholder(child, t):
                content = child.find(t.sdtContent)
                if content is not None:
                    _inline(content, t, out)
        elif tag == t.fldChar:
            box = _form_checkbox(child, t)
            if box is not None:
                out.append(box)
        elif tag == t.p:  # a paragraph inside a text box inside this one
            out.append("\n")
            _inline(child, t, out)
        else:  # w:ins, w:hyperlink, w:smartTag, w:fldSimple, w:moveTo, drawings, mc:Choice…
            _inline(child, t, out)


def _symbol(sym: etree._Element, t: _Tags) -> str:
    try:
        code = int(sym.get(t.char) or "", 16)
    except ValueError:
        return ""
    if code >= 0xF000:
        code -= 0xF000
    font = (sym.get(t.font) or "").strip().casefold()
    table = _SYMBOLS.get(font)
    if table is not None:
        return table.get(code, "")
    return _UNICODE_BOXES.get(code) or chr(code)


def _checkbox(sdt: etree._Element) -> str | None:
    """A Word 2010 checkbox content control: its state, whatever glyph it shows."""
    pr = sdt[0] if len(sdt) and sdt[0].tag.endswith("}sdtPr") else None
    if pr is None:
        return None
    box = pr.find(f"{{{NS_W14}}}checkbox")
    if box is None:
        return None
    checked = box.find(f"{{{NS_W14}}}checked")
    value = checked.get(f"{{{NS_W14}}}val") if checked is not None else "0"
    return CHECKED if value in ("1", "true", "on") else UNCHECKED


def _form_checkbox(fld: etree._Element, t: _Tags) -> str | None:
    """A legacy FORMCHECKBOX field: ``w:checked`` wins over ``w:default``."""
    box = fld.find(f"{t.ffData}/{t.checkBox}")
    if box is None:
        return None
    for name in (t.checked, t.default):
        el = box.find(name)
        if el is not None:
            return CHECKED if el.get(t.val) in (None, "1", "true", "on") else UNCHECKED
    return UNCHECKED


def _placeholder(sdt: etree._Element, t: _Tags) -> bool:
    """A content control still showing its prompt ("Klicka här…"): nothing was typed."""
    pr = sdt.find(t.sdtPr)
    return pr is not None and pr.find(t.showingPlcHdr) is not None and _checkbox(sdt) is None


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
