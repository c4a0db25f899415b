"""Loads the template schema file (``schema.toml``) into :class:`avsteg.domain.schema.Schema`."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from avsteg.config.schema_check import check_schema_text
from avsteg.config.strict import join_problems
from avsteg.domain.errors import ConfigurationError
from avsteg.domain.schema import Field, Schema

DEFAULT_SCHEMA = "schema.toml"


def _field(raw: dict, scope: str) -> Field:
    return Field(
        key=raw["key"],
        label=raw["label"],
        type=raw["type"],
        scope=scope,  # type: ignore[arg-type]
        required=raw.get("required", False),
        synonyms=tuple(raw.get("synonyms", ())),
        options=tuple(raw.get("options", ())),
        option_synonyms={k: tuple(v) for k, v in raw.get("option_synonyms", {}).items()},
        min=raw.get("min"),
        max_offset_years=raw.get("max_offset_years"),
        not_before=raw.get("not_before"),
        sum_of=tuple(raw.get("sum_of", ())),
        warn_missing=raw.get("warn_missing", False),
        help=raw.get("help"),
    )


def schema_from_dict(data: dict) -> Schema:
    t = data["template"]
    return Schema(
        identifier=t["identifier"],
        version=str(t["version"]),
        title=t["title"],
        service_address=t["service_address"],
        kinds=dict(t["kinds"]),
        annual_deviation_tables=int(t.get("annual_deviation_tables", 3)),
        report_sheet=t.get("report_sheet", "Rapport"),
        deviation_sheet=t.get("deviation_sheet", "Avsteg"),
        deviation_heading=t.get("deviation_heading", "Avsteg"),
        instructions=tuple(t.get("instructions", ())),
        annual_copy_hint=t.get("annual_copy_hint", ""),
        messages=dict(data["messages"]),
        report_fields=tuple(_field(f, "report") for f in data["report_fields"]),
        deviation_fields=tuple(_field(f, "deviation") for f in data["deviation_fields"]),
        known_organisations=tuple(data.get("organisations", {}).get("known", ())),
        organisation_domains=_mail_domains(data.get("organisations", {}).get("mail_domains", {})),
    )


def _mail_domains(raw: dict) -> dict[str, tuple[str, ...]]:
    """``{"Higab AB": ["higab.se"]}``, lower case, without ``@`` or a leading dot."""
    out: dict[str, tuple[str, ...]] = {}
    for organisation, domains in raw.items():
        if isinstance(domains, str):
            domains = [domains]
        cleaned = tuple(d.strip().lower().lstrip("@").strip(".") for d in domains)
        bad = [d for d in cleaned if "." not in d or "@" in d or " " in d]
        if bad:
            raise ValueError(f"organisations.mail_domains: {organisation!r} has "
                             f"{', '.join(map(repr, bad))}, which is not a mail domain")
        out[str(organisation)] = cleaned
    return out


def load_schema(path: str | Path | None = None) -> Schema:
    """The schema from ``path``, or the one shipped with the package.

    A file of one's own is checked first (:mod:`avsteg.config.schema_check`): a wrong type or
    option is a ConfigurationError naming its line, at start, not a crash per message.
    """
    if path is None:
        return default_schema()
    problems = schema_problems(path)
    if problems:
        raise ConfigurationError(join_problems(problems, "the schema file"))
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    try:
        return schema_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:  # what the line-by-line check cannot see
        raise ConfigurationError(f"schema file {path}: {exc}") from exc


def schema_problems(path: str | Path | None = None) -> list[str]:
    """Every problem of the schema file ``path`` (default: the packaged one), line by line."""
    if path is None:
        return check_schema_text(_default_text(), DEFAULT_SCHEMA)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"schema_file {path}: cannot be read: {exc}"]
    reference = tuple(tomllib.loads(_default_text()).get("messages", {}))
    return check_schema_text(text, str(path), reference_messages=reference)


def _default_text() -> str:
    return resources.files("avsteg.config").joinpath(DEFAULT_SCHEMA).read_bytes().decode("utf-8")


@lru_cache(maxsize=1)
def default_schema() -> Schema:
    return schema_from_dict(tomllib.loads(_default_text()))
