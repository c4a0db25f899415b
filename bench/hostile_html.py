"""How long does reading a hostile HTML-only message take, next to plain text of the same size?

Each shape made the stdlib ``HTMLParser`` super-linear (repeated ``<a ``: 5 s at 25 KB, 125 s at
100 KB; a 5 MB body never finished). The whole message goes through ``read_message`` (MIME parse,
decoding, HTML to text), and the floor is the same message with a text/plain body of the same
number of bytes, measured in the same run. Also shown: the old stdlib parser on 20 KB of each
shape, for scale (skip with ``--no-old``).

    python bench/hostile_html.py [--mb 5] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = {
    "<a  repeated": "<a ",
    "<a b=  repeated": "<a b=",
    "</a  unclosed end tags": "</a ",
    "</  bare end tags": "</",
    "<!  declarations": "<!",
    "<!--  unclosed comments": "<!--",
    "<?  processing instr.": "<?",
    "<div>  deep nesting": "<div>",
}


def message(body: bytes, ctype: str) -> bytes:
    return (b"From: a@goteborg.se\r\nTo: b@goteborg.se\r\nSubject: Avsteg\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: " + ctype.encode() + b"; charset=utf-8\r\n\r\n" + body)


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def old_parser_seconds(text: str) -> float:
    """The stdlib HTMLParser, as the text extractor used it before."""
    from html.parser import HTMLParser

    parser = HTMLParser(convert_charrefs=True)
    started = time.perf_counter()
    parser.feed(text)
    parser.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-old", action="store_true")
    args = parser.parse_args()

    from avsteg.parsers.mail.reader import read_message

    size = int(args.mb * 1024 * 1024)
    plain = message(b"hej hopp " * (size // 9), "text/plain")
    floor = best_of(args.repeat, lambda: read_message(plain))
    print(f"read_message on a {args.mb:g} MB body, best of {args.repeat}:")
    print(f"  {'plain text (floor)':28s} {floor * 1000:8.1f} ms")
    worst = 0.0
    for name, unit in SHAPES.items():
        raw = message(unit.encode() * (size // len(unit)), "text/html")
        seconds = best_of(args.repeat, lambda raw=raw: read_message(raw))
        worst = max(worst, seconds)
        old = ""
        if not args.no_old:
            old = f"   (stdlib HTMLParser, 20 KB of it: {old_parser_seconds(unit * (20_000 // len(unit))):.2f} s)"
        print(f"  {name:28s} {seconds * 1000:8.1f} ms = {seconds / floor:5.1f}x the floor{old}")
    print(f"  worst {worst:.2f} s; bound asserted in tests/unit/test_hostile_mail.py: < 2 s")


if __name__ == "__main__":
    main()
