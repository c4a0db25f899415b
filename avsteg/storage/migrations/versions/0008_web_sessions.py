"""The web app's sessions on the server: signing out or removing an account ends them for real.

``web_sessions``: the SHA-256 hash of the random id the cookie carries (never the id itself),
who (name, role, local or oidc), created, last seen and ended (with why).

Revision ID: 0008_web_sessions
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_web_sessions"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint("via IN ('local', 'oidc')", name=op.f("ck_web_sessions_via")),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index("ix_web_sessions_name", "web_sessions", ["name"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_name", table_name="web_sessions")
    op.drop_table("web_sessions")
