"""``avsteg parse FILE --json``: one JSON object, exit 0 whenever the file was read (spec 4)."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from avsteg.cli import main
from avsteg.config.schema import default_schema
from avsteg.forms.docx_template import build_docx
from avsteg.parsers.convert import libreoffice_converter
from avsteg.parsers.office.safety import REJECTIONS
from avsteg.parsers.template import parse_attachment
from tests.support import fill
from tests.support.libreoffice import need_soffice
from tests.unit.test_readers import make_docx, p, tbl, tr
from tests.unit.test_safety import BILLION_LAUGHS, ole_blob

SCHEMA = default_schema()
KEYS = {"file", "format", "template_version", "status", "report", "deviations", "errors", "warnings"}


def run_json(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    code = main(["parse", str(path), "--json", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.parametrize("name, data, needle", [
    ("rapport.pdf", b"%PDF-1.5\n", "PDF"),
    ("rapport.docx", ole_blob("Root Entry", "EncryptedPackage"), "lösenord"),
    ("rapport.doc", ole_blob("Root Entry", "WordDocument"), ".docx"),
    ("lol.docx", make_docx("", document=BILLION_LAUGHS), "DOCTYPE"),
    ("trasig.docx", make_docx(p("x" * 4000))[:700], "skadad"),
    ("brus.xlsx", bytes(range(256)) * 40, "format"),
])
def test_wrong_files_are_rejected_with_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              name: str, data: bytes, needle: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, out = run_json(path, capsys)
    assert code == 0
    assert set(out) == KEYS
    assert out["status"] == "rejected" and out["file"] == name
    assert needle.casefold() in out["errors"][0]["message"].casefold()
    assert out["errors"][0]["message"] != REJECTIONS["internal"]


def test_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "protokoll.docx"
    path.write_bytes(make_docx(p("Protokoll") + tbl(tr("Närvarande", "Anna"))))
    code, out = run_json(path, capsys)
    assert (code, out["status"], out["format"], out["errors"]) == (0, "not_a_report", "docx", [])


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(tmp_path / "finns-inte.docx"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no such file" in captured.err


def test_filled_template_is_accepted_and_printed_unescaped(tmp_path: Path) -> None:
    report, devs = fill.sample_report(SCHEMA, "event", n_deviations=1, seed=2)
    path = tmp_path / "händelse.docx"
    path.write_bytes(fill.fill_docx(build_docx(SCHEMA, "event"), report, devs, schema=SCHEMA))
    # A real process: the console script's module entry, the environment's settings.
    proc = subprocess.run(
        [sys.executable, "-m", "avsteg", "parse", str(path), "--json", "--today", "2026-06-01"],
        capture_output=True, text=True, encoding="utf-8", timeout=60, check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Händelserapport" in proc.stdout  # ensure_ascii=False
    out = json.loads(proc.stdout)
    expected_report, expected_devs = fill.expected_json(report, devs)
    assert out["status"] == "accepted", out["errors"]
    assert (out["template_version"], out["format"]) == (SCHEMA.version, "docx")
    assert out["report"] == expected_report and out["deviations"] == expected_devs


def test_summary_without_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rapport.pdf"
    path.write_bytes(b"%PDF-1.4")
    assert main(["parse", str(path)]) == 0
    out = capsys.readouterr().out
    assert "avvisad (rejected)" in out and "PDF" in out


@pytest.mark.integration
def test_convert_odt_with_libreoffice(tmp_path: Path) -> None:
    """A real LibreOffice round trip: our template saved as .odt, parsed with --convert."""
    soffice = need_soffice("converts .odt for `avsteg parse --convert`")
    report, devs = fill.sample_report(SCHEMA, "event", n_deviations=1, seed=4)
    docx = fill.fill_docx(build_docx(SCHEMA, "event"), report, devs, schema=SCHEMA)
    src = tmp_path / "in.docx"
    src.write_bytes(docx)
    subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                    "--convert-to", "odt", "--outdir", str(tmp_path), str(src)],
                   check=True, capture_output=True, timeout=120)
    odt = (tmp_path / "in.odt").read_bytes()

    without = parse_attachment("rapport.odt", odt, SCHEMA, today=dt.date(2026, 6, 1))
    assert without.status == "rejected" and ".docx" in without.errors[0].message

    result = parse_attachment("rapport.odt", odt, SCHEMA, today=dt.date(2026, 6, 1),
                              convert=libreoffice_converter())
    assert result.status == "accepted", result.errors
    assert result.format == "odt" and result.template_version == SCHEMA.version
    assert result.to_json()["deviations"] == fill.expected_json(report, devs)[1]
    assert any("omvandlats" in w.message for w in result.warnings)
