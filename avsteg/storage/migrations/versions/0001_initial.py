"""The initial schema: messages, attachments, reports and versions, deviations, problems,
the outbox, reference counters, leases, poll state and reminders.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Types spelt out here, not imported from the models: a migration must not change when the
# models do. Timestamps are stored in UTC; JSON is JSONB on PostgreSQL.


def Timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def Json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", Timestamp(), nullable=False),
        sa.Column("expires_at", Timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("message_id_header", sa.String(length=998), nullable=True),
        sa.Column("sender", sa.String(length=998), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("received_at", Timestamp(), nullable=True),
        sa.Column("stored_at", Timestamp(), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=True),
        sa.Column("folder", sa.String(length=512), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", Timestamp(), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('registered', 'duplicate', 'new_version', 'rejected', 'ignored')",
            name=op.f("ck_messages_outcome"),
        ),
        sa.CheckConstraint(
            "state IN ('received', 'processed', 'failed')", name=op.f("ck_messages_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "account",
            "folder",
            "uidvalidity",
            "uid",
            name=op.f("uq_messages_account_folder_uidvalidity_uid"),
        ),
    )
    op.create_index("ix_messages_message_id_header", "messages", ["message_id_header"])
    op.create_index("ix_messages_sha256", "messages", ["sha256"])
    op.create_index("ix_messages_state", "messages", ["state"])

    op.create_table(
        "poll_state",
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("folder", sa.String(length=512), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=True),
        sa.Column("last_poll_at", Timestamp(), nullable=True),
        sa.Column("last_success_at", Timestamp(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("account", "folder", name=op.f("pk_poll_state")),
    )
    op.create_table(
        "reference_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_reference_counters")),
    )
    op.create_table(
        "reminders_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sent_at", Timestamp(), nullable=False),
        sa.CheckConstraint("kind IN ('first', 'second')", name=op.f("ck_reminders_sent_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders_sent")),
        sa.UniqueConstraint(
            "organisation", "year", "kind", name=op.f("uq_reminders_sent_organisation_year_kind")
        ),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", Timestamp(), nullable=False),
        sa.Column("withdrawn_at", Timestamp(), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("reference", name=op.f("uq_reports_reference")),
        sa.UniqueConstraint("year", "number", name=op.f("uq_reports_year_number")),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=True),
        sa.Column("parse_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_attachments_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(op.f("ix_attachments_message_id"), "attachments", ["message_id"])
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"])

    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("message_id_header", sa.String(length=998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Timestamp(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp(), nullable=False),
        sa.Column("sent_at", Timestamp(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('receipt', 'error', 'help', 'reminder', 'digest')",
            name=op.f("ck_replies_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed')", name=op.f("ck_replies_status")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_replies_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_replies_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
        sa.UniqueConstraint("message_id_header", name=op.f("uq_replies_message_id_header")),
    )
    op.create_index(op.f("ix_replies_message_id"), "replies", ["message_id"])
    op.create_index("ix_replies_recipient_created_at", "replies", ["recipient", "created_at"])
    op.create_index(op.f("ix_replies_report_id"), "replies", ["report_id"])
    op.create_index("ix_replies_status_next_attempt_at", "replies", ["status", "next_attempt_at"])

    op.create_table(
        "report_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=True),
        sa.Column("attachment_sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("template_version", sa.String(length=32), nullable=True),
        sa.Column("organisation", sa.Text(), nullable=True),
        sa.Column("report_type", sa.String(length=64), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("values", Json(), nullable=False),
        sa.Column("created_at", Timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_report_versions_attachment_id_attachments"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_report_versions_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_versions_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_versions")),
        sa.UniqueConstraint(
            "report_id", "version", name=op.f("uq_report_versions_report_id_version")
        ),
    )
    op.create_index(
        "ix_report_versions_attachment_sha256", "report_versions", ["attachment_sha256"]
    )
    op.create_index(op.f("ix_report_versions_message_id"), "report_versions", ["message_id"])

    op.create_table(
        "deviations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.Text(), nullable=True),
        sa.Column("report_type", sa.String(length=64), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("procurement", sa.Text(), nullable=True),
        sa.Column("supplier", sa.Text(), nullable=True),
        sa.Column("jobs_created", sa.Integer(), nullable=True),
        sa.Column("employments", sa.Integer(), nullable=True),
        sa.Column("internships", sa.Integer(), nullable=True),
        sa.Column("fulltime_months", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("measures", Json(), nullable=False),
        sa.Column("target_groups", Json(), nullable=False),
        sa.Column("values", Json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["report_versions.id"],
            name=op.f("fk_deviations_version_id_report_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deviations")),
        sa.UniqueConstraint(
            "version_id", "position", name=op.f("uq_deviations_version_id_position")
        ),
    )
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("attachment_id", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("deviation", sa.Integer(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint("severity IN ('error', 'warning')", name=op.f("ck_problems_severity")),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_problems_attachment_id_attachments"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_problems_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["report_versions.id"],
            name=op.f("fk_problems_version_id_report_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problems")),
    )
    op.create_index(op.f("ix_problems_message_id"), "problems", ["message_id"])
    op.create_index(op.f("ix_problems_version_id"), "problems", ["version_id"])


def downgrade() -> None:
    op.drop_table("problems")
    op.drop_table("deviations")
    op.drop_table("report_versions")
    op.drop_table("replies")
    op.drop_table("attachments")
    op.drop_table("reports")
    op.drop_table("reminders_sent")
    op.drop_table("reference_counters")
    op.drop_table("poll_state")
    op.drop_table("messages")
    op.drop_table("leases")
