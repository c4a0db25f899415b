"""Loads the template schema file (``schema.toml``) into :class:`avsteg.domain.schema.Schema`."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

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
        help=_help(raw.get("help")),
        former_help=tuple(raw.get("former_help", ())),
        describes=raw.get("describes"),
        describes_option=raw.get("describes_option"),
        example=raw.get("example"),
    )


def _help(raw: str | dict | None) -> dict[str, str]:
    """``help`` as kind → text: a plain string is printed in every kind's template."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        return {"event": raw, "annual": raw}
    return {str(k): str(v) for k, v in raw.items()}


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
        fill_instructions=dict(t.get("fill_instructions", {})),
        hints=dict(data.get("hints", {})),
        annual_copy_hint_xlsx=t.get("annual_copy_hint_xlsx", ""),
    )


def load_schema(path: str | Path | None = None) -> Schema:
    """The schema from ``path``, or the one shipped with the package."""
    if path is None:
        return default_schema()
    with open(path, "rb") as fh:
        return schema_from_dict(tomllib.load(fh))


@lru_cache(maxsize=1)
def default_schema() -> Schema:
    data = resources.files("avsteg.config").joinpath(DEFAULT_SCHEMA).read_bytes()
    return schema_from_dict(tomllib.loads(data.decode("utf-8")))
