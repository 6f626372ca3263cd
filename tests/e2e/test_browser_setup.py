"""The browser tests cannot pass by not running in CI."""

from __future__ import annotations

import pytest

from tests.e2e import browser


def test_a_missing_chromium_fails_the_browser_tests_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="CI runs `make browser`"):
        browser.require_chromium()


def test_a_missing_chromium_skips_them_on_a_workstation(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="run `make browser`"):
        browser.require_chromium()
