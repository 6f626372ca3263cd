"""/api/v1/programs: list, read, create, preview, commit once, pause, cancel, CSV; tenancy."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from campaign.models import AuditEvent
from messaging.models import ProgramDesign, ProgramStatus
from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program
from tests.factories import HouseholdFactory, MessageVariantFactory, VoterFactory
from voters.models import Assignment, Program, Voter

pytestmark = pytest.mark.django_db

PROGRAMS = "/api/v1/programs"


def spec(**overrides) -> dict:
    data = {
        "name": "Doors",
        "channel": "door",
        "arms": ["health"],
        "policy": "single",
        "control_share": 0.5,
        "seed": 3,
    }
    return {**data, **overrides}


def program_in(campaign, **overrides) -> ProgramDesign:
    MessageVariantFactory(campaign=campaign, name="health")
    for _ in range(4):
        VoterFactory(campaign=campaign, household=HouseholdFactory(campaign=campaign))
    return create_program(campaign=campaign, spec=parse_spec(spec(**overrides)))


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def staff_api(campaign, make_member):
    return api_for(make_member(campaign, "staff"))


def test_staff_create_a_program_from_a_spec(staff_api, campaign):
    MessageVariantFactory(campaign=campaign, name="health")

    response = staff_api.post(PROGRAMS, {"campaign": "home", **spec()}, format="json")

    assert response.status_code == 201
    body = response.json()
    program = Program.objects.get(campaign=campaign, name="Doors")
    assert body["id"] == program.pk
    assert (body["campaign"], body["status"], body["policy"], body["seed"]) == (
        "home", "draft", "single", 3,
    )  # fmt: skip
    assert body["arms"] == [{"position": 1, "name": "health", "variant": "health", "version": 1}]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"control_share": 2}, "control_share"),
        ({"control_share": "lots"}, "control_share"),
        ({"arms": ["nope"]}, "arms"),
        ({"universe": {"turnout": [0.9, 0.1]}}, "universe.turnout"),
        ({"universe": {"voter_ids": [{"a": 1}]}}, "universe.voter_ids"),
        ({"policy": "greedy"}, "policy"),
    ],
)
def test_a_bad_spec_is_a_400_naming_the_field(staff_api, campaign, overrides, field):
    MessageVariantFactory(campaign=campaign, name="health")

    response = staff_api.post(PROGRAMS, {"campaign": "home", **spec(**overrides)}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert ProgramDesign.objects.count() == 0


def test_a_nul_in_a_spec_is_a_400_before_it_reaches_the_program(staff_api, campaign):
    MessageVariantFactory(campaign=campaign, name="health")
    body = {"campaign": "home", **spec(universe={"precincts": ["12\u0000"]})}

    response = staff_api.post(PROGRAMS, body, format="json")

    # The API's JSON parser refuses it for every endpoint, so no serializer sees it.
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON strings may not contain NUL characters"}
    assert ProgramDesign.objects.count() == 0


def test_preview_then_commit_then_a_second_commit_is_a_409(
    staff_api, campaign, django_capture_on_commit_callbacks
):
    design = program_in(campaign)
    url = f"{PROGRAMS}/{design.program_id}"

    preview = staff_api.get(f"{url}/preview")
    with django_capture_on_commit_callbacks(execute=True) as sent:
        first = staff_api.post(f"{url}/commit")
        asked_twice = staff_api.post(f"{url}/commit")
    second = staff_api.post(f"{url}/commit")
    committed = staff_api.get(url)

    assert preview.status_code == 200
    assert preview.json()["universe"]["voters"] == 4
    assert [(a["arm"], a["units"]) for a in preview.json()["arms"]] == [
        ("control", 2), ("health", 2),
    ]  # fmt: skip
    assert first.status_code == 202
    assert (first.json()["status"], first.json()["commit_error"]) == ("committing", "")
    assert len(sent) == 1  # one task for one request, whatever else was asked
    assert asked_twice.status_code == 409
    assert asked_twice.json() == {
        "detail": "program 'Doors' is committing: a program is committed once"
    }
    assert committed.json()["status"] == "committed"
    assert committed.json()["summary"] == preview.json()
    assert second.status_code == 409
    assert second.json() == {"detail": "program 'Doors' is committed: a program is committed once"}
    assert Assignment.objects.count() == 4
    assert AuditEvent.objects.filter(action="program_commit").count() == 1


def test_a_commit_that_cannot_happen_returns_the_program_to_a_draft_saying_why(
    staff_api, campaign, django_capture_on_commit_callbacks
):
    design = program_in(campaign)
    url = f"{PROGRAMS}/{design.program_id}"
    Voter.objects.filter(campaign=campaign).update(status="removed")  # nobody left to assign

    with django_capture_on_commit_callbacks(execute=True):
        asked = staff_api.post(f"{url}/commit")
    after = staff_api.get(url).json()

    assert asked.status_code == 202
    assert (after["status"], after["committed_at"]) == ("draft", None)
    assert after["commit_error"] == "universe: no voter is left to assign: nothing to commit"
    assert Assignment.objects.count() == 0
    assert AuditEvent.objects.filter(action="program_commit").count() == 0


def test_pause_and_cancel_through_the_api(staff_api, campaign):
    design = program_in(campaign)
    commit_program(design=design)
    url = f"{PROGRAMS}/{design.program_id}"

    assert staff_api.post(f"{url}/pause").json()["status"] == "paused"
    assert staff_api.post(f"{url}/cancel").json()["status"] == "cancelled"
    resumed = staff_api.post(f"{url}/resume")
    assert resumed.status_code == 409
    assert ProgramDesign.objects.get().status == ProgramStatus.CANCELLED


def test_assignments_download_as_csv(staff_api, campaign):
    design = program_in(campaign)
    commit_program(design=design)

    response = staff_api.get(f"{PROGRAMS}/{design.program_id}/assignments.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "voter_id,household,arm,variant,propensity"
    assert len(lines) == 5
    assert AuditEvent.objects.get(action="export").row_count == 4


def test_a_viewer_reads_but_cannot_commit(campaign, make_member):
    design = program_in(campaign)
    api = api_for(make_member(campaign, "viewer"))
    url = f"{PROGRAMS}/{design.program_id}"

    assert api.get(url).status_code == 200
    assert api.post(f"{url}/commit").status_code == 403
    assert api.get(f"{url}/assignments.csv").status_code == 403
    created = api.post(PROGRAMS, {"campaign": "home", **spec(name="Other")}, format="json")
    assert created.status_code == 403
    assert ProgramDesign.objects.get().status == ProgramStatus.DRAFT
    assert Assignment.objects.count() == 0


def test_another_campaigns_program_is_a_404_everywhere(staff_api, campaign, other_campaign):
    theirs = program_in(other_campaign)
    url = f"{PROGRAMS}/{theirs.program_id}"

    listed = staff_api.get(PROGRAMS)
    answers = {
        "read": staff_api.get(url).status_code,
        "preview": staff_api.get(f"{url}/preview").status_code,
        "commit": staff_api.post(f"{url}/commit").status_code,
        "pause": staff_api.post(f"{url}/pause").status_code,
        "cancel": staff_api.post(f"{url}/cancel").status_code,
        "csv": staff_api.get(f"{url}/assignments.csv").status_code,
    }
    created = staff_api.post(PROGRAMS, {"campaign": "rival", **spec(name="X")}, format="json")

    assert listed.json()["results"] == []
    assert answers == dict.fromkeys(answers, 404)
    assert created.status_code == 404
    assert ProgramDesign.objects.get().status == ProgramStatus.DRAFT
    assert Assignment.objects.count() == 0


def test_the_list_costs_the_same_queries_for_many_programs(
    staff_api, campaign, django_assert_num_queries
):
    program_in(campaign)
    for n in range(3):
        create_program(campaign=campaign, spec=parse_spec(spec(name=f"P{n}")))

    # Roles, the page, and its arms, their program arms and variants: one query each.
    with django_assert_num_queries(5):
        response = staff_api.get(PROGRAMS)
    assert len(response.json()["results"]) == 4


def test_programs_are_in_the_openapi_schema(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = out.read_text()
    for path in (
        "/api/v1/programs:",
        "/api/v1/programs/{id}/preview:",
        "/api/v1/programs/{id}/commit:",
        "/api/v1/programs/{id}/assignments.csv:",
    ):
        assert path in schema
