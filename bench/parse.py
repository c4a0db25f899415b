"""How fast is ``parse_attachment`` next to the cheapest possible read of the same XML?

Builds a filled Helårsrapport (.docx and .xlsx) in the run, then prints the median time per file
of: the floor (bare ``zipfile`` + ``lxml.etree.fromstring`` of the parts the reader needs), our
reader alone (``read_found``), the whole ``parse_attachment`` (reader + recognition +
validation), and python-docx ``Document()`` / openpyxl ``load_workbook()`` for contrast.
Target: ``parse_attachment`` ≤ 3× the floor.

    python bench/parse.py [--repeat 200] [--deviations 6] [--profile [N]]

``--profile`` then runs ``parse_attachment`` under cProfile for each format and prints the N
(default 25) functions with the most time of their own: where to look next.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import statistics
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support.fill

from lxml import etree

from avsteg.config.schema import default_schema
from avsteg.parsers.template import parse_attachment, read_found

SCHEMA = default_schema()
TODAY = dt.date(2026, 6, 1)


def build_files(deviations: int) -> dict[str, bytes]:
    from avsteg.forms.docx_template import build_docx
    from avsteg.forms.xlsx_template import build_xlsx

    try:
        from tests.support.fill import FillStyle, fill_docx, fill_xlsx, sample_report
    except ImportError:  # pragma: no cover - the fill helper is part of the test suite
        return {"docx": build_docx(SCHEMA, "annual"), "xlsx": build_xlsx(SCHEMA, "annual")}
    report, devs = sample_report(SCHEMA, "annual", n_deviations=deviations, seed=1)
    style = FillStyle(copy_tables=True)
    return {
        "docx": fill_docx(build_docx(SCHEMA, "annual"), report, devs, style, schema=SCHEMA),
        "xlsx": fill_xlsx(build_xlsx(SCHEMA, "annual"), report, devs, style, schema=SCHEMA),
    }


def floor_docx(data: bytes) -> None:
    zf = zipfile.ZipFile(io.BytesIO(data))
    etree.fromstring(zf.read("word/document.xml"))
    etree.fromstring(zf.read("docProps/core.xml"))


def floor_xlsx(data: bytes) -> None:
    zf = zipfile.ZipFile(io.BytesIO(data))
    for name in zf.namelist():
        if name.startswith("xl/worksheets/sheet") or name in (
            "xl/sharedStrings.xml", "xl/styles.xml", "xl/workbook.xml", "docProps/core.xml"
        ):
            etree.fromstring(zf.read(name))


def contrast_docx(data: bytes) -> None:
    from docx import Document

    Document(io.BytesIO(data))


def contrast_xlsx(data: bytes) -> None:
    from openpyxl import load_workbook

    load_workbook(io.BytesIO(data))


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up imports and caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--deviations", type=int, default=6)
    ap.add_argument("--profile", type=int, nargs="?", const=25, default=0, metavar="N",
                    help="profile parse_attachment and print the N most expensive functions")
    args = ap.parse_args()
    files = build_files(args.deviations)
    floors = {"docx": floor_docx, "xlsx": floor_xlsx}
    contrasts = {"docx": ("python-docx Document()", contrast_docx),
                 "xlsx": ("openpyxl load_workbook()", contrast_xlsx)}
    print(f"median of {args.repeat} runs, filled Helårsrapport with {args.deviations} deviations")
    for fmt, data in files.items():
        result = parse_attachment(f"r.{fmt}", data, SCHEMA, today=TODAY)
        floor = median_ms(lambda f=floors[fmt], d=data: f(d), args.repeat)
        reader = median_ms(lambda n=f"r.{fmt}", d=data: read_found(n, d, SCHEMA), args.repeat)
        full = median_ms(
            lambda n=f"r.{fmt}", d=data: parse_attachment(n, d, SCHEMA, today=TODAY), args.repeat
        )
        name, contrast_fn = contrasts[fmt]
        contrast = median_ms(lambda f=contrast_fn, d=data: f(d), max(args.repeat // 4, 5))
        print(f"\n.{fmt} ({len(data) / 1024:.0f} KiB, status {result.status}, "
              f"{len(result.deviations)} deviations)")
        print(f"  floor (zipfile + lxml fromstring)   {floor:7.2f} ms")
        print(f"  reader (read_found)                 {reader:7.2f} ms   {reader / floor:4.1f}× floor")
        print(f"  parse_attachment (incl. validate)   {full:7.2f} ms   {full / floor:4.1f}× floor"
              f"   {'OK' if full <= 3 * floor else 'ABOVE'} (target ≤ 3×)")
        print(f"  {name:<35} {contrast:7.2f} ms   {contrast / floor:4.1f}× floor")
    if args.profile:
        for fmt, data in files.items():
            profile(f"r.{fmt}", data, args.repeat, args.profile)
    return 0


def profile(name: str, data: bytes, repeat: int, top: int) -> None:
    """cProfile of ``repeat`` parses (its overhead inflates small functions; compare, not add)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        parse_attachment(name, data, SCHEMA, today=TODAY)
    profiler.disable()
    print(f"\n{name}: {repeat} × parse_attachment under cProfile, by own time")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    sys.exit(main())
