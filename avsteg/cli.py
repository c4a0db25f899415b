"""The ``avsteg`` command: one subcommand per module in :mod:`avsteg.commands`.

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Only the command that runs is imported (``avsteg --help`` and a typo
stay instant); everything it needs is wired by :mod:`avsteg.bootstrap`.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from avsteg.domain.errors import ConfigurationError

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
    )
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name = next((a for a in argv if not a.startswith("-")), None)
    if name not in COMMANDS:
        build_parser().print_help(sys.stderr)
        return 2 if argv else 0
    parser = build_parser(only=name)
    args = parser.parse_args(argv)
    module = _module(name)
    if module is None:
        print(f"avsteg: the {name} command is not available in this build", file=sys.stderr)
        return 2
    try:
        return int(module.run(args) or 0)
    except ConfigurationError as exc:  # a setting is missing or wrong: say which, no traceback
        print(f"avsteg {name}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # ``avsteg list --json | head``: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
