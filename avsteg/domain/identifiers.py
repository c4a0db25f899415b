"""Identifiers people type: organisationsnummer, e-mail addresses, phone numbers (spec 2.3).

Each ``*_value`` takes the raw cell value and the text shown in the document and returns the
normalised value of spec 2.4, or raises :class:`~avsteg.domain.normalise.Invalid` with the kind
of mistake, which the schema turns into a Swedish message.
"""
from __future__ import annotations

import re
from typing import Any

from avsteg.domain.normalise import Invalid, as_text, is_blank, one_line, text_of


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check Swedish organisations- and personnummer use."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


_ORGNR_PREFIX = re.compile(r"^(?:ORG(?:ANISATIONS)?\.?\s*NR\.?|ORGANISATIONSNUMMER):?\s*")
_ORGNR_NOISE = re.compile(r"[\s\-−–‑+]")
_VAT_NUMBER = re.compile(r"SE(\d{10})01")


def normalise_orgnr(raw: Any) -> str | None:
    """`NNNNNN-NNNN` from `556677-8899`, `5566778899`, `16556677-8899`, `SE556677889901`, …"""
    return None if is_blank(raw) else orgnr_value(raw, text_of(raw))


def orgnr_value(raw: Any, shown: str | None) -> str:
    """:func:`normalise_orgnr` of a non-blank ``raw`` whose ``shown = text_of(raw)`` is known."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and float(raw).is_integer():
        text = str(int(raw)).zfill(10)  # a personnummer starting with 0 loses it in Excel
    else:
        text = (one_line(shown) or "").upper()
    text = _ORGNR_PREFIX.sub("", text)
    compact = _ORGNR_NOISE.sub("", text)
    if m := _VAT_NUMBER.fullmatch(compact):
        compact = m[1]
    if len(compact) == 12 and compact[:2] in ("16", "19", "20"):
        compact = compact[2:]  # 16 = organisation prefix; 19/20 = a sole trader's century
    if not (len(compact) == 10 and compact.isdigit() and luhn_ok(compact)):
        raise Invalid("invalid_orgnr", shown or "")
    return f"{compact[:6]}-{compact[6:]}"


_EMAIL_PART = r"[^@\s<>()\[\],;:\"]+"
_EMAIL = re.compile(rf"{_EMAIL_PART}@{_EMAIL_PART}")
_NAMED_ADDRESS = re.compile(r"[^<>]*<([^<>]*)>")
_MAILTO = re.compile(r"^mailto:\s*", re.IGNORECASE)


def normalise_email(raw: Any) -> str | None:
    """The address as written, without `Namn <…>` or `mailto:` around it; syntax-checked."""
    return None if is_blank(raw) else email_value(raw, text_of(raw))


def email_value(raw: Any, shown: str | None) -> str | None:
    """:func:`normalise_email` of a non-blank ``raw`` whose ``shown = text_of(raw)`` is known."""
    text = one_line(shown)
    if text is None:
        return None
    address = text
    if m := _NAMED_ADDRESS.fullmatch(address):
        address = m[1].strip()
    address = _MAILTO.sub("", address).rstrip(".,;")
    local, _, domain = address.rpartition("@")
    labels = domain.split(".")
    ok = (
        _EMAIL.fullmatch(address) is not None
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in address
        and len(labels) >= 2
        and all(labels)
        and all(not lab.startswith("-") and not lab.endswith("-") for lab in labels)
        and len(labels[-1]) >= 2
        and not labels[-1].isdigit()
    )
    if not ok:
        raise Invalid("invalid_email", shown or text)
    return address


def normalise_phone(raw: Any) -> str | None:
    """Phone numbers are kept as written; only Excel's lost leading zero is put back."""
    return _excel_phone(raw) or as_text(raw)


def phone_value(raw: Any, shown: str | None) -> str | None:
    """:func:`normalise_phone` given ``shown = as_text(raw)``."""
    return _excel_phone(raw) or shown


def _excel_phone(raw: Any) -> str | None:
    """A phone number Excel stored as a number, its lost leading zero (or `+`) put back."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and float(raw).is_integer():
        digits = str(int(raw))
        return "+" + digits if digits.startswith("46") and len(digits) >= 10 else "0" + digits
    return None
