"""Indexes for the web app's Registret and Sammanställning on a large register (bench/web.py).

Registret filters the current versions by Rapportår, organisation and report type (alone or
together: PostgreSQL combines single-column indexes with a bitmap AND), and Sammanställning and
the board report read one year. Before these, each filter was a sequential scan of every version.

Registret's search (ILIKE '%…%' over the reference, organisation, contact, file name, sender,
subject and the deviations' procurement and supplier) gets trigram GIN indexes on PostgreSQL
(the pg_trgm extension, trusted since PostgreSQL 13 so the database owner may create it; left in
place on downgrade). On SQLite the same names are plain indexes, so the models describe both.

Revision ID: 0007
Revises: 0006_graph_delta
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006_graph_delta"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_report_versions_year": ["year"],
    "ix_report_versions_organisation": ["organisation"],
    "ix_report_versions_report_type": ["report_type"],
}


TRIGRAM = {
    "reports": ["reference"],
    "report_versions": ["organisation", "contact_name", "contact_email", "filename"],
    "messages": ["sender", "subject"],
    "deviations": ["procurement", "supplier"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "report_versions", columns)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, columns in TRIGRAM.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}_trgm", table, [column], postgresql_using="gin",
                            postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    for table, columns in TRIGRAM.items():
        for column in columns:
            op.drop_index(f"ix_{table}_{column}_trgm", table_name=table)
    for name in INDEXES:
        op.drop_index(name, table_name="report_versions")
