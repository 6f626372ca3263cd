"""The apps import one way, campaign <- voters <- scoring <- messaging (DESIGN §2), as the
import-linter contract in pyproject.toml states; CI runs the same `lint-imports`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("campaign", "voters", "scoring", "messaging")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    # lint-imports reads pyproject.toml from, and puts on sys.path first, the directory it runs
    # in; no cache, so a copied tree is analysed as it is.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_project(destination: Path) -> Path:
    for app in APPS:
        shutil.copytree(ROOT / app, destination / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def test_apps_import_one_way():
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 1 kept, 0 broken." in result.stdout


def test_an_import_against_the_flow_breaks_the_contract(tmp_path):
    project = copy_of_project(tmp_path)
    (project / "campaign" / "probe.py").write_text("from scoring.models import ModelVersion\n")

    result = lint_imports(project)

    assert result.returncode == 1
    assert "campaign is not allowed to import scoring:" in result.stdout
    assert "- campaign.probe -> scoring.models (l.1)" in result.stdout


def test_an_import_through_another_app_breaks_the_contract(tmp_path):
    # voters -> messaging is against the flow even when it goes through a chain of modules.
    project = copy_of_project(tmp_path)
    (project / "messaging" / "probe.py").write_text("import scoring.models\n")
    (project / "voters" / "probe.py").write_text("import messaging.probe\n")

    result = lint_imports(project)

    assert result.returncode == 1
    assert "voters is not allowed to import messaging:" in result.stdout
    assert "voters.probe -> messaging.probe (l.1)" in result.stdout


def test_the_only_exception_is_the_url_configuration():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]

    assert config["root_packages"] == list(APPS)
    assert contract["type"] == "layers"
    assert contract["layers"] == ["messaging", "scoring", "voters", "campaign"]
    assert contract["ignore_imports"] == ["campaign.api_urls -> *.api.views"]
