"""Real-browser helpers for the end-to-end journey (issue 17).

One ``Actor`` per logged-in role: its own browser context (cookies), a counter of what a
person does (clicks or selections, typed fields, page loads) and, on every page it loads,
an axe-core run (zero violations) and, for blinded roles, a check that no arm wording is on
the page. Form helpers find fields by their name, so a <select> that becomes radio buttons
(issue 12) keeps working: ``choose(page, "cirrhosis", "Yes")``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Locator, Page

from tests.conftest import PASSWORD

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
# Screenshots are artifacts of the run, reviewed by people, never committed (.gitignore).
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", "e2e-artifacts"))

# The trial's registered title names the cell product; it is not an allocation.
TRIAL_TITLE = re.compile(r"Allogenic Bone Marrow Mesenchymal Stem Cell Therapy", re.IGNORECASE)
ARM_LEAKS = [
    re.compile(r"\bMSC\b"),
    re.compile(r"\bplacebo\b", re.IGNORECASE),
    re.compile(r"\bmesenchymal\b", re.IGNORECASE),
    re.compile(r"\barm [AB]\b"),
    re.compile(r"10⁶ cells|cells/kg"),
]

_axe = Axe()


def arm_leaks(html: str) -> list[str]:
    """Arm wording in a page's HTML (comments and attributes included), minus the title."""
    text = TRIAL_TITLE.sub("", html)
    return [m.group(0) for rx in ARM_LEAKS for m in rx.finditer(text)]


def _field(page: Page, name: str) -> Locator:
    return page.locator(f'[name="{name}"]')


def choose(page: Page, name: str, value: str) -> int:
    """Pick the option labelled ``value`` of field ``name``; returns the clicks it took.

    A <select> takes two (open, pick); a radio button one. Works with either widget.
    """
    loc = _field(page, name)
    tag = loc.first.evaluate("e => e.tagName.toLowerCase()")
    if tag == "select":
        loc.first.select_option(label=value)
        return 2
    radios = page.locator(f'input[type="radio"][name="{name}"]')
    for i in range(radios.count()):
        radio = radios.nth(i)
        rid = radio.get_attribute("id")
        label = page.locator(f'label[for="{rid}"]') if rid else radio.locator("xpath=..")
        if label.inner_text().strip() == value:
            if radio.is_checked():
                return 0  # already the answer (preset): nothing to click
            radio.check()
            return 1
    raise AssertionError(f"{name}: no option labelled {value!r}")


@dataclass
class Counts:
    clicks: int = 0  # clicks and selections (a <select> counts two)
    typed: int = 0  # fields typed into
    loads: int = 0  # full page loads
    selects: int = 0  # of the clicks: choices made on a <select> (2 clicks each)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.clicks - other.clicks,
            self.typed - other.typed,
            self.loads - other.loads,
            self.selects - other.selects,
        )

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.clicks + other.clicks,
            self.typed + other.typed,
            self.loads + other.loads,
            self.selects + other.selects,
        )


@dataclass
class Actor:
    """One person in one browser context."""

    browser: Browser
    base_url: str
    username: str
    blinded: bool
    counts: Counts = field(default_factory=Counts)
    pages_checked: list[str] = field(default_factory=list)
    context: BrowserContext | None = None
    page: Page | None = None

    def start(self) -> Actor:
        self.context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": 1280, "height": 900}, locale="en-GB"
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.goto("/accounts/login/")
        self.fill("username", self.username)
        self.fill("password", PASSWORD)
        self.click(self.page.get_by_role("button", name="Log in"))
        assert "/accounts/login/" not in self.page.url, self.page.content()[:2000]
        return self

    def close(self) -> None:
        if self.context:
            self.context.close()

    # -- what a person does ------------------------------------------------------------------
    def goto(self, path: str) -> None:
        """Typing a URL (or following a bookmark): one page load, no click."""
        self.page.goto(path)
        self._loaded()

    def click(self, locator: Locator, *, navigates: bool = True) -> None:
        self.counts.clicks += 1
        if navigates:
            with self.page.expect_navigation():
                locator.click()
            self._loaded()
        else:
            locator.click()

    def follow(self, name: str, *, exact: bool = False) -> None:
        """Click the link or button named ``name`` (one click, one page load)."""
        target = self.page.get_by_role("link", name=name, exact=exact)
        if target.count() == 0:
            target = self.page.get_by_role("button", name=name, exact=exact)
        self.click(target.first)

    def fill(self, name: str, value: str) -> None:
        """Type ``value`` into field ``name``; a field already holding it is left alone."""
        loc = _field(self.page, name).first
        if loc.input_value() == value:
            return
        loc.fill(value)
        self.counts.typed += 1

    def choose(self, name: str, value: str) -> None:
        loc = _field(self.page, name).first
        if loc.evaluate("e => e.tagName.toLowerCase()") == "select":
            current = loc.evaluate("e => e.selectedOptions[0] ? e.selectedOptions[0].text : ''")
            if current.strip() == value:
                return
        clicks = choose(self.page, name, value)
        self.counts.clicks += clicks
        if clicks == 2:
            self.counts.selects += 1

    def check(self, name: str) -> None:
        loc = _field(self.page, name).first
        if not loc.is_checked():
            loc.check()
            self.counts.clicks += 1

    # -- what the test checks on every page --------------------------------------------------
    def _loaded(self) -> None:
        self.counts.loads += 1
        self.page.wait_for_load_state("load")
        url = self.page.url
        html = self.page.content()
        assert "Server Error" not in html, f"{url}: server error"
        if self.blinded:
            leaks = arm_leaks(html)
            assert not leaks, f"{self.username} saw the arm on {url}: {leaks}"
        result = _axe.run(self.page)
        assert result.violations_count == 0, f"axe on {url}:\n{result.generate_report()}"
        self.pages_checked.append(url)

    def text(self) -> str:
        return self.page.inner_text("body")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
