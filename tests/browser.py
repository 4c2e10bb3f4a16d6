"""Headless Chromium for the browser tests: Debian's binary, driven by Playwright.

The browser Playwright would download is not reachable here, so Playwright launches the
system binary (``apt-get install chromium``, done by scripts/install-system-deps.sh). A
missing binary skips the test, or fails it under ``VOLCAST_REQUIRE_SYSTEM_DEPS=1`` (CI).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.helpers import require_binary


def chromium_executable() -> str:
    """Debian's ``chromium`` (or ``chromium-browser`` elsewhere); skip/fail when missing."""
    return shutil.which("chromium-browser") or require_binary("chromium")


@dataclass
class Console:
    """Console errors and uncaught exceptions a page reported."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))


@contextmanager
def browser_page(*, width: int = 1280, height: int = 900) -> Iterator[tuple[Any, Console]]:
    """A fresh page of headless system Chromium, with its console errors collected."""
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            console = Console()
            console.watch(page)
            yield page, console
        finally:
            browser.close()
