"""Swedish number agreement for every count a person reads (replies, demo, digest, reports).

"1 rapporter" and "1 arbetstillfällen" read as slips; a count and its noun must agree. The
nouns the service counts are listed with their plural once here, so a call names the singular.
"""
from __future__ import annotations

# Singular → plural (indefinite) of the nouns the service prints with a count.
PLURALS: dict[str, str] = {
    "rapport": "rapporter",
    "avstegsrapport": "avstegsrapporter",
    "avsteg": "avsteg",
    "arbetstillfälle": "arbetstillfällen",
    "anställning": "anställningar",
    "praktikplats": "praktikplatser",
    "fil": "filer",
    "meddelande": "meddelanden",
    "e-postmeddelande": "e-postmeddelanden",
    "svar": "svar",
    "version": "versioner",
    "fel": "fel",
    "månad": "månader",
    "förvaltning eller bolag": "förvaltningar och bolag",
    "återkallad rapport": "återkallade rapporter",
    "ny rapport": "nya rapporter",
    "ändrad rapport": "ändrade rapporter",
    "påminnelse": "påminnelser",
}


def word(n: int | float, singular: str, plural: str | None = None) -> str:
    """The noun that agrees with ``n``: the singular for exactly one, else the plural."""
    if n == 1:
        return singular
    return plural if plural is not None else PLURALS.get(singular, singular)


def count(n: int | float, singular: str, plural: str | None = None, *, number: str | None = None) -> str:
    """``n`` and its noun in agreement: ``count(1, "rapport")`` → ``1 rapport``,
    ``count(2, "rapport")`` → ``2 rapporter``. ``number`` prints ``n`` another way (with
    thousands separators, say)."""
    return f"{number if number is not None else n} {word(n, singular, plural)}"
