"""Safe access to the parts of an OOXML package (.docx, .xlsx) someone emailed us.

The readers never touch ``zipfile`` or an XML parser directly: they ask a :class:`Package`,
which opened the zip through :func:`avsteg.parsers.office.archive.open_zip` (member count, sizes,
compression ratio), inflates each part with a hard cap, and parses it with an lxml parser that
resolves no entities, loads no DTD and touches no network. A part that declares a DOCTYPE or an
ENTITY is refused outright rather than parsed "safely": no Office program writes one, so its only
purpose is an attack (billion laughs, XXE).
"""
from __future__ import annotations

import posixpath
import re
import threading
import zipfile
from collections.abc import KeysView

from lxml import etree

from avsteg.domain.schema import Field, Schema, label_key
from avsteg.parsers.office.archive import (
    DEFAULT_LIMITS,
    UnsafeArchive,
    ZipLimits,
    open_zip,
    read_member,
)

NS_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CORE = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
NS_DC = "http://purl.org/dc/elements/1.1/"
REL_OFFICE_DOCUMENT = "/officeDocument"  # suffix: strict and transitional namespaces differ
REL_CORE = "/core-properties"

_local = threading.local()


class UnsafeXml(ValueError):
    """Raised when a part declares a DTD or entities, or is not well-formed XML.

    ``reason`` is ``entities`` or ``malformed``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; one per thread, built on first use.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = parser
    return parser


def _declares_dtd(data: bytes) -> bool:
    """Whether the raw bytes contain a DOCTYPE or ENTITY declaration, in UTF-8 or UTF-16."""
    # "!" is rare in OOXML and a one-byte search is many times faster than the two below.
    if b"!" in data and (b"<!DOCTYPE" in data or b"<!ENTITY" in data):
        return True
    head = data[:4]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(head) == 4 and (head[1] == 0 or head[0] == 0)):
        for enc in ("utf-16-le", "utf-16-be"):
            text = data.decode(enc, errors="ignore")
            if "<!DOCTYPE" in text or "<!ENTITY" in text:
                return True
    return False


def parse_xml(data: bytes) -> etree._Element:
    """Parse one part we did not write; refuse DTDs and entities."""
    if _declares_dtd(data):
        raise UnsafeXml("entities", "DOCTYPE or ENTITY declaration")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml("malformed", str(exc)) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXml("entities", "DOCTYPE after decoding")
    return root


class Package:
    """An opened OOXML zip: part names, capped reads, safe XML, relationships, core properties."""

    def __init__(self, data: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.zip: zipfile.ZipFile = open_zip(data, limits)
        # Part names are case-insensitive in OPC; index them folded.
        self._names = {info.filename.lstrip("/").casefold(): info.filename for info in self.zip.infolist()}
        self._rels: dict[str, dict[str, tuple[str, str]]] = {}

    def has(self, name: str) -> bool:
        return name.lstrip("/").casefold() in self._names

    def part_names(self) -> KeysView[str]:
        """The part names, stripped of a leading "/" and casefolded (OPC names ignore case)."""
        return self._names.keys()

    def read(self, name: str) -> bytes:
        real = self._names.get(name.lstrip("/").casefold())
        if real is None:
            raise KeyError(name)
        return read_member(self.zip, real, self.limits)

    def xml(self, name: str) -> etree._Element | None:
        """The parsed part, or None when the package does not have it."""
        if not self.has(name):
            return None
        return parse_xml(self.read(name))

    def relationships(self, source: str = "") -> dict[str, tuple[str, str]]:
        """Relationship id → (type, absolute target part name) for ``source`` ('' = package)."""
        cached = self._rels.get(source)
        if cached is None:
            cached = self._rels[source] = self._relationships(source)
        return cached

    def _relationships(self, source: str) -> dict[str, tuple[str, str]]:
        folder, base = posixpath.split(source)
        rels_name = posixpath.join(folder, "_rels", base + ".rels") if source else "_rels/.rels"
        root = self.xml(rels_name)
        out: dict[str, tuple[str, str]] = {}
        if root is None:
            return out
        for rel in root.iter(f"{{{NS_REL}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            target = rel.get("Target") or ""
            if target.startswith("/"):
                path = target.lstrip("/")
            else:
                path = posixpath.normpath(posixpath.join(folder, target))
            out[rel.get("Id") or ""] = (rel.get("Type") or "", path)
        return out

    def main_part(self, default: str) -> str:
        """The officeDocument part (some writers call it document2.xml); ``default`` if unnamed."""
        for rel_type, target in self.relationships().values():
            if rel_type.endswith(REL_OFFICE_DOCUMENT) and self.has(target):
                return target
        return default

    def core_properties(self) -> tuple[str | None, str | None]:
        """``(identifier, version)`` from the core properties part, stripped; None when absent."""
        name = "docProps/core.xml"
        for rel_type, target in self.relationships().values():
            if rel_type.endswith(REL_CORE):
                name = target
                break
        root = self.xml(name)
        if root is None:
            return None, None
        return (
            _text(root.find(f"{{{NS_DC}}}identifier")),
            _text(root.find(f"{{{NS_CORE}}}version")),
        )

    def kind(self) -> str | None:
        """``docx`` or ``xlsx`` from the parts present, else None (pptx, plain zip…)."""
        if self.has("word/document.xml") or any(n.startswith("word/") for n in self._names):
            return "docx"
        if self.has("xl/workbook.xml") or any(n.startswith("xl/") for n in self._names):
            return "xlsx"
        return None


class Labels:
    """Cell text → schema field.

    The spellings the templates print (each label and synonym, bare or with the ` *` of a
    required field) are indexed as they are, once per schema; any other text is folded with
    :func:`label_key` first. Nothing read from a file is remembered for the next one.
    """

    def __init__(self, schema: Schema) -> None:
        self.index = schema.label_index()
        self.printed: dict[str, Field] = {}
        for f in schema.fields:
            for name in f.all_labels():
                for text in (name, f"{name} *"):
                    fld = self.index.get(label_key(text))
                    if fld is not None:
                        self.printed[text] = fld
        # A lone everyday word that is only a synonym ("Avtal", "År", "Förvaltning") is weak
        # evidence: budget sheets and memos use it too. Labels as printed, and synonyms of two
        # or more words, are what only this template (or a copy of it) has.
        self.weak = frozenset(
            key for f in schema.fields for syn in f.synonyms
            if len(re.split(r"[\s/]+", (key := label_key(syn)))) == 1
            and self.index.get(key) is not None and label_key(self.index[key].label) != key
        )
        self.weak_printed = frozenset(t for t in self.printed if label_key(t) in self.weak)

    def get(self, text: str) -> Field | None:
        fld = self.printed.get(text)
        return fld if fld is not None else self.index.get(label_key(text))

    def is_weak(self, text: str) -> bool:
        """Whether ``text`` names a field only by a one-word synonym (see ``weak``)."""
        if text in self.printed:  # as the template prints it: no folding needed
            return text in self.weak_printed
        return label_key(text) in self.weak


_LABELS: dict[int, tuple[Schema, Labels]] = {}


def labels_for(schema: Schema) -> Labels:
    """The (cached) label matcher of ``schema``; schemas are immutable, so one per schema."""
    hit = _LABELS.get(id(schema))
    if hit is None or hit[0] is not schema:
        if len(_LABELS) > 16:
            _LABELS.clear()
        hit = _LABELS[id(schema)] = (schema, Labels(schema))
    return hit[1]


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


__all__ = ["Labels", "Package", "UnsafeArchive", "UnsafeXml", "labels_for", "parse_xml"]
