"""create_program, preview_program, commit_program and export_assignments from the command line."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from messaging.models import ProgramDesign, ProgramStatus
from tests.factories import HouseholdFactory, MessageVariantFactory, VoterFactory
from voters.models import Assignment

pytestmark = pytest.mark.django_db

SPEC = """\
name: Doors
channel: door
arms: [health]
policy: single
control_share: 0.5
seed: 3
universe:
  precincts: [P01]
"""


@pytest.fixture
def spec_file(tmp_path, campaign):
    MessageVariantFactory(campaign=campaign, name="health")
    for _ in range(6):
        VoterFactory(campaign=campaign, household=HouseholdFactory(campaign=campaign))
    VoterFactory(campaign=campaign, precinct="P02")
    path = tmp_path / "doors.yaml"
    path.write_text(SPEC)
    return path


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_preview_commit_export_from_the_command_line(spec_file, campaign, tmp_path):
    created = run("create_program", str(spec_file), "--campaign", "home")
    preview = json.loads(run("preview_program", "Doors", "--campaign", "home", "--format", "json"))
    committed = run("commit_program", "Doors", "--campaign", "home")
    out = tmp_path / "doors.csv"
    run("export_assignments", "Doors", "--campaign", "home", "--out", str(out))

    assert "created (draft, seed 3)" in created
    assert preview["universe"]["voters"] == 6
    assert [(a["arm"], a["units"]) for a in preview["arms"]] == [("control", 3), ("health", 3)]
    assert committed.splitlines()[-1] == "program 'Doors' committed: 6 voters assigned"
    assert ProgramDesign.objects.get().status == ProgramStatus.COMMITTED
    assert len(out.read_text().splitlines()) == 7


def test_a_second_commit_fails_with_a_clear_message(spec_file, campaign):
    run("create_program", str(spec_file), "--campaign", "home")
    run("commit_program", "Doors", "--campaign", "home")

    with pytest.raises(CommandError, match="is committed: a program is committed once"):
        run("commit_program", "Doors", "--campaign", "home")
    assert Assignment.objects.count() == 6


def test_a_bad_spec_names_the_file_and_field(tmp_path, campaign):
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace("control_share: 0.5", "control_share: 2"))

    with pytest.raises(CommandError, match=r"bad.yaml: control_share: a share strictly between"):
        run("create_program", str(path), "--campaign", "home")
    assert ProgramDesign.objects.count() == 0


def test_an_unknown_program_is_a_clear_error(campaign):
    with pytest.raises(CommandError, match="no program 'Nope' made with create_program in home"):
        run("preview_program", "Nope", "--campaign", "home")
