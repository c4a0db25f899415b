"""History of people's actions; messages set aside for a person; reprocessed copies.

* ``history``: who did what, when and why (withdraw, register anyway, trust a domain, …).
* ``messages.pending``: why a message waits for a person (unknown-domain, unreadable,
  suspected-spoofing); NULL once a person has acted.
* ``messages.reprocessed_from``: the stored message a reprocessed copy was made from (it used
  to be smuggled into the mailbox-position columns).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SET_ASIDE = "pending IS NULL OR pending IN ('unknown-domain', 'unreadable', 'suspected-spoofing')"


def upgrade() -> None:
    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_history_message_id_messages")),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"],
                                name=op.f("fk_history_report_id_reports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    op.create_index(op.f("ix_history_message_id"), "history", ["message_id"])
    op.create_index(op.f("ix_history_report_id"), "history", ["report_id"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("pending", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("reprocessed_from", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_messages_reprocessed_from_messages"), "messages",
                                 ["reprocessed_from"], ["id"])
        batch.create_check_constraint("pending", _SET_ASIDE)
        batch.create_index("ix_messages_pending", ["pending"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_pending")
        batch.drop_constraint(op.f("ck_messages_pending"), type_="check")
        batch.drop_constraint(op.f("fk_messages_reprocessed_from_messages"), type_="foreignkey")
        batch.drop_column("reprocessed_from")
        batch.drop_column("pending")
    op.drop_index(op.f("ix_history_report_id"), table_name="history")
    op.drop_index(op.f("ix_history_message_id"), table_name="history")
    op.drop_table("history")
