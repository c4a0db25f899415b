"""The register as people read it: ONE read model for the CLI, the scheduled jobs and the web app.

Every function takes an open session (``with db.unit_of_work(readonly=True) as s``) and returns
frozen values (:mod:`.views`, :mod:`avsteg.domain.register`), so no caller writes SQL or holds a
SQLAlchemy object:

* :func:`list_reports` — the register, one line per report, with filters (year, organisation,
  report type, status incl. withdrawn, free text), sort and paging → ``Page[ReportSummary]``
  (``avsteg list``, the web app's register page); :func:`register_choices` — what filters offer;
* :func:`report_details` — one report with its versions, deviations, messages, problems,
  replies and history → ``ReportDetails`` (``avsteg show``, a report's page);
  :func:`current_raw_message` — the .eml its current version came from;
* :func:`register_rows` — every report and version with typed values → ``Register`` (the
  export, the board report, reminders, the digest's workbook); :func:`register_summary` — the
  Sammanställning's figures summed in SQL (the web page);
* :func:`digest_data` — what the weekly digest tells; :func:`service_status` — ``avsteg status``.
"""
from avsteg.storage.read_model.activity import digest_data, service_status
from avsteg.storage.read_model.register import register_rows
from avsteg.storage.read_model.reports import (
    SORT_KEYS,
    current_raw_message,
    list_reports,
    matching_report_ids,
    message_raw,
    register_choices,
    register_figures,
    report_details,
    report_order,
    version_authors,
)
from avsteg.storage.read_model.summary import register_stamp, register_summary
from avsteg.storage.read_model.views import (
    Figures,
    HistoryEntry,
    MessageView,
    Page,
    PollView,
    ProblemView,
    ReplyView,
    ReportDetails,
    ReportSummary,
    ServiceStatus,
    SortKey,
    StatusFilter,
    VersionView,
)

__all__ = [
    "SORT_KEYS",
    "Figures",
    "HistoryEntry",
    "MessageView",
    "Page",
    "PollView",
    "ProblemView",
    "ReplyView",
    "ReportDetails",
    "ReportSummary",
    "ServiceStatus",
    "SortKey",
    "StatusFilter",
    "VersionView",
    "current_raw_message",
    "digest_data",
    "list_reports",
    "matching_report_ids",
    "register_choices",
    "register_figures",
    "message_raw",
    "version_authors",
    "register_rows",
    "register_stamp",
    "register_summary",
    "report_details",
    "report_order",
    "service_status",
]
