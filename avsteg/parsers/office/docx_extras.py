"""Two things real Word files carry that the table walker needs help with (spec 2.3).

* **altChunk**: a program (or a paste from a web page) can put a whole HTML document into a
  .docx as a separate part, referenced from the body or a table cell by ``w:altChunk r:id``;
  Word shows it as if it were typed there. :func:`chunk_lines` reads such a part's text: HTML
  through lxml's HTML parser (libxml2: linear time, no network, no entities of its own), plain
  text as it is. Anything else (an embedded .docx, RTF, MHT) is returned as None so that the
  reader names it in an error instead of reading the cell as empty.
* **vertical merges in value cells**: a value in a merged cell belongs to every row it spans;
  :func:`merged_origins` maps each continuation cell to the cell the merge started in.
"""
from __future__ import annotations

import posixpath
from collections.abc import Callable

from lxml import etree

from avsteg.parsers.office.docx_text import Tags
from avsteg.parsers.office.ooxml import Package

NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_R_STRICT = "http://purl.oclc.org/ooxml/officeDocument/relationships"

_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                     "table", "ul", "ol", "section", "article", "blockquote", "pre", "dt", "dd"})
_CELLS = frozenset({"td", "th"})
_SKIP = frozenset({"script", "style", "head", "title", "noscript", "template"})


def chunk_lines(pkg: Package, source: str, el: etree._Element) -> tuple[str, list[str] | None]:
    """``(part name, text lines)`` of the part a ``w:altChunk`` names; lines None when the part
    is missing or in a format we do not read."""
    rid = el.get(f"{{{NS_R}}}id") or el.get(f"{{{NS_R_STRICT}}}id") or ""
    rel = pkg.relationships(source).get(rid)
    if rel is None or not pkg.has(rel[1]):
        return rid or "altChunk", None
    name = rel[1]
    data = pkg.read(name)
    text = _decode(data)
    if text is None:
        return name, None
    head = text.lstrip()[:512].casefold()
    extension = posixpath.splitext(name)[1].casefold()
    if extension in (".htm", ".html", ".xhtml") or head.startswith(("<!doctype html", "<html", "<?xml")) \
            or "<html" in head or "<body" in head:
        return name, html_lines(data)
    if extension == ".txt":
        return name, text.splitlines()
    return name, None


def chunk_reader(pkg: Package, main: str, unread: list[str]) -> Callable[[etree._Element], list[str]]:
    """A function giving a w:altChunk's text lines; one we cannot read is added to ``unread``."""
    def read(el: etree._Element) -> list[str]:
        name, lines = chunk_lines(pkg, main, el)
        if lines is None:
            unread.append(name)
            return []
        return lines

    return read


def _decode(data: bytes) -> str | None:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


def html_lines(data: bytes) -> list[str]:
    """The text of an HTML document, a line per block (paragraph, list item, heading); a table
    row's cells joined as ``label: value``, so a pasted two-column table reads like the template.
    One pass over the parsed tree."""
    encoding = None  # lxml's own guess (a meta charset, else Latin-1) unless it reads as UTF
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            pass
    parser = etree.HTMLParser(no_network=True, remove_comments=True, remove_pis=True,
                              recover=True, huge_tree=False, encoding=encoding)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return []
    if root is None:
        return []
    lines: list[str] = []
    current: list[str] = []
    row: list[str] | None = None
    skip = 0

    def text() -> str:
        out = " ".join("".join(current).split())
        current.clear()
        return out

    def flush() -> None:
        line = text()
        if line:
            lines.append(line)

    for event, node in etree.iterwalk(root, events=("start", "end")):
        tag = node.tag.casefold() if isinstance(node.tag, str) else ""
        if event == "start":
            if tag in _SKIP:
                skip += 1
                continue
            if skip:
                continue
            if tag == "tr":
                flush()
                row = []
            elif tag in _CELLS:
                text()
            elif tag in _BLOCKS and row is None:
                flush()
            if node.text:
                current.append(node.text)
            continue
        if tag in _SKIP:
            skip -= 1
        elif skip:
            continue
        elif tag in _CELLS and row is not None:
            cell = text().rstrip(":").strip()
            if cell:
                row.append(cell)
        elif tag == "tr" and row is not None:
            if row:
                lines.append(": ".join(row) if len(row) == 2 else " ".join(row))
            row = None
        elif tag in _BLOCKS and row is None:
            flush()
        elif tag in _BLOCKS:
            current.append(" ")
        if node.tail and not skip:
            current.append(node.tail)
    flush()
    return lines


def merged_origins(body: etree._Element, t: Tags, gridspan: str) -> dict[etree._Element, etree._Element]:
    """Continuation cell → the cell its vertical merge started in, for cells that are not the
    first of their row (a label cell merged down is read by the walker as more of a value)."""
    out: dict[etree._Element, etree._Element] = {}
    if next(body.iter(t.vMerge), None) is None:
        return out
    for tbl in body.iter(t.tbl):
        started: dict[int, etree._Element] = {}
        for tr in tbl.iterchildren(t.tr):
            col = 0
            for position, tc in enumerate(tr.iterchildren(t.tc)):
                pr = tc.find(t.tcPr)
                span, merge = 1, None
                if pr is not None:
                    span_el = pr.find(gridspan)
                    if span_el is not None and (span_el.get(t.val) or "").isdigit():
                        span = max(1, int(span_el.get(t.val) or 1))
                    merge = pr.find(t.vMerge)
                if merge is not None and merge.get(t.val) in (None, "continue"):
                    origin = started.get(col)
                    if origin is not None and position > 0:
                        out[tc] = origin
                else:
                    started[col] = tc
                col += span
    return out


def merged_continuations(body: etree._Element, t: Tags) -> set[etree._Element]:
    """Cells that continue a vertical merge from the row above (``w:vMerge`` without restart)."""
    out = set()
    for merge in body.iter(t.vMerge):
        if merge.get(t.val) in (None, "continue"):
            tc = merge.getparent().getparent()  # w:tc/w:tcPr/w:vMerge
            if tc is not None and tc.tag == t.tc:
                out.add(tc)
    return out
