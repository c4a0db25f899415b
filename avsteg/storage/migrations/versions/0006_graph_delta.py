"""Microsoft Graph: delta links per folder, and Graph message ids mapped to integer UIDs.

Revision ID: 0006_graph_delta
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_graph_delta"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graph_folders",
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("folder", sa.String(length=512), nullable=False),
        sa.Column("folder_id", sa.String(length=1024), nullable=True),
        sa.Column("delta_link", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account", "folder", name=op.f("pk_graph_folders")),
    )
    op.create_table(
        "graph_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("folder", sa.String(length=512), nullable=False),
        sa.Column("graph_id", sa.String(length=1024), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("filed", sa.Boolean(), nullable=False),
        sa.Column("is_read", sa.Boolean(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_messages")),
        sa.UniqueConstraint("account", "folder", "graph_id",
                            name=op.f("uq_graph_messages_account_folder_graph_id")),
    )


def downgrade() -> None:
    op.drop_table("graph_messages")
    op.drop_table("graph_folders")
