"""LibreOffice as a test tool: re-save a file (a program that rewrites it, spec 2.3) or print it.

Each call uses its own profile directory so parallel test workers do not fight over one. When
LibreOffice is not installed the calling test is skipped — or, with AVSTEG_REQUIRE_SERVERS=1
(CI), fails (tests/support/require.py).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.require import need

_FILTERS = {"docx": "docx:MS Word 2007 XML", "xlsx": "xlsx:Calc MS Excel 2007 XML"}


INSTALL = "apt-get install libreoffice-writer-nogui libreoffice-calc-nogui"


def soffice() -> str | None:
    """The LibreOffice executable, or None (for code that only asks; tests use need_soffice)."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def need_soffice(why: str = "prints and re-saves Office files") -> str:
    return need(("soffice", "libreoffice"), f"LibreOffice {why} ({INSTALL})")


def need_pdftotext() -> str:
    return need("pdftotext", "reads the text of printed PDFs (apt-get install poppler-utils)")


def libreoffice_roundtrip(data: bytes, fmt: str, timeout: float = 120) -> bytes:
    """Open ``data`` in LibreOffice and save it again as ``fmt``.

    This is "a program that rewrites the file on save" (spec 2.3). Each call uses its own
    profile directory so parallel test workers do not fight over one.
    """
    exe = need_soffice("re-saves a file as a program that rewrites it would")
    with tempfile.TemporaryDirectory(prefix="avsteg-lo-") as tmp:
        root = Path(tmp)
        src = root / f"in.{fmt}"
        out = root / "out"
        src.write_bytes(data)
        _run_soffice(
            exe, root, ["--convert-to", _FILTERS[fmt], "--outdir", str(out), str(src)], timeout
        )
        result = out / f"in.{fmt}"
        if not result.exists():
            raise RuntimeError(f"LibreOffice wrote no {fmt} file")
        return result.read_bytes()


def convert_to_pdf(data: bytes, fmt: str, timeout: float = 120) -> bytes:
    """``data`` (a .docx/.xlsx) printed to PDF by LibreOffice."""
    exe = need_soffice("prints the document to PDF")
    with tempfile.TemporaryDirectory(prefix="avsteg-lo-") as tmp:
        root = Path(tmp)
        src = root / f"in.{fmt}"
        src.write_bytes(data)
        _run_soffice(
            exe, root, ["--convert-to", "pdf", "--outdir", str(root / "out"), str(src)], timeout
        )
        result = root / "out" / "in.pdf"
        if not result.exists():
            raise RuntimeError("LibreOffice wrote no PDF")
        return result.read_bytes()


def _run_soffice(exe: str, root: Path, args: list[str], timeout: float) -> None:
    profile = (root / "profile").as_uri()
    subprocess.run(
        [exe, "--headless", "--norestore", f"-env:UserInstallation={profile}", *args],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
