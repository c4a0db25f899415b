"""Strict settings: unknown keys, wrong types and missing values become sentences for people.

A typo (``hots =``, ``[databse]``, ``AVSTEG_IMAP__HOTS``) used to be ignored silently and a
wrong type ended in a pydantic traceback. Every problem is now collected and reported at once,
with the nearest valid name, and the command exits 2. The functions take the Settings class as
an argument, so sections added later (by other features) are checked without changes here.
"""
from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

SETTINGS_PREFIX = "AVSTEG_"


def sections(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Section name → its model, from the Settings class itself (so new sections count)."""
    found: dict[str, type[BaseModel]] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found[name] = annotation
    return found


def top_level_keys(model: type[BaseModel]) -> list[str]:
    """Settings that live outside any section (``schema_file``)."""
    return [name for name in model.model_fields if name not in sections(model)]


def all_setting_names(model: type[BaseModel]) -> list[str]:
    """Every setting as ``section.key`` (and bare top-level keys), in declaration order."""
    names = list(top_level_keys(model))
    for section, sub in sections(model).items():
        names += [f"{section}.{key}" for key in sub.model_fields]
    return names


def _nearest(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _unknown(what: str, word: str, choices: list[str]) -> str:
    guess = _nearest(word, choices)
    return f"unknown {what}" + (f"; did you mean {guess!r}?" if guess else "")


def unknown_keys(model: type[BaseModel], data: dict[str, Any], source: str) -> list[str]:
    """Keys and sections of a TOML file that no setting has, each with the nearest valid one."""
    problems = []
    known_sections = sections(model)
    tops = top_level_keys(model)
    for key, value in data.items():
        if key in known_sections:
            if not isinstance(value, dict):
                continue  # a type error: reported by validation
            choices = list(known_sections[key].model_fields)
            for sub in value:
                if sub not in choices:
                    guess = _nearest(sub, choices)
                    problems.append(f"{source}: [{key}] {sub}: unknown key" +
                                    (f"; did you mean {guess!r}?" if guess else ""))
        elif key not in tops:
            if isinstance(value, dict):
                guess = _nearest(key, list(known_sections))
                problems.append(f"{source}: [{key}]: unknown section" +
                                (f"; did you mean [{guess}]?" if guess else ""))
            else:
                guess = _nearest(key, tops + list(known_sections))
                problems.append(f"{source}: {key}: unknown key" +
                                (f"; did you mean {guess!r}?" if guess else ""))
    return problems


def unknown_variables(model: type[BaseModel], environ: Mapping[str, str]) -> list[str]:
    """``AVSTEG_<SECTION>__<KEY>`` variables that name no setting.

    Variables without ``__`` are settings only when they name a top-level one
    (``AVSTEG_SCHEMA_FILE``); others (``AVSTEG_CONFIG``, a compose file's own) are left alone.
    """
    problems = []
    known_sections = sections(model)
    for name in sorted(environ):
        if not name.upper().startswith(SETTINGS_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(SETTINGS_PREFIX):].lower().partition("__")
        if section not in known_sections:
            guess = _nearest(section, list(known_sections))
            problems.append(f"environment variable {name}: unknown section {section!r}" +
                            (f"; did you mean {SETTINGS_PREFIX}{guess.upper()}__{key.upper()}?"
                             if guess else ""))
            continue
        choices = list(known_sections[section].model_fields)
        if key not in choices:
            guess = _nearest(key, choices)
            problems.append(f"environment variable {name}: unknown key {key!r} in [{section}]" +
                            (f"; did you mean {SETTINGS_PREFIX}{section.upper()}__{guess.upper()}?"
                             if guess else ""))
    return problems


def describe_errors(errors: list[Any], path: str | None) -> list[str]:
    """pydantic's errors as lines for people; unknown keys are left to :func:`unknown_keys`."""
    return [_describe_error(e, path) for e in errors if e.get("type") != "extra_forbidden"]


def _describe_error(error: Any, path: str | None) -> str:
    """One pydantic error as ``worker.poll_interval_seconds = 'en minut': a number is expected``."""
    loc = [str(part) for part in error.get("loc", ())]
    dotted = ".".join(loc)
    variable = SETTINGS_PREFIX + "__".join(part.upper() for part in loc)
    where = f" (from {variable})" if variable in os.environ else (f" (in {path})" if path else "")
    kind = error.get("type", "")
    value = error.get("input")
    if isinstance(value, str) and "url" in dotted:
        value = _hide_password(value)
    if kind == "missing":
        return f"{dotted}{where}: missing"
    expected = _EXPECTED.get(kind)
    if expected is None:
        message = str(error.get("msg", "invalid value"))
        expected = message[len("Value error, "):] if message.startswith("Value error, ") else message
    return f"{dotted} = {value!r}{where}: {expected}"


_EXPECTED = {
    "int_parsing": "a whole number is expected",
    "int_type": "a whole number is expected",
    "int_from_float": "a whole number is expected",
    "float_parsing": "a number is expected",
    "float_type": "a number is expected",
    "bool_parsing": "true or false is expected",
    "bool_type": "true or false is expected",
    "string_type": "a text in quotes is expected",
    "list_type": "a list is expected, e.g. [\"a\", \"b\"]",
    "model_type": "a section (a [table]) is expected",
    "dict_type": "a section (a [table]) is expected",
}


def join_problems(problems: list[str], what: str = "the settings") -> str:
    """Several problems on one line, so a log or a terminal shows them together."""
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems in {what}: " + "; ".join(problems)


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the register's database URL, with the right form; None when fine."""
    text = url.strip()
    if text.lower().startswith("sqlite:") and "://" not in text:
        return (f"{text!r}: SQLite URLs have three slashes before a relative path "
                f"(sqlite:///avsteg.sqlite) and four before an absolute one")
    if "://" not in text:
        name = text or "avsteg.sqlite"
        return (f"{text!r} is not a database URL: for SQLite write sqlite:///{name} (relative to "
                f"the working directory) or sqlite:////var/lib/avsteg/avsteg.sqlite (absolute); "
                f"for PostgreSQL postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE")
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2", "postgres+psycopg"):
        rest = text.split("://", 1)[1]
        return f"use the psycopg driver: postgresql+psycopg://{_hide_password(rest)}"
    if scheme == "sqlite":
        if text.lower().startswith("sqlite:///") or text.lower() == "sqlite://":
            return None
        return (f"{_hide_password(text)!r}: SQLite URLs have three slashes before a relative "
                f"path (sqlite:///avsteg.sqlite) and four before an absolute one")
    if scheme not in ("postgresql+psycopg", "sqlite+pysqlite"):
        return (f"{scheme}:// is not supported: use sqlite:///PATH or "
                f"postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE")
    return None


def _hide_password(text: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", text) if "://" in text else re.sub(
        r"^([^:/@]*:)[^@]*@", r"\1***@", text)
