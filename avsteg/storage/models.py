"""The register's tables as SQLAlchemy 2.0 typed models.

The database schema itself comes from the Alembic migrations in ``migrations/versions``; these
models describe the same tables for queries (a test compares the two, so they cannot drift).

Naming: ``messages.message_id_header`` and ``replies.message_id_header`` hold RFC 5322
Message-ID values; a column called ``message_id`` is always a foreign key to ``messages.id``.

Nothing the register holds is ever deleted: a correction is a new row in ``report_versions``,
a withdrawal sets ``reports.withdrawn_at``. Only ``leases`` (coordination, not data) are deleted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MESSAGE_STATES = ("received", "processed", "failed")
OUTCOMES = ("registered", "duplicate", "new_version", "rejected", "ignored")
SEVERITIES = ("error", "warning")
REPLY_KINDS = ("receipt", "error", "help", "reminder", "digest")
REPLY_STATUSES = ("queued", "sent", "failed")
REMINDER_KINDS = ("first", "second")
# Why a message waits for a person (spec 3, "pending"). Only these are stored on a message;
# ``rejected-no-correction`` and ``undelivered-reply`` are derived from other rows by a query.
SET_ASIDE_KINDS = ("unknown-domain", "unreadable", "suspected-spoofing")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every database.

    SQLite keeps no offset and hands back naive values; PostgreSQL hands back its session's zone.
    Both come back as aware UTC here, so comparisons in Python never mix naive and aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)  # callers use UTC throughout
        value = value.astimezone(dt.UTC)
        # SQLite compares timestamps as text: store them without offset, always in UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MessageRow(Base):
    """One email as it arrived: raw bytes, where it came from, what was done with it and why."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("account", "folder", "uidvalidity", "uid"),
        CheckConstraint(_in("state", MESSAGE_STATES), name="state"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', OUTCOMES)}", name="outcome"),
        Index("ix_messages_message_id_header", "message_id_header"),
        Index("ix_messages_sha256", "sha256"),
        Index("ix_messages_state", "state"),
        Index("ix_messages_pending", "pending"),
        CheckConstraint(f"pending IS NULL OR {_in('pending', SET_ASIDE_KINDS)}", name="pending"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # lists never pull the bytes
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)  # of the whole message, also when cut
    cut: Mapped[bool] = mapped_column(default=False, server_default="0")  # raw: headers only
    message_id_header: Mapped[str | None] = mapped_column(String(998))
    sender: Mapped[str | None] = mapped_column(String(998))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    stored_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Mailbox position (IMAP); all NULL for messages given as files.
    account: Mapped[str | None] = mapped_column(String(320))
    folder: Mapped[str | None] = mapped_column(String(512))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="received")
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Set aside for a person (SET_ASIDE_KINDS); NULL when nothing waits or a person has acted.
    pending: Mapped[str | None] = mapped_column(String(32))
    # A copy made by ``reprocess`` points at the stored message it was made from.
    reprocessed_from: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))

    attachments: Mapped[list[AttachmentRow]] = relationship(
        back_populates="message", order_by="AttachmentRow.id"
    )
    problems: Mapped[list[ProblemRow]] = relationship(
        back_populates="message_row", order_by="ProblemRow.id"
    )


class AttachmentRow(Base):
    """A file found in a message (directly, in a zip, a forwarded message or winmail.dat)."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_sha256", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str | None] = mapped_column(Text)  # "attachment", "zip:a.zip", "rfc822", …
    format: Mapped[str | None] = mapped_column(String(16))
    parse_status: Mapped[str | None] = mapped_column(String(16))  # accepted|rejected|not_a_report

    message: Mapped[MessageRow] = relationship(back_populates="attachments")


class Report(Base):
    """A registered report under its reference number; the newest version is current."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("year", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    versions: Mapped[list[ReportVersion]] = relationship(
        back_populates="report", order_by="ReportVersion.version"
    )


class ReportVersion(Base):
    """One registered template of a report: the values as parsed, never changed afterwards."""

    __tablename__ = "report_versions"
    __table_args__ = (
        UniqueConstraint("report_id", "version"),
        Index("ix_report_versions_attachment_sha256", "attachment_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    version: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    attachment_sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(Text)
    template_version: Mapped[str | None] = mapped_column(String(32))
    organisation: Mapped[str | None] = mapped_column(Text)
    report_type: Mapped[str | None] = mapped_column(String(64))
    year: Mapped[int | None] = mapped_column(Integer)
    contact_name: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    values: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    made_by: Mapped[str | None] = mapped_column(String(200))  # a person's correction (web)
    change_reason: Mapped[str | None] = mapped_column(Text)  # … and why; see storage.corrections

    report: Mapped[Report] = relationship(back_populates="versions")
    message: Mapped[MessageRow] = relationship()
    deviations: Mapped[list[DeviationRow]] = relationship(
        back_populates="version", order_by="DeviationRow.position"
    )
    problems: Mapped[list[ProblemRow]] = relationship(
        back_populates="version", order_by="ProblemRow.id", viewonly=True
    )


class DeviationRow(Base):
    """One avsteg of a version: typed columns for what the register sums, plus every value."""

    __tablename__ = "deviations"
    __table_args__ = (UniqueConstraint("version_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("report_versions.id"))
    position: Mapped[int] = mapped_column(Integer)  # 1-based, as in "Avsteg 1"
    organisation: Mapped[str | None] = mapped_column(Text)
    report_type: Mapped[str | None] = mapped_column(String(64))
    year: Mapped[int | None] = mapped_column(Integer)
    procurement: Mapped[str | None] = mapped_column(Text)
    supplier: Mapped[str | None] = mapped_column(Text)
    jobs_created: Mapped[int | None] = mapped_column(Integer)
    employments: Mapped[int | None] = mapped_column(Integer)
    internships: Mapped[int | None] = mapped_column(Integer)
    fulltime_months: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    measures: Mapped[list[str]] = mapped_column(Json)
    target_groups: Mapped[list[str]] = mapped_column(Json)
    values: Mapped[dict[str, Any]] = mapped_column(Json)

    version: Mapped[ReportVersion] = relationship(back_populates="deviations")


class ProblemRow(Base):
    """An error or warning found in a message (and, for warnings, the version it belongs to)."""

    __tablename__ = "problems"
    __table_args__ = (CheckConstraint(_in("severity", SEVERITIES), name="severity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("report_versions.id"), index=True)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    severity: Mapped[str] = mapped_column(String(16))
    field: Mapped[str | None] = mapped_column(String(64))
    deviation: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)

    message_row: Mapped[MessageRow] = relationship(back_populates="problems")
    version: Mapped[ReportVersion | None] = relationship()


class ReplyRow(Base):
    """The outbox: a composed reply with its delivery state; kept after it is sent."""

    __tablename__ = "replies"
    __table_args__ = (
        CheckConstraint(_in("kind", REPLY_KINDS), name="kind"),
        CheckConstraint(_in("status", REPLY_STATUSES), name="status"),
        Index("ix_replies_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_replies_recipient_created_at", "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL for replies that answer no message (reminders, digests).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))  # lower case
    subject: Mapped[str | None] = mapped_column(Text)
    message_id_header: Mapped[str] = mapped_column(String(998), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    message: Mapped[MessageRow | None] = relationship()
    report: Mapped[Report | None] = relationship()


class ReferenceCounter(Base):
    """The last reference number handed out per year (AVS-YEAR-NNNN)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class Lease(Base):
    """A named, expiring lock held by one worker; taken over once it has expired."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PollState(Base):
    """How the last poll of a mailbox folder went (for ``avsteg status``)."""

    __tablename__ = "poll_state"

    account: Mapped[str] = mapped_column(String(320), primary_key=True)
    folder: Mapped[str] = mapped_column(String(512), primary_key=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int | None] = mapped_column(BigInteger)
    last_poll_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ReminderSent(Base):
    """A December reminder sent to an organisation, so it is sent once."""

    __tablename__ = "reminders_sent"
    __table_args__ = (
        UniqueConstraint("organisation", "year", "kind"),
        CheckConstraint(_in("kind", REMINDER_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class HistoryRow(Base):
    """One thing a person (or the service on a person's behalf) did: who, when, what, why.

    Every action of the stödfunktion — withdraw and undo, reprocess, register anyway, trust a
    domain, mark handled, send again, correct a field — lands here, so a report's page and the
    register's Historik sheet tell the same story. Rows are only ever added.
    """

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(Json)


class TrustedDomain(Base):
    """A sender domain a person decided to trust (``avsteg trust-domain``), with who and why.

    Added to the allowed sender domains (setting + the schema's organisations) by the
    pipeline's triage for every later message; subdomains count, as for the setting.
    """

    __tablename__ = "trusted_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)  # lower case, no dot
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    added_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class PendingHandled(Base):
    """A derived pending item (a stale rejection, an undelivered reply, a message that kept
    failing) that a person marked as handled, so it leaves the list for good.

    Set-aside messages need no row here: acting on them clears ``messages.pending``. The
    history table tells the story; this table is what the pending query looks at.
    """

    __tablename__ = "pending_handled"
    __table_args__ = (UniqueConstraint("kind", "message_id", "reply_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id"), index=True)
    handled_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    handled_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
