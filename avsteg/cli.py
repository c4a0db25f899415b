"""The ``avsteg`` command: one subcommand per module in :mod:`avsteg.commands`.

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Only the command that runs is imported (``avsteg --help`` and a typo
stay instant); everything it needs is wired by :mod:`avsteg.bootstrap`.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.metadata
import os
import sys

from avsteg.domain.errors import ConfigurationError, LoginRefusedError, TransientError

EX_FAILED = 1
EX_USAGE = 2
EX_TEMPFAIL = 75  # sysexits.h: cron and systemd may try again

# command name → module under avsteg.commands
COMMANDS: dict[str, str] = {
    "template": "template",
    "parse": "parse",
    "ingest": "ingest",
    "list": "list_reports",
    "demo": "demo",
    "run": "run",
    "status": "status",
    "export": "export",
    "board-report": "board_report",
    "remind": "remind",
    "show": "show",
    "withdraw": "withdraw",
    "reprocess": "reprocess",
    "pending": "pending",
    "register-anyway": "register_anyway",
    "trust-domain": "trust_domain",
    "resend": "resend",
    "db": "db",
    "check": "check",
    "web": "web",
    "user": "user",
}


def _module(name: str):
    try:
        return importlib.import_module(f"avsteg.commands.{COMMANDS[name]}")
    except ModuleNotFoundError as exc:
        if exc.name == f"avsteg.commands.{COMMANDS[name]}":
            return None
        raise


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avsteg",
        description="Avstegsregistret: reads emailed avstegsrapporter, keeps the register, answers senders.",
        epilog="Exit codes: 0 done, 1 failed, 2 wrong usage or configuration, "
               "75 temporary failure (a later run goes on by itself).",
    )
    parser.add_argument("--version", action="version", version=f"avsteg {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only is not None and name != only:
            sub.add_parser(name)  # listed in help; arguments loaded when it runs
            continue
        module = _module(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("--config", metavar="FILE", help="settings file (TOML); AVSTEG_* variables win")
        module.add_arguments(p)
    return parser


def version() -> str:
    try:
        return importlib.metadata.version("avsteg")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


def nearest_command(name: str) -> str | None:
    """The command a typo most likely meant (``lsit`` → ``list``), or None."""
    found = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
    return found[0] if found else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        build_parser().print_help(sys.stderr)
        return 2
    first = argv[0]
    if first.startswith("-"):  # --help, --version, or an option avsteg does not have
        build_parser().parse_args(argv)  # prints and exits 0 for --help/--version, 2 otherwise
        return 2  # pragma: no cover - parse_args exits without a command
    name = first
    if name not in COMMANDS or _module(name) is None:
        guess = nearest_command(name)
        hint = f"; did you mean \"{guess}\"?" if guess else ""
        print(f"avsteg: unknown command \"{name}\"{hint} (avsteg --help lists the commands)",
              file=sys.stderr)
        return 2
    parser = build_parser(only=name)
    args = parser.parse_args(argv)
    module = _module(name)
    try:
        return int(module.run(args) or 0)
    except ConfigurationError as exc:  # a setting is missing or wrong: say which, no traceback
        print(f"avsteg {name}: {exc}", file=sys.stderr)
        return EX_USAGE
    except LoginRefusedError as exc:  # not temporary: retrying will not help, a person must act
        print(f"avsteg {name}: {exc} (check the username, password or the app's access; "
              "nothing was read or answered)", file=sys.stderr)
        return EX_FAILED
    except TransientError as exc:  # a server or the database is down: a later run goes on
        print(f"avsteg {name}: {exc} (temporary: try again later)", file=sys.stderr)
        return EX_TEMPFAIL
    except BrokenPipeError:  # ``avsteg list --json | head``: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
