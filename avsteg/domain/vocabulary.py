"""The Swedish words people read for the codes the register stores.

Codes (``registered``, ``receipt``, ``queued`` …) are English and never change: they are in the
database, the JSON output and the logs. What a person reads for them — in ``avsteg demo``,
``list``, ``show``, ``parse``, ``reprocess``, the replies, the digest and the export — is the one
table below, so a word changes in one place and means the same everywhere.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


def _table(words: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(words)


# What happened to a message (messages.outcome, or its state while it has none).
OUTCOMES = _table({
    "registered": "registrerad",
    "duplicate": "dubblett",
    "new_version": "ny version",
    "rejected": "avvisad",
    "ignored": "lämnad åt en person",  # not ours: never answered, moved or marked read
})
MESSAGE_STATES = _table({
    "received": "mottagen",
    "processed": "behandlad",
    "failed": "misslyckad",
})

# What the parser made of one file (``avsteg parse``, ParsedReport.status).
PARSE_STATUSES = _table({
    "accepted": "godkänd",
    "rejected": "avvisad",
    "not_a_report": "ingen avstegsrapport",
})

# A report in the register, and a version in the export's Historik sheet.
CURRENT = "aktuell"
WITHDRAWN = "återkallad"
SUPERSEDED = "ersatt"
REPORT_STATUSES = _table({"current": CURRENT, "withdrawn": WITHDRAWN, "superseded": SUPERSEDED})

# What changed about a report in a period (the weekly digest).
CHANGE_NEW = "ny"
CHANGE_NEW_VERSION = OUTCOMES["new_version"]
CHANGE_WITHDRAWN = WITHDRAWN

# Mail we send (replies.kind) and where it is (replies.status).
REPLY_KINDS = _table({
    "receipt": "kvittens",
    "error": "felbesked",
    "help": "hjälpsvar",
    "reminder": "påminnelse",
    "digest": "sammanfattning",
})
REPLY_STATUSES = _table({"queued": "i kö", "sent": "skickat", "failed": "misslyckat"})

# What a person did (history.action): the report's page and the export's Historik sheet.
ACTIONS = _table({
    "withdraw": "Drog tillbaka rapporten",
    "undo-withdraw": "Ångrade tillbakadragningen",
    "correct": "Rättade ett fält (ny version)",
    "reprocess": "Bearbetade meddelandet igen",
    "register-anyway": "Registrerade trots okänd avsändardomän",
    "trust-domain": "Litar på domänen från och med nu",
    "resolve": "Markerade som hanterad",
    "resend": "Skickade svaret igen",
})

# The codes, for the database's CHECK constraints.
OUTCOME_CODES = tuple(OUTCOMES)
MESSAGE_STATE_CODES = tuple(MESSAGE_STATES)
REPLY_KIND_CODES = tuple(REPLY_KINDS)
REPLY_STATUS_CODES = tuple(REPLY_STATUSES)
REGISTERING = ("registered", "new_version")
"""Outcomes that put a version in the register."""


def outcome_word(code: str | None) -> str:
    """The Swedish word for a message's outcome or state; an unknown code as it is."""
    if code is None:
        return ""
    return OUTCOMES.get(code) or MESSAGE_STATES.get(code) or code


def word(table: Mapping[str, str], code: str | None) -> str:
    """``table[code]``, or the code itself when the table does not know it (never raises)."""
    if code is None:
        return ""
    return table.get(code, code)


def cut_note(size: int) -> str:
    """What a person reads about a message stored by its headers only (``messages.cut``)."""
    megabytes = f"{size / (1024 * 1024):.1f}".replace(".", ",")
    return (f"Meddelandet var för stort ({megabytes} MB) för att hämtas helt: bara huvudet "
            "sparades. Hela meddelandet finns kvar i brevlådan.")
