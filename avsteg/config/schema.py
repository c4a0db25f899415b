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
    """The schema from ``path``, or the one shipped with the package."""
    if path is None:
        return default_schema()
    with open(path, "rb") as fh:
        return schema_from_dict(tomllib.load(fh))


@lru_cache(maxsize=1)
def default_schema() -> Schema:
    data = resources.files("avsteg.config").joinpath(DEFAULT_SCHEMA).read_bytes()
    return schema_from_dict(tomllib.loads(data.decode("utf-8")))
