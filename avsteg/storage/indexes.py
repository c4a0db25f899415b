"""The indexes of migration 0007, kept beside the models rather than in them.

Registret filters the current versions by Rapportår, organisation and report type, and searches
with ILIKE '%…%' over the reference, the version's organisation, contact and file name, the
message's sender and subject and the deviations' procurement and supplier (bench/web.py on 20,000
reports). On PostgreSQL the search columns get trigram GIN indexes (pg_trgm); on SQLite the same
names are plain indexes. Attached to the models' tables when :mod:`avsteg.storage` is imported,
so the metadata and the migrations describe the same schema.
"""

from __future__ import annotations

from sqlalchemy import Index

from avsteg.storage.models import Base

FILTERS: dict[str, tuple[str, ...]] = {"report_versions": ("year", "organisation", "report_type")}
SEARCH: dict[str, tuple[str, ...]] = {
    "reports": ("reference",),
    "report_versions": ("organisation", "contact_name", "contact_email", "filename"),
    "messages": ("sender", "subject"),
    "deviations": ("procurement", "supplier"),
}


def _attach() -> None:
    tables = Base.metadata.tables
    for table, columns in FILTERS.items():
        for column in columns:
            if f"ix_{table}_{column}" not in {ix.name for ix in tables[table].indexes}:
                Index(f"ix_{table}_{column}", tables[table].c[column])
    for table, columns in SEARCH.items():
        for column in columns:
            if f"ix_{table}_{column}_trgm" not in {ix.name for ix in tables[table].indexes}:
                Index(f"ix_{table}_{column}_trgm", tables[table].c[column],
                      postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


_attach()
