"""Storage: the register's database (SQLAlchemy 2.0 models, units of work, Alembic migrations).

Import what you need from here; the submodules say why each part exists:

* ``database``  — :class:`Database` (engine, ``unit_of_work()``, ``upgrade()``)
* ``models``    — the tables
* ``messages``  — the raw-message ledger (``store_raw_message``, ``mark_processed`` …)
* ``reports``   — reference numbers, reports, versions, deviations, ``current_versions``
* ``outbox``    — replies queued, sent, retried with backoff
* ``ledger``    — leases, poll state, reminders sent
* ``history``   — who did what to a report or a message, and why
* ``read_model`` — the register as people read it (lists with filters, one report's story, the
  export's rows, the digest, the service's status): what commands, jobs and the web app use
* ``history``   — people's actions (who, when, what, why); messages set aside for a person
* ``web_sessions`` — the web app's signed-in sessions, kept on the server so they can be ended

Importing this package connects to nothing.
"""

from avsteg.storage import graph_models  # noqa: F401 - puts the Graph tables in Base.metadata
from avsteg.storage import indexes as _indexes  # noqa: F401  (0007's indexes on the tables)
from avsteg.storage.database import Database
from avsteg.storage.history import (
    SYSTEM_ACTOR,
    clear_set_aside,
    history_of_message,
    history_of_report,
    record_action,
    set_aside,
)
from avsteg.storage.ledger import (
    acquire_lease,
    claim_message,
    get_poll_state,
    lease_holder,
    poll_states,
    record_poll,
    record_reminder,
    release_lease,
    release_message,
    reminder_sent,
    renew_lease,
)
from avsteg.storage.messages import (
    MailboxPosition,
    add_attachment,
    find_message_by_position,
    find_processed_by_message_id,
    get_message,
    mark_failed,
    mark_processed,
    pending_messages,
    record_problems,
    sha256_hex,
    store_raw_message,
    utcnow,
)
from avsteg.storage.models import (
    AttachmentRow,
    DeviationRow,
    HistoryRow,
    Lease,
    MessageRow,
    PollState,
    ProblemRow,
    ReminderSent,
    ReplyRow,
    Report,
    ReportVersion,
)
from avsteg.storage.outbox import (
    backoff_delay,
    due_replies,
    mark_reply_failed,
    mark_reply_sent,
    outbox_counts,
    queue_reply,
    replies_for_message,
    replies_sent_to,
)
from avsteg.storage.reports import (
    add_version,
    current_version,
    current_versions,
    find_report_by_reference,
    find_report_for_thread,
    find_reports_for_thread,
    find_version_by_attachment_sha,
    format_reference,
    next_reference,
    references_in,
    register_report,
    withdraw_report,
)
from avsteg.storage.users import UserRow  # the users table joins Base.metadata with storage
from avsteg.storage.web_sessions import WebSessionRow  # the web app's sessions, likewise

__all__ = [
    "AttachmentRow",
    "Database",
    "DeviationRow",
    "HistoryRow",
    "Lease",
    "MailboxPosition",
    "MessageRow",
    "PollState",
    "ProblemRow",
    "ReminderSent",
    "ReplyRow",
    "Report",
    "ReportVersion",
    "SYSTEM_ACTOR",
    "acquire_lease",
    "add_attachment",
    "add_version",
    "backoff_delay",
    "clear_set_aside",
    "claim_message",
    "current_version",
    "current_versions",
    "due_replies",
    "find_message_by_position",
    "find_processed_by_message_id",
    "find_report_by_reference",
    "find_report_for_thread",
    "find_reports_for_thread",
    "find_version_by_attachment_sha",
    "format_reference",
    "get_message",
    "get_poll_state",
    "history_of_message",
    "history_of_report",
    "lease_holder",
    "mark_failed",
    "mark_processed",
    "mark_reply_failed",
    "mark_reply_sent",
    "next_reference",
    "outbox_counts",
    "pending_messages",
    "poll_states",
    "queue_reply",
    "record_action",
    "record_poll",
    "record_problems",
    "record_reminder",
    "references_in",
    "register_report",
    "release_lease",
    "release_message",
    "reminder_sent",
    "renew_lease",
    "replies_for_message",
    "replies_sent_to",
    "set_aside",
    "sha256_hex",
    "store_raw_message",
    "UserRow",
    "WebSessionRow",
    "utcnow",
    "withdraw_report",
]
