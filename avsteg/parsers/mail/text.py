"""Text for people from mail parts: any charset, and plain text from HTML.

Swedish mail arrives in UTF-8, ISO-8859-1, Windows-1252 and, now and then, a charset name no
codec knows (``x-user-defined``, ``unknown-8bit``). Nothing here raises: an unknown charset falls
back to UTF-8, then Windows-1252 (which decodes every byte), so å ä ö survive.
"""
from __future__ import annotations

import codecs
import re
from email.message import Message

from lxml import etree

_ALIASES = {"unknown-8bit": None, "x-unknown": None, "x-user-defined": None, "ansi": "cp1252"}


def decode_bytes(data: bytes, charset: str | None) -> str:
    """``data`` as text: declared charset, else UTF-8, else Windows-1252 (never fails)."""
    name = (charset or "").strip().strip('"').lower() or None
    name = _ALIASES.get(name, name) if name else None
    if name:
        try:
            codecs.lookup(name)
            if name in ("iso-8859-1", "latin-1", "latin1", "iso8859-1", "us-ascii", "ascii"):
                # Outlook labels Windows-1252 text as Latin-1 or ASCII; cp1252 is a superset
                # for the printable range, and it decodes € and ” too.
                return _cp1252(data)
            return data.decode(name)
        except (LookupError, UnicodeDecodeError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _cp1252(data)


def _cp1252(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # the five bytes cp1252 leaves undefined


def body_text(part: Message, ctype: str) -> str:
    """The text of a text/plain or text/html leaf."""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken transfer encoding
        data = None
    if not isinstance(data, bytes):
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        charset = None
    text = decode_bytes(data, charset).replace("\r\n", "\n").replace("\r", "\n")
    return html_to_text(text) if ctype == "text/html" else text


MAX_HTML_CHARS = 1_000_000
"""HTML beyond this is not parsed: the text kept for people is 20,000 characters at most, and a
megabyte of even the most verbose Outlook HTML holds far more text than that."""

_BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"})
_SKIP = frozenset({"script", "style", "head", "title"})
_VOID = frozenset({"br", "hr"})  # one line break, not one for the start and one for the end


def html_to_text(markup: str) -> str:
    """Plain text from an HTML body, in time linear in its size.

    The stdlib ``HTMLParser`` is super-linear on hostile input (repeated ``<a `` takes 6 s for
    40 KB, unclosed ``<!--`` and ``</`` are slow too), and it is fed untrusted mail. libxml2's
    HTML parser (through lxml, already a dependency) is a single linear pass that recovers from
    any markup and limits nesting depth itself; the input is cut at :data:`MAX_HTML_CHARS` first.
    """
    markup = markup[:MAX_HTML_CHARS]
    data = markup.replace("\x00", "").encode("utf-8", "replace")
    if not data.strip():
        return ""
    parser = etree.HTMLParser(recover=True, no_network=True, remove_comments=True, remove_pis=True,
                              encoding="utf-8")
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError):
        root = None
    if root is None:
        return ""
    out: list[str] = []
    skipping = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.lower()
        if event == "start":
            if tag in _SKIP:
                skipping += 1
            elif tag in _BLOCK:
                out.append("\n")
            if not skipping and element.text and isinstance(element.tag, str):
                out.append(element.text)
        else:
            if tag in _SKIP:
                skipping -= 1
            elif tag in _BLOCK and tag not in _VOID:
                out.append("\n")
            if not skipping and element.tail:
                out.append(element.tail)
    lines = [" ".join(line.split()) for line in "".join(out).splitlines()]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
