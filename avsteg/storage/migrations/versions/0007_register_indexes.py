"""Indexes for the web app's Registret and Sammanställning on a large register (bench/web.py).

Registret filters the current versions by Rapportår, organisation and report type (alone or
together: PostgreSQL combines single-column indexes with a bitmap AND), and Sammanställning and
the board report read one year. Before these, each filter was a sequential scan of every version.

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_report_versions_year": ["year"],
    "ix_report_versions_organisation": ["organisation"],
    "ix_report_versions_report_type": ["report_type"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "report_versions", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="report_versions")
