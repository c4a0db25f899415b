"""The text a reader sees in a WordprocessingML paragraph, read straight from the lxml tree.

:mod:`avsteg.parsers.office.docx_reader` walks the block level (tables, rows, labels); this module is
the inline level, where people's checkbox controls, Wingdings ticks, tracked changes, field
checkboxes and text boxes become characters. :func:`paragraph_texts` reads every paragraph of a
body in one C-level pass; the rare paragraphs holding anything unusual go through the exact
walker :func:`paragraph_text`.
"""
from __future__ import annotations

from lxml import etree

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


class Tags:
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
        self.containers = frozenset({self.tbl, self.sdt, self.customXml})
        self.skip = frozenset({self.pPr, self.rPr, self.delText, self.instrText, self.del_,
                               self.moveFrom, self.sdtPr, self.tcPr, self.trPr, self.tblPr,
                               self.tblGrid, self.sectPr, self.softHyphen,
                               f"{{{NS_MC}}}Fallback"})


TAGS = {ns: Tags(ns) for ns in (NS_W, NS_W_STRICT)}

def paragraph_texts(body: etree._Element, t: Tags) -> dict[etree._Element, str]:
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
            text = el.text
            if text and parts is not None:
                parts.append(text)
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


def paragraph_text(p: etree._Element, t: Tags) -> str:
    """The text a reader sees in a paragraph: deletions dropped, ticks made characters."""
    out: list[str] = []
    _inline(p, t, out)
    return "".join(out)


def _inline(parent: etree._Element, t: Tags, out: list[str]) -> None:
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
            elif not placeholder(child, t):
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


def _symbol(sym: etree._Element, t: Tags) -> str:
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


def _form_checkbox(fld: etree._Element, t: Tags) -> str | None:
    """A legacy FORMCHECKBOX field: ``w:checked`` wins over ``w:default``."""
    box = fld.find(f"{t.ffData}/{t.checkBox}")
    if box is None:
        return None
    for name in (t.checked, t.default):
        el = box.find(name)
        if el is not None:
            return CHECKED if el.get(t.val) in (None, "1", "true", "on") else UNCHECKED
    return UNCHECKED


def placeholder(sdt: etree._Element, t: Tags) -> bool:
    """A content control still showing its prompt ("Klicka här…"): nothing was typed."""
    pr = sdt.find(t.sdtPr)
    return pr is not None and pr.find(t.showingPlcHdr) is not None and _checkbox(sdt) is None


__all__ = ["CHECKED", "NS_W", "NS_W_STRICT", "TAGS", "UNCHECKED", "Tags", "paragraph_text",
           "paragraph_texts", "placeholder"]
