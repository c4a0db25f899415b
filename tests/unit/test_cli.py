"""The command line's contract (spec 4): help and version to stdout, typos suggested, output
paths checked before any work, read-only commands never create a database, exit codes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from avsteg.cli import main


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("AVSTEG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _exit(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own --help/--version/usage errors
        return int(exc.code or 0)


def test_version_and_help_go_to_stdout_with_exit_0(capsys):
    assert _exit(["--version"]) == 0
    assert capsys.readouterr().out.startswith("avsteg ")
    assert _exit(["--help"]) == 0
    out = capsys.readouterr()
    assert "COMMAND" in out.out and "check" in out.out and out.err == ""
    assert _exit(["list", "--help"]) == 0
    assert "--json" in capsys.readouterr().out


def test_an_unknown_command_is_named_and_the_nearest_suggested(capsys):
    assert _exit(["lsit"]) == 2
    err = capsys.readouterr().err
    assert 'unknown command "lsit"; did you mean "list"?' in err
    assert err.count("\n") == 1


def test_no_command_is_wrong_usage(capsys):
    assert _exit([]) == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["list"], ["status"], ["status", "--check"], ["show", "AVS-2026-0001"],
                                  ["export", "-o", "r.xlsx"], ["board-report", "-o", "b.docx"]])
def test_read_only_commands_never_create_a_database(argv, tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/skrivfel/avsteg.sqlite"
    assert _exit([*argv, "--db", url]) == 2
    err = capsys.readouterr().err
    assert "no register database at" in err and "Traceback" not in err
    assert not (tmp_path / "skrivfel").exists()
    assert not list(tmp_path.iterdir())


def test_a_typo_in_the_settings_fails_every_command_with_exit_2(tmp_path, capsys):
    (tmp_path / "a.toml").write_text('[databse]\nurl = "sqlite:///x.sqlite"\n')
    for argv in (["list"], ["export", "-o", "r.xlsx"], ["run", "--once"], ["status"]):
        assert _exit([*argv, "--config", "a.toml"]) == 2
        err = capsys.readouterr().err
        assert "did you mean [database]?" in err and "Traceback" not in err
    assert not (tmp_path / "x.sqlite").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["export", "-o", "r.pdf"], "must end in .xlsx or .csv"),
    (["export", "--format", "xlsx", "-o", "r.csv"], "a xlsx file must end in .xlsx"),
    (["export", "-o", "/nonexistent/dir/r.xlsx"], "the directory /nonexistent/dir does not exist"),
    (["board-report", "-o", "/nonexistent/b.docx"], "does not exist"),
    (["board-report", "-o", "b.pdf"], "must end in .docx"),
    (["template", "-o", "/nonexistent/x.docx"], "does not exist"),
    (["template", "--format", "docx", "-o", "x.xlsx"], "a docx file must end in .docx"),
])
def test_output_paths_are_checked_first(argv, message, capsys):
    assert _exit(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not Path("/nonexistent").exists()


def test_template_format_follows_the_file_name(tmp_path, capsys):
    assert _exit(["template", "-o", "mall.xlsx"]) == 0
    assert (tmp_path / "mall.xlsx").read_bytes()[:2] == b"PK"
    assert "(xlsx)" in capsys.readouterr().err


def test_a_bad_database_url_is_a_hint_not_a_traceback(capsys):
    assert _exit(["list", "--db", "avsteg.sqlite"]) == 2
    err = capsys.readouterr().err
    assert "sqlite:///avsteg.sqlite" in err and "Traceback" not in err


def test_run_lists_every_missing_setting_at_once(capsys):
    assert _exit(["run", "--once"]) == 2
    err = capsys.readouterr().err
    for name in ("imap.host", "imap.username", "imap.password", "smtp.host"):
        assert name in err
    assert err.count("\n") == 1
