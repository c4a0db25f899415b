"""Small pieces every command shares: settings with command-line overrides, JSON output."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from avsteg.config.settings import Settings, load_settings


def add_db_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="database URL (overrides database.url)")


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Settings from --config and AVSTEG_* variables; --db wins over both."""
    if getattr(args, "db", None):
        overrides.setdefault("database", {})["url"] = args.db
    settings = load_settings(getattr(args, "config", None), **overrides)
    if getattr(args, "db", None):
        settings.database.url = args.db  # a command-line flag wins over the environment too
    return settings


def add_actor_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", metavar="NAME", default=None,
                   help="who acts, for the history (default: the operating-system user)")


def actor_from(args: argparse.Namespace) -> str:
    """The person acting: --by, else the login name (a container may have no user entry)."""
    name = (getattr(args, "by", None) or "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "okänd"


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def say(text: str) -> None:
    """Human messages go to stderr, so --json output stays machine-readable."""
    print(text, file=sys.stderr)

