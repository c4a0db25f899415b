"""Screenshots of the web app's main pages for the README (docs/screenshots/*.png).

Builds the browser tests' register (real mail through the real pipeline) in a temporary
directory, serves it, and photographs the pages with Debian's chromium:

    python scripts/screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.support import (  # noqa: E402  (the path is set just above)
    CASEWORKER,
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    build_register,
)

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        register = build_register(f"sqlite:///{tmp}/avsteg.sqlite", Path(tmp) / "svar",
                                  page_size=50)
        with LiveServer(register) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 800},
                                    locale="sv-SE")
            page.goto("/logga-in")
            page.screenshot(path=OUT / "logga-in.png")
            page.get_by_label("Användarnamn").fill(CASEWORKER[0])
            page.get_by_label("Lösenord").fill(CASEWORKER[1])
            page.get_by_role("button", name="Logga in").click()
            page.wait_for_url("**/registret")
            page.screenshot(path=OUT / "registret.png", full_page=True)
            page.goto("/registret?sort=referens&ordning=stigande")
            page.get_by_role("link", name="AVS-", exact=False).first.click()
            page.screenshot(path=OUT / "rapport.png", full_page=True)
            page.goto("/att-hantera")
            page.screenshot(path=OUT / "att-hantera.png", full_page=True)
            page.goto("/sammanstallning")
            page.screenshot(path=OUT / "sammanstallning.png", full_page=True)
            browser.close()
        register.db.dispose()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
