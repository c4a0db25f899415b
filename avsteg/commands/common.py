"""Small pieces every command shares: settings with command-line overrides, JSON output."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from avsteg.config.settings import Settings, load_settings
from avsteg.config.strict import database_url_problem
from avsteg.domain.errors import ConfigurationError


def add_db_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="database URL (overrides database.url)")


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Settings from --config and AVSTEG_* variables; --db wins over both."""
    if getattr(args, "db", None):
        problem = database_url_problem(args.db)
        if problem:
            raise ConfigurationError(f"--db: {problem}")
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


def output_path(value: str, *, formats: dict[str, str], fmt: str | None = None) -> tuple[Path, str]:
    """Check an ``-o`` path before any work is done: (path, format).

    ``formats`` maps a file extension (``.xlsx``) to its format. The format comes from ``fmt``
    or else the extension; an extension that does not fit it, a missing parent directory (never
    created: a typo must not make directories anywhere) or a directory as the target are
    configuration errors (exit 2) with one line.
    """
    path = Path(value).expanduser()
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ConfigurationError(f"-o {value}: is a directory; give a file name")
    if fmt is None:
        if suffix not in formats:
            wanted = " or ".join(formats)
            raise ConfigurationError(f"-o {value}: the file name must end in {wanted}")
        fmt = formats[suffix]
    elif formats.get(suffix) != fmt:
        ext = next(e for e, f in formats.items() if f == fmt)
        raise ConfigurationError(f"-o {value}: a {fmt} file must end in {ext}, not "
                                 f"{suffix or 'nothing'}")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigurationError(f"-o {value}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigurationError(f"-o {value}: cannot write in {parent}")
    return path, fmt
