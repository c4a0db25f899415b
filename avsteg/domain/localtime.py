"""The one time zone people read: Europe/Stockholm.

The database keeps instants in UTC. Whatever a person reads — the register's columns, ``avsteg
show``, the digest, the day a reminder is due, the scheduler's cron times — is Stockholm time,
and comes from here.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TIMEZONE = "Europe/Stockholm"
"""The IANA name, for libraries that want a name (APScheduler's ``timezone=``)."""

SHOWN_FORMAT = "%Y-%m-%d %H:%M"


def zone() -> dt.tzinfo:
    """Stockholm's zone; UTC on a machine without a tz database (still the same instant)."""
    try:
        return ZoneInfo(TIMEZONE)
    except ZoneInfoNotFoundError:
        return dt.UTC


def local_time(moment: dt.datetime) -> dt.datetime:
    """A naive local (Stockholm) time: Excel cells cannot hold a time zone.

    A naive ``moment`` is taken to be local already.
    """
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(zone()).replace(tzinfo=None)


def local_date(moment: dt.datetime) -> dt.date:
    """The Stockholm calendar day of an instant (a digest's week, a reminder's due day)."""
    return local_time(moment).date()


def show_time(moment: dt.datetime | str | None, missing: str = "–") -> str:
    """An instant (or its ISO text) as a person reads it: ``2026-03-05 14:07`` Stockholm time."""
    if moment is None or moment == "":
        return missing
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return local_time(moment).strftime(SHOWN_FORMAT)
