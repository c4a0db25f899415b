"""Sender domains a person trusts; derived pending items a person marked as handled.

* ``trusted_domains``: added by ``avsteg trust-domain`` (or the web app); the pipeline allows
  them next to ``policy.allowed_sender_domains`` and the schema's organisations.
* ``pending_handled``: a stale rejection, an undelivered reply or a message that kept failing
  that a person marked as handled (the pending list derives these from other rows).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusted_domains",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_trusted_domains")),
    )
    op.create_table(
        "pending_handled",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_pending_handled_message_id_messages")),
        sa.ForeignKeyConstraint(["reply_id"], ["replies.id"],
                                name=op.f("fk_pending_handled_reply_id_replies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_handled")),
        sa.UniqueConstraint("kind", "message_id", "reply_id",
                            name=op.f("uq_pending_handled_kind_message_id_reply_id")),
    )
    op.create_index(op.f("ix_pending_handled_message_id"), "pending_handled", ["message_id"])
    op.create_index(op.f("ix_pending_handled_reply_id"), "pending_handled", ["reply_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_handled_reply_id"), table_name="pending_handled")
    op.drop_index(op.f("ix_pending_handled_message_id"), table_name="pending_handled")
    op.drop_table("pending_handled")
    op.drop_table("trusted_domains")
