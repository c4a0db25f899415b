"""Legacy and OpenDocument files → .docx/.xlsx with LibreOffice, when it is installed.

Kept apart from :mod:`avsteg.parsers.template` so parsing stays a pure function: the caller
decides whether to pass :func:`libreoffice_converter` as ``convert``. Each call runs ``soffice``
in a fresh temporary directory with its own user profile (parallel calls would otherwise fight
over one profile lock) and is killed, with its whole process group, after ``timeout`` seconds.
The converted bytes then go through every safety check like any other upload.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

TARGETS = {"doc": "docx", "odt": "docx", "xls": "xlsx", "ods": "xlsx"}
DEFAULT_TIMEOUT = 60.0


def find_soffice() -> str | None:
    """The LibreOffice binary on PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def libreoffice_converter(
    timeout: float = DEFAULT_TIMEOUT, soffice: str | None = None
) -> Callable[[bytes, str], bytes | None] | None:
    """A ``convert`` function for :func:`parse_attachment`, or None when LibreOffice is absent."""
    binary = soffice or find_soffice()
    if binary is None:
        return None

    def convert(data: bytes, kind: str) -> bytes | None:
        return convert_with_libreoffice(data, kind, soffice=binary, timeout=timeout)

    return convert


def convert_with_libreoffice(
    data: bytes, kind: str, *, soffice: str, timeout: float = DEFAULT_TIMEOUT
) -> bytes | None:
    """``data`` (a .doc/.xls/.odt/.ods file) converted to .docx/.xlsx; None on any failure."""
    target = TARGETS.get(kind)
    if target is None:
        return None
    with tempfile.TemporaryDirectory(prefix="avsteg-convert-") as tmp:
        work = Path(tmp)
        source = work / f"input.{kind}"
        source.write_bytes(data)
        out_dir = work / "out"
        out_dir.mkdir()
        command = [
            soffice,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless", "--norestore", "--nolockcheck", "--nodefault", "--nologo",
            "--convert-to", target, "--outdir", str(out_dir), str(source),
        ]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=work,
            start_new_session=True,  # so a timeout can stop soffice and its helpers together
            env={**os.environ, "HOME": str(work)},
        )
        try:
            _out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            log.warning("soffice timed out after %.0f s converting a .%s file", timeout, kind)
            return None
        result = out_dir / f"input.{target}"
        if proc.returncode != 0 or not result.is_file():
            log.warning("soffice could not convert a .%s file (exit %s): %s", kind,
                        proc.returncode, err.decode("utf-8", "replace")[-500:])
            return None
        return result.read_bytes()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()
