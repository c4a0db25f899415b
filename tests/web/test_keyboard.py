"""Everything a handläggare does can be done with the keyboard alone (WCAG 2.1.1), in chromium.

axe-core checks labels, contrast and structure but not whether a person without a mouse can
get through a task. Here nothing is clicked and nothing is focused by the script: Tab moves
the focus, Enter and Space act, text is typed where the focus is. The tasks: sign in, search
the register, open a report, withdraw it with a reason and undo that, and sign out. Each step
also checks that the focused control shows a visible focus indicator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import browser_context
from tests.web.support import CASEWORKER, LiveServer, Register

pytestmark = pytest.mark.integration
MAX_TABS = 60


@pytest.fixture(scope="module")
def page(register: Register, browser: Browser) -> Iterator[Page]:
    with LiveServer(register) as live:
        context = browser_context(browser, live.url)
        try:
            yield context.new_page()
        finally:
            context.close()


def focused(page: Page) -> dict:
    return page.evaluate("""() => {
        const e = document.activeElement;
        const style = getComputedStyle(e);
        const label = e.labels && e.labels.length ? e.labels[0].textContent : '';
        return {tag: e.tagName.toLowerCase(), type: e.type || '', text: (e.textContent || '').trim(),
                value: e.value || '', label: label.trim(),
                outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0};
    }""")


def tab_to(page: Page, what: str, matches) -> dict:
    """Press Tab until the focus is on the control ``matches`` accepts; fail after MAX_TABS."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        element = focused(page)
        if matches(element):
            assert element["outline"], f"{what}: no visible focus indicator ({element})"
            return element
    raise AssertionError(f"{what} cannot be reached with Tab")


def labelled(label: str):
    return lambda e: e["label"].startswith(label)


def named(text: str):
    return lambda e: e["tag"] in ("a", "button") and (e["text"] == text or e["value"] == text)


def test_a_whole_case_with_the_keyboard_only(page: Page) -> None:
    page.goto("/registret")
    expect(page).to_have_url(re.compile(r"/logga-in"))
    tab_to(page, "Användarnamn", labelled("Användarnamn"))
    page.keyboard.type(CASEWORKER[0])
    tab_to(page, "Lösenord", labelled("Lösenord"))
    page.keyboard.type(CASEWORKER[1])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Registret", level=1)).to_be_visible()

    # Search: type in Sök, Enter submits the filter form.
    tab_to(page, "Sök", labelled("Sök"))
    page.keyboard.type("Kretslopp")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q=Kretslopp"))
    rows = page.locator("table.register tbody tr")
    expect(rows).to_have_count(1)
    reference = rows.first.get_by_role("link").first.inner_text()

    # Open the report from its link.
    tab_to(page, reference, lambda e: e["tag"] == "a" and e["text"] == reference)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)

    # Withdraw with a reason: Space presses a button as Enter does.
    tab_to(page, "Dra tillbaka", named("Dra tillbaka"))
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Dra tillbaka rapporten")).to_be_visible()
    tab_to(page, "Skäl", labelled("Skäl"))
    page.keyboard.type("Dubblett, skickad två gånger")
    tab_to(page, "Dra tillbaka rapporten", named("Dra tillbaka rapporten"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("återkallad")

    # Undo it, and sign out.
    tab_to(page, "Ångra tillbakadragningen", named("Ångra tillbakadragningen"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("aktuell")
    expect(page.locator("table").last).to_contain_text("Dubblett, skickad två gånger")
    tab_to(page, "Logga ut", named("Logga ut"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/logga-in"))
