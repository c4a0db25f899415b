"""LibreOffice as a test tool: re-save a file (a program that rewrites it, spec 2.3) or print it.

Each call uses its own profile directory so parallel test workers do not fight over one. Every
function returns None when LibreOffice is not installed, so callers can skip.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

_FILTERS = {"docx": "docx:MS Word 2007 XML", "xlsx": "xlsx:Calc MS Excel 2007 XML"}


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def libreoffice_roundtrip(data: bytes, fmt: str, timeout: float = 120) -> bytes | None:
    """Open ``data`` in LibreOffice and save it again as ``fmt``; None without LibreOffice.

    This is "a program that rewrites the file on save" (spec 2.3). Each call uses its own
    profile directory so parallel test workers do not fight over one.
    """
    exe = soffice()
    if exe is None:
        return None
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


def convert_to_pdf(data: bytes, fmt: str, timeout: float = 120) -> bytes | None:
    """``data`` (a .docx/.xlsx) printed to PDF by LibreOffice; None without LibreOffice."""
    exe = soffice()
    if exe is None:
        return None
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
