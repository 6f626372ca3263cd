"""Playwright driving Debian's Chromium (`make browser`); never a browser Playwright downloads.

Skipped where Chromium is missing, except in CI (CI=true), where a missing browser fails: the
browser checks must not pass by not running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# As the machine guide starts it: no sandbox as root, and no background calls to Google's hosts,
# which a closed network refuses many times a second.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("SEGMENT_ONE_VAR_DIR", "var/test")) / "screenshots"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{CHROMIUM} is missing: CI runs `make browser` before the tests")
    pytest.skip(f"{CHROMIUM} is missing: run `make browser`")


@pytest.fixture
def browser(monkeypatch) -> Iterator:
    """A headless Chromium. Playwright's sync API runs an event loop in this thread, so Django's
    guard against ORM calls from async code is lifted for these tests (they stay synchronous)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
