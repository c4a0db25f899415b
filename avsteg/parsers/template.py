"""One attachment's bytes → a :class:`ParsedReport`, whatever those bytes are.

This is the boundary between strangers' files and the register, so it never raises: a file we
cannot or will not read becomes a ``rejected`` report whose Swedish message says what to send
instead. The steps, in order, each refusing as early and as cheaply as it can:

1. size cap;
2. format from the magic bytes (:func:`avsteg.parsers.office.safety.sniff`), not the file name;
3. zip caps before anything is inflated (:mod:`avsteg.parsers.office.archive`);
4. every XML part parsed without entities, DTDs or network, and refused if it declares any;
5. the Word or Excel reader → raw label/value pairs (:class:`FoundTemplate`);
6. recognition: our identifier in the document properties, or at least four of our labels;
7. validation (:func:`avsteg.domain.validation.validate`).

Legacy and OpenDocument files can be converted first by an injected ``convert`` function
(:mod:`avsteg.parsers.convert` wraps LibreOffice); without one, parsing stays pure.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from avsteg.domain.report import FoundTemplate, ParsedReport, Problem, rejected_file
from avsteg.domain.schema import Schema
from avsteg.domain.validation import validate
from avsteg.parsers.office import safety
from avsteg.parsers.office.archive import UnsafeArchive
from avsteg.parsers.office.docx_reader import read_docx
from avsteg.parsers.office.ooxml import Package, UnsafeXml
from avsteg.parsers.office.safety import MAX_FILE_BYTES, rejection
from avsteg.parsers.office.xlsx_reader import read_xlsx

log = logging.getLogger(__name__)

Converter = Callable[[bytes, str], "bytes | None"]

MIN_RECOGNISED_LABELS = 4
CONVERTIBLE = {"doc": "docx", "odt": "docx", "xls": "xlsx", "ods": "xlsx"}
_ARCHIVE_REASONS = {"broken": "broken", "encrypted": "encrypted", "members": "zip_bomb",
                    "size": "zip_bomb", "ratio": "zip_bomb"}

__all__ = ["looks_like_template", "parse_attachment", "read_found", "sniff"]

sniff = safety.sniff


def parse_attachment(
    filename: str,
    data: bytes,
    schema: Schema,
    *,
    today: date | None = None,
    convert: Converter | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> ParsedReport:
    """Read one attachment. Never raises: every failure is a ``rejected`` report (a crash of
    ours is also marked ``crashed``)."""
    try:
        return _parse(filename, data, schema, today, convert, max_bytes)
    except Exception:
        log.exception("parse_attachment failed on %r (%d bytes)", filename, len(data or b""))
        crashed = rejected_file(filename, None, rejection("internal", schema.messages))
        crashed.crashed = True
        return crashed


def read_found(filename: str, data: bytes, schema: Schema) -> FoundTemplate:
    """The raw reader output for a .docx/.xlsx file; raises on unsafe or unreadable input.

    For tools and tests that want to see what the readers found before validation.
    """
    kind, pkg = _sniff_open(filename, data)
    return _read(pkg if pkg is not None else Package(data), kind, schema)


def looks_like_template(filename: str, data: bytes, schema: Schema) -> bool:
    """Cheap yes/no for email triage: a .docx/.xlsx with our identifier or enough of our labels."""
    try:
        if not data or len(data) > MAX_FILE_BYTES:
            return False
        kind, opened = _sniff_open(filename, data)
        if kind not in ("docx", "xlsx"):
            return False
        pkg = opened if opened is not None else Package(data)
        identifier, _version = pkg.core_properties()
        if identifier == schema.identifier:
            return True
        return _enough_labels(_read(pkg, kind, schema), schema)
    except Exception:
        log.debug("looks_like_template: %r unreadable", filename, exc_info=True)
        return False


def _parse(
    filename: str,
    data: bytes,
    schema: Schema,
    today: date | None,
    convert: Converter | None,
    max_bytes: int,
) -> ParsedReport:
    messages = schema.messages
    if len(data) > max_bytes:
        return rejected_file(
            filename,
            safety.extension_kind(filename),
            rejection("too_big", messages, size=_mb(len(data)), limit=_mb(max_bytes)),
        )
    kind, opened = _sniff_open(filename, data)
    if kind in CONVERTIBLE and convert is not None:
        return _converted(filename, data, kind, schema, today, convert, max_bytes)
    if kind not in ("docx", "xlsx"):
        log.info("rejected %r: format %s", filename, kind)
        return rejected_file(filename, kind, rejection(kind, messages))
    try:
        found = _read(opened if opened is not None else Package(data), kind, schema)
    except UnsafeArchive as exc:
        log.warning("rejected %r: zip %s", filename, exc)
        return rejected_file(filename, kind, rejection(_ARCHIVE_REASONS.get(exc.reason, "broken"), messages))
    except UnsafeXml as exc:
        log.warning("rejected %r: xml %s", filename, exc)
        reason = "entities" if exc.reason == "entities" else "broken"
        return rejected_file(filename, kind, rejection(reason, messages))
    except KeyError as exc:  # a part named in the package's relationships is missing
        log.warning("rejected %r: missing part %s", filename, exc)
        return rejected_file(filename, kind, rejection("broken", messages))
    return _recognise(filename, found, schema, today)


def _sniff_open(filename: str, data: bytes) -> tuple[str, Package | None]:
    """The format (:func:`safety.sniff`) and, for a zip that opens within the limits, the opened
    package, so that its directory is read once. Any zip that does not open is sniffed from its
    bytes as before; opening it again later then refuses it with the precise reason."""
    if safety.is_zip(data) and safety.odf_kind(data) is None:
        try:
            pkg = Package(data)
        except Exception:  # noqa: BLE001 - the sniffer and the second open decide, as before
            log.debug("%r does not open as a package", filename, exc_info=True)
        else:
            return safety.zip_kind(filename, pkg.part_names()), pkg
    return safety.sniff(filename, data), None


def _read(pkg: Package, kind: str, schema: Schema) -> FoundTemplate:
    # The parts decide, not the sniffed name: an .xlsx name on Word content is read as Word.
    actual = pkg.kind() or kind
    return read_docx(pkg, schema) if actual == "docx" else read_xlsx(pkg, schema)


def _recognise(filename: str, found: FoundTemplate, schema: Schema, today: date | None) -> ParsedReport:
    is_ours = found.identifier is not None and found.identifier.casefold() == schema.identifier.casefold()
    if not is_ours and not _enough_labels(found, schema):
        log.info("%r is not a report (%d labels)", filename, found.recognised_labels)
        return ParsedReport(file=filename, format=found.format, status="not_a_report",
                            template_version=found.version if is_ours else None)
    result = validate(found, schema, file=filename, today=today or date.today())
    if result.template_version is None and is_ours:
        result.template_version = found.version
    if result.format is None:
        result.format = found.format
    return result


def _enough_labels(found: FoundTemplate, schema: Schema) -> bool:
    """Whether a file without our identifier still is a report (retyped, or properties lost).

    Enough of our labels, and among them a field every deviation must have: a memo's header
    (Diarienummer, Datum, Telefon, E-post) shares four labels with the template but no deviation.
    """
    if found.recognised_labels < MIN_RECOGNISED_LABELS:
        return False
    keys = set(found.report).union(*found.deviations)
    return any(f.scope == "deviation" and f.required is not False and f.key in keys
               for f in schema.deviation_fields)


def _converted(
    filename: str,
    data: bytes,
    kind: str,
    schema: Schema,
    today: date | None,
    convert: Converter,
    max_bytes: int,
) -> ParsedReport:
    """Convert a legacy/ODF file and parse the result like any other upload (same caps)."""
    try:
        converted = convert(data, kind)
    except Exception:
        log.exception("converting %r (%s) failed", filename, kind)
        converted = None
    if not converted:
        return rejected_file(filename, kind, rejection(kind, schema.messages))
    target = CONVERTIBLE[kind]
    result = _parse(f"{filename}.{target}", converted, schema, today, None, max_bytes)
    result.file = filename
    if result.status == "rejected" and result.format not in ("docx", "xlsx"):
        return rejected_file(filename, kind, rejection(kind, schema.messages))
    result.format = kind
    result.warnings.append(
        Problem(field=None, deviation=None, label=None,
                message=safety.CONVERTED_WARNING.format(kind=kind))
    )
    return result


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",")
