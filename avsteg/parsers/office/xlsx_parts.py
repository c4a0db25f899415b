"""The workbook-level parts of an .xlsx file the sheet reader needs: shared strings (with rich
text) and which cell styles show a date, plus Excel's date serials (1900 and 1904 systems)."""
from __future__ import annotations

import datetime as dt
import re

from lxml import etree

from avsteg.parsers.office.ooxml import Package

NS_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_BUILTIN_DATE_FORMATS = frozenset(range(14, 23)) | {27, 30, 36, 45, 46, 47, 50, 57}
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')


def ns_of(root: etree._Element, default: str) -> str:
    return root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else default


def shared_strings(pkg: Package, name: str) -> list[str]:
    root = pkg.xml(name)
    if root is None:
        return []
    s = ns_of(root, NS_S)
    t_tag, rph_tag = f"{{{s}}}t", f"{{{s}}}rPh"
    out: list[str] = []
    for si in root:
        out.append(rich_text(si, t_tag, rph_tag))
    return out


def rich_text(el: etree._Element, t_tag: str, rph_tag: str) -> str:
    """Plain text or rich-text runs joined; phonetic guides (rPh) left out."""
    if len(el) == 1 and el[0].tag == t_tag:  # plain text: by far the most common
        return el[0].text or ""
    parts = []
    for t in el.iter(t_tag):
        if t.getparent().tag != rph_tag:
            parts.append(t.text or "")
    return "".join(parts)


def first_child(parent: etree._Element, tag: str) -> etree._Element | None:
    """``parent.find(tag)`` for a cell's one or two children, without ElementPath's overhead."""
    for child in parent:
        if child.tag == tag:
            return child
    return None


def date_styles(pkg: Package, name: str) -> list[bool]:
    """For each cell style index (cellXfs), whether its number format shows a date."""
    root = pkg.xml(name)
    if root is None:
        return []
    s = ns_of(root, NS_S)
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
