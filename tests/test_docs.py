"""The README and docs/ stand on their own: every file they link to or name is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Markdown links to files, and repository paths written in backticks (`docs/layouts.md`).
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PATH = re.compile(r"`((?:\.\./|\./)?[\w.-]+/[\w./-]+\.(?:md|py|yaml|yml|toml|html|txt))`")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_a_page_names_only_files_inside_the_repository(page: Path):
    text = page.read_text(encoding="utf-8")
    named = [m for m in LINK.findall(text) if "://" not in m and not m.startswith("mailto:")]
    named += PATH.findall(text)

    outside = [n for n in named if not (page.parent / n).resolve().is_relative_to(ROOT)]
    missing = [n for n in named if n not in outside and not _exists(page, n)]

    assert outside == []
    assert missing == []


def test_the_readme_links_the_state_layouts_page():
    assert "(docs/layouts.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def _exists(page: Path, name: str) -> bool:
    # A path in backticks is written from the repository's root; a link from the page's folder.
    return (page.parent / name).exists() or (ROOT / name).exists()


def test_the_license_file_is_the_license_pyproject_declares():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")

    # An SPDX expression and the file beside it: what current setuptools reads without warning.
    assert project["license"] == "AGPL-3.0-or-later"
    assert project["license-files"] == ["LICENSE"]
    assert text.split("\n", 2)[:2] == [
        " " * 20 + "GNU AFFERO GENERAL PUBLIC LICENSE",
        " " * 23 + "Version 3, 19 November 2007",
    ]
    assert len(text.splitlines()) == 661  # the whole text, as the FSF publishes it
