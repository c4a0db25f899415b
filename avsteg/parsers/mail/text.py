"""Text for people from mail parts: any charset, and plain text from HTML.

Swedish mail arrives in UTF-8, ISO-8859-1, Windows-1252 and, now and then, a charset name no
codec knows (``x-user-defined``, ``unknown-8bit``). Nothing here raises: an unknown charset falls
back to UTF-8, then Windows-1252 (which decodes every byte), so å ä ö survive.
"""
from __future__ import annotations

import codecs
import html
from email.message import Message
from html.parser import HTMLParser

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


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient, but never let text stop the walk
        return html.unescape(markup)
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
