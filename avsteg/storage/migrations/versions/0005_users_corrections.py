"""Local accounts of the web app; versions made by a person (a correction in the web app).

* ``users``: name, role (``handläggare`` | ``läsare``), an Argon2 password hash.
* ``report_versions.made_by`` / ``change_reason``: who made a corrected version and why (NULL
  for the sender's own templates).

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('handläggare', 'läsare')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    with op.batch_alter_table("report_versions") as batch:
        batch.add_column(sa.Column("made_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("change_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_versions") as batch:
        batch.drop_column("change_reason")
        batch.drop_column("made_by")
    op.drop_table("users")
