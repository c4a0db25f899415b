"""Checks a template schema file before it is used, naming the line of every problem.

A modified schema (``schema_file``) with ``type = "heltal"`` or a misspelt option used to load
fine and then make every message fail as "the parser crashed". Now the worker refuses to start
(exit 2) and ``avsteg check`` prints, for instance::

    schema.toml line 64: [[report_fields]] "year": type = "heltal" is not a type; did you mean "integer"?

tomllib keeps no positions, so the lines are found again in the text: the n-th ``[[table]]``
header, then the ``key =`` line inside its block.
"""
from __future__ import annotations

import difflib
import re
import tomllib
from typing import Any, get_args

from avsteg.domain.schema import FieldType

SECTIONS = ("template", "messages", "report_fields", "deviation_fields", "organisations")
TEMPLATE_KEYS = ("identifier", "version", "title", "service_address", "kinds",
                 "annual_deviation_tables", "report_sheet", "deviation_sheet", "deviation_heading",
                 "instructions", "annual_copy_hint")
TEMPLATE_REQUIRED = ("identifier", "version", "title", "service_address", "kinds")
FIELD_KEYS = ("key", "label", "synonyms", "type", "options", "option_synonyms", "required", "min",
              "max_offset_years", "not_before", "sum_of", "warn_missing", "help")
TYPES: tuple[str, ...] = get_args(FieldType)
REQUIRED_VALUES = (True, False, "event", "annual")
# What a Swedish editor is likely to write for a type.
SWEDISH_TYPES = {"heltal": "integer", "tal": "decimal", "decimaltal": "decimal", "datum": "date",
                 "år": "year", "årtal": "year", "epost": "email", "e-post": "email",
                 "telefon": "phone", "organisationsnummer": "orgnr", "orgnummer": "orgnr",
                 "val": "choice", "flerval": "multichoice", "fritext": "text"}


def _nearest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    found = difflib.get_close_matches(str(word).lower(), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    guess = _nearest(word, choices)
    return f'; did you mean "{guess}"?' if guess else ""


class _Lines:
    """Where things are in the file's text."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def header(self, table: str, index: int | None = None) -> int | None:
        """Line (1-based) of ``[table]`` or of the ``index``-th ``[[table]]``."""
        name = re.escape(table)
        pattern = re.compile(rf"^\s*\[\[\s*{name}\s*\]\]" if index is not None
                             else rf"^\s*\[\s*{name}\s*\]")
        seen = -1
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                seen += 1
                if index is None or seen == index:
                    return number
        return None

    def key(self, table: str, index: int | None, key: str) -> int | None:
        """Line of ``key =`` inside that table's block (falls back to the header's line)."""
        start = self.header(table, index)
        if start is None:
            return None
        pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if re.match(r"^\s*\[", line):
                break
            if pattern.match(line):
                return number
        return start


def check_schema_text(text: str, name: str = "schema.toml",
                      reference_messages: tuple[str, ...] = ()) -> list[str]:
    """Every problem of a schema file as ``NAME line N: …`` (empty when it is fine).

    ``reference_messages``: message names the code uses (those of the packaged schema); a custom
    schema that lacks one would fail on the first report that needs it.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [f"{name}: {exc}"]
    where = _Lines(text)
    problems: list[str] = []

    def add(line: int | None, message: str) -> None:
        problems.append(f"{name} line {line}: {message}" if line else f"{name}: {message}")

    for section in data:
        if section not in SECTIONS:
            add(where.header(section) or where.header(section, 0),
                f"[{section}] is not a section of the schema{_suggest(section, SECTIONS)}")
    for section in ("template", "messages", "report_fields", "deviation_fields"):
        if section not in data:
            add(None, f"[{section}] is missing")

    template = data.get("template", {})
    if isinstance(template, dict):
        for key in template:
            if key not in TEMPLATE_KEYS:
                add(where.key("template", None, key),
                    f"[template] {key} is not a setting{_suggest(key, TEMPLATE_KEYS)}")
        for key in TEMPLATE_REQUIRED:
            if key not in template:
                add(where.header("template"), f"[template] {key} is missing")
        kinds = template.get("kinds", {})
        if isinstance(kinds, dict) and not {"event", "annual"} <= set(kinds):
            add(where.key("template", None, "kinds"), "[template] kinds needs event and annual")

    messages = data.get("messages", {})
    if isinstance(messages, dict):
        for missing in (m for m in reference_messages if m not in messages):
            add(where.header("messages"), f"[messages] {missing} is missing")

    keys: dict[str, str] = {}
    for table in ("report_fields", "deviation_fields"):
        for index, raw in enumerate(data.get(table, []) or []):
            problems += [f"{name} line {line}: {text}" if line else f"{name}: {text}"
                         for line, text in _check_field(raw, table, index, where, keys)]
    for table in ("report_fields", "deviation_fields"):
        for index, raw in enumerate(data.get(table, []) or []):
            _check_references(raw, table, index, where, keys, add)
    return problems


def _check_field(raw: Any, table: str, index: int, where: _Lines,
                 keys: dict[str, str]) -> list[tuple[int | None, str]]:
    out: list[tuple[int | None, str]] = []
    if not isinstance(raw, dict):
        return [(where.header(table, index), f"[[{table}]] must be a table")]
    label = f'[[{table}]] "{raw.get("key", index + 1)}"'

    def at(key: str) -> int | None:
        return where.key(table, index, key)

    for key in raw:
        if key not in FIELD_KEYS:
            out.append((at(key), f"{label}: {key} is not an option of a field{_suggest(key, FIELD_KEYS)}"))
    for key in ("key", "label", "type"):
        if key not in raw:
            out.append((where.header(table, index), f"{label}: {key} is missing"))
    key = raw.get("key")
    if isinstance(key, str):
        if key in keys:
            out.append((at("key"), f"{label}: the key {key} is used twice"))
        keys[key] = table
    kind = raw.get("type")
    if kind is not None and kind not in TYPES:
        guess = SWEDISH_TYPES.get(str(kind).lower()) or _nearest(str(kind), TYPES)
        hint = f'; did you mean "{guess}"?' if guess else f" (one of {', '.join(TYPES)})"
        out.append((at("type"), f'{label}: type = "{kind}" is not a type{hint}'))
    required = raw.get("required", False)
    if required not in REQUIRED_VALUES or isinstance(required, int) and not isinstance(required, bool):
        out.append((at("required"),
                    f'{label}: required = {required!r}: true, false, "event" or "annual" expected'))
    options = raw.get("options", [])
    if kind in ("choice", "multichoice") and not options:
        out.append((at("type"), f"{label}: a {kind} needs options = [...]"))
    if options and kind not in ("choice", "multichoice"):
        out.append((at("options"), f"{label}: options only apply to choice and multichoice"))
    for option in (raw.get("option_synonyms") or {}):
        if option not in options:
            out.append((at("option_synonyms"),
                        f'{label}: option_synonyms names "{option}", which is not an option'
                        f"{_suggest(option, list(options))}"))
    for key in ("synonyms", "options", "sum_of"):
        if key in raw and not isinstance(raw[key], list):
            out.append((at(key), f"{label}: {key} must be a list"))
    return out


def _check_references(raw: Any, table: str, index: int, where: _Lines, keys: dict[str, str],
                      add: Any) -> None:
    if not isinstance(raw, dict):
        return
    label = f'[[{table}]] "{raw.get("key", index + 1)}"'
    other = raw.get("not_before")
    if other is not None and other not in keys:
        add(where.key(table, index, "not_before"),
            f"{label}: not_before names {other}, which is no field{_suggest(other, list(keys))}")
    for part in raw.get("sum_of", []) if isinstance(raw.get("sum_of"), list) else []:
        if part not in keys:
            add(where.key(table, index, "sum_of"),
                f"{label}: sum_of names {part}, which is no field{_suggest(part, list(keys))}")
