"""Zip archives we did not make: OOXML files and zip attachments.

Every zip we open comes from a stranger, so the central directory is checked before anything is
inflated (member count, declared sizes, compression ratio) and every read is capped by what is
actually inflated, because declared sizes can lie. A 1 MB file that inflates to 1 GB is refused
from its directory in microseconds, or after reading at most ``max_member_bytes``.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 1000
    max_member_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 200 * 1024 * 1024
    max_ratio: float = 200.0  # uncompressed / compressed, checked for members above 1 MB
    ratio_floor_bytes: int = 1024 * 1024


DEFAULT_LIMITS = ZipLimits()


class UnsafeArchive(ValueError):
    """Raised when a zip is broken, encrypted or would inflate beyond the limits.

    ``reason`` is a short English code for logs: broken, encrypted, members, size, ratio.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def declared_member_count(data: bytes) -> int | None:
    """The member count the end-of-central-directory record claims, without reading the directory.

    Lets a zip with a million members be refused before ``zipfile`` builds a million objects.
    None when the record is missing (a broken zip) or defers to ZIP64.
    """
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if pos < 0 or pos + 22 > len(data):
        return None
    count = int.from_bytes(data[pos + 10 : pos + 12], "little")
    return None if count == 0xFFFF else count


def open_zip(data: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """Open ``data`` as a zip after checking its directory against ``limits``."""
    declared = declared_member_count(data)
    if declared is not None and declared > limits.max_members:
        raise UnsafeArchive("members", f"{declared} members declared")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise UnsafeArchive("broken", str(exc)) from exc
    if len(infos) > limits.max_members:
        raise UnsafeArchive("members", f"{len(infos)} members")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnsafeArchive("encrypted", info.filename)
        if info.file_size > limits.max_member_bytes:
            raise UnsafeArchive("size", f"{info.filename}: {info.file_size} bytes")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchive("size", f"{total} bytes in all")
        if info.file_size > limits.ratio_floor_bytes and (
            info.file_size > limits.max_ratio * max(info.compress_size, 1)
        ):
            raise UnsafeArchive("ratio", f"{info.filename}: {info.file_size}/{info.compress_size}")
    return zf


def read_member(zf: zipfile.ZipFile, name: str, limits: ZipLimits = DEFAULT_LIMITS) -> bytes:
    """Inflate one member, stopping at ``max_member_bytes`` whatever its header claims."""
    try:
        with zf.open(name) as fh:
            data = fh.read(limits.max_member_bytes + 1)
    except KeyError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error) as exc:
        raise UnsafeArchive("broken", f"{name}: {exc}") from exc
    if len(data) > limits.max_member_bytes:
        raise UnsafeArchive("size", f"{name} inflates beyond {limits.max_member_bytes} bytes")
    return data
