"""Messages too large to fetch whole: ``messages.cut``.

A message over ``policy.max_message_bytes`` is stored by its headers only (the body stays in the
mailbox, filed away as usual); ``messages.size`` keeps its real size and ``cut`` says that
``raw`` is not the whole message.

Revision ID: 0009_cut_messages
Revises: 0008_web_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_cut_messages"
down_revision = "0008_web_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("cut", sa.Boolean(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("cut")
