"""Edit the XML parts of a .docx/.xlsx the way Office and other programs write them.

Tests build their quirky files from ``avsteg template`` output: fill it, then change the parts
here (an escape in the shared strings, a formula without a cached value, an altChunk part).
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable


def edit_parts(data: bytes, edits: dict[str, Callable[[str], str]],
               add: dict[str, bytes] | None = None) -> bytes:
    """A copy of the package with each named part's text edited and ``add`` parts added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        names = set(zin.namelist())
        for name in edits:
            if name not in names:
                raise KeyError(name)
        for info in zin.infolist():
            body = zin.read(info.filename)
            if info.filename in edits:
                body = edits[info.filename](body.decode("utf-8")).encode("utf-8")
            zout.writestr(info.filename, body)
        for name, body in (add or {}).items():
            zout.writestr(name, body)
    return out.getvalue()


def part_text(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name).decode("utf-8")


def to_shared_strings(data: bytes) -> bytes:
    """The workbook with every inline string moved to a shared-strings part, as Excel and
    LibreOffice write text (openpyxl writes inline strings)."""
    import re

    strings: list[str] = []
    pattern = re.compile(r'<c ([^>]*?)t="inlineStr"([^>]*)><is><t[^>]*>(.*?)</t></is></c>', re.S)

    def shared(m: re.Match[str]) -> str:
        strings.append(m[3])
        return f'<c {m[1]}t="s"{m[2]}><v>{len(strings) - 1}</v></c>'

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    edits: dict[str, Callable[[str], str]] = {n: (lambda text: pattern.sub(shared, text)) for n in sheets}
    first = edit_parts(data, edits)
    sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           f'count="{len(strings)}" uniqueCount="{len(strings)}">'
           + "".join(f'<si><t xml:space="preserve">{s}</t></si>' for s in strings) + "</sst>")
    rel = ('<Relationship Id="rIdSst" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
           'relationships/sharedStrings" Target="sharedStrings.xml"/>')
    override = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
    return edit_parts(first, {
        "xl/_rels/workbook.xml.rels": lambda t: t.replace("</Relationships>", rel + "</Relationships>"),
        "[Content_Types].xml": lambda t: t.replace("</Types>", override + "</Types>"),
    }, add={"xl/sharedStrings.xml": sst.encode("utf-8")})
