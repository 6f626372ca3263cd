"""Programs in the admin: add from a spec, preview, commit with confirmation, pause, cancel."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaign.models import AuditEvent
from messaging.models import ProgramDesign, ProgramStatus
from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program, preview_program
from tests.factories import HouseholdFactory, MessageVariantFactory, VoterFactory
from voters.models import Assignment

pytestmark = pytest.mark.django_db

SPEC = "name: Doors\nchannel: door\narms: [health]\npolicy: single\ncontrol_share: 0.5\nseed: 3\n"


def program_in(campaign, name: str = "Doors") -> ProgramDesign:
    MessageVariantFactory(campaign=campaign, name=f"health-{name}")
    for _ in range(4):
        VoterFactory(campaign=campaign, household=HouseholdFactory(campaign=campaign))
    spec = {"name": name, "channel": "door", "arms": [f"health-{name}"], "policy": "single",
            "control_share": 0.5, "seed": 3}  # fmt: skip
    return create_program(campaign=campaign, spec=parse_spec(spec))


def url(name: str, design: ProgramDesign | None = None) -> str:
    args = [design.pk] if design else []
    return reverse(f"admin:messaging_programdesign_{name}", args=args)


def test_staff_add_a_program_from_a_spec(staff_client, campaign):
    MessageVariantFactory(campaign=campaign, name="health")

    response = staff_client.post(url("add"), {"campaign": campaign.pk, "spec": SPEC})

    design = ProgramDesign.objects.get()
    assert response.status_code == 302
    assert (design.program.name, design.policy, design.seed, design.status) == (
        "Doors", "single", 3, "draft",
    )  # fmt: skip


def test_an_uploaded_voter_id_list_cuts_the_universe(staff_client, campaign):
    MessageVariantFactory(campaign=campaign, name="health")
    voters = [VoterFactory(campaign=campaign) for _ in range(3)]
    ids = SimpleUploadedFile(
        "ids.csv", f"voter_id\n{voters[0].voter_id}\n{voters[2].voter_id}\n".encode()
    )

    staff_client.post(url("add"), {"campaign": campaign.pk, "spec": SPEC, "voter_ids": ids})

    design = ProgramDesign.objects.get()
    assert design.universe["voter_ids"] == [voters[0].voter_id, voters[2].voter_id]
    assert preview_program(design=design)["universe"]["voters"] == 2


def test_a_bad_spec_is_a_form_error_naming_the_field(staff_client, campaign):
    MessageVariantFactory(campaign=campaign, name="health")

    response = staff_client.post(
        url("add"), {"campaign": campaign.pk, "spec": SPEC.replace("[health]", "[nope]")}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["spec"] == [
        "arms: no message variant named 'nope' in this campaign"
    ]
    assert ProgramDesign.objects.count() == 0


def test_the_change_page_shows_the_universe_arms_and_the_preview_link(staff_client, campaign):
    design = program_in(campaign)

    page = staff_client.get(url("change", design)).content.decode()

    assert "health-Doors v1" in page
    assert url("preview", design) in page
    assert "Not drawn yet" in page
    assert url("cancel", design) in page
    assert url("pause", design) not in page  # a draft has nothing to pause


def test_preview_shows_the_counts_and_a_confirmed_commit_writes(
    staff_client, campaign, django_capture_on_commit_callbacks
):
    design = program_in(campaign)

    preview = staff_client.get(url("preview", design))
    unconfirmed = staff_client.post(url("commit", design))
    assert Assignment.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=False) as sent:
        committed = staff_client.post(url("commit", design), {"confirm": "yes"}, follow=True)
    # Asked, not done: the worker's task is sent when the request's transaction commits.
    assert ProgramDesign.objects.get().status == ProgramStatus.COMMITTING
    assert Assignment.objects.count() == 0
    assert "Doors: committing in the background" in committed.content.decode()
    assert len(sent) == 1
    sent[0]()  # the task, in-process (CELERY_TASK_ALWAYS_EAGER in tests)

    assert preview.status_code == 200
    assert preview.context["summary"]["universe"]["voters"] == 4
    assert url("commit", design) in preview.content.decode()
    assert unconfirmed.status_code == 302
    assert committed.status_code == 200
    assert Assignment.objects.count() == 4
    assert ProgramDesign.objects.get().status == ProgramStatus.COMMITTED
    again = staff_client.post(url("commit", design), {"confirm": "yes"}, follow=True)
    assert "a program is committed once" in again.content.decode()
    assert Assignment.objects.count() == 4


def test_staff_download_the_assignments_as_csv(staff_client, campaign):
    design = program_in(campaign)
    assert staff_client.get(url("export", design)).status_code == 404  # nothing drawn yet
    commit_program(design=design)

    page = staff_client.get(url("change", design)).content.decode()
    response = staff_client.get(url("export", design))

    assert url("export", design) in page
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0] == "voter_id,household,arm,variant,propensity"
    assert len(lines) == 5
    assert AuditEvent.objects.get(action="export").row_count == 4


def test_pause_and_cancel_from_the_change_page(staff_client, campaign):
    design = program_in(campaign)
    commit_program(design=design)

    staff_client.post(url("pause", design))
    assert ProgramDesign.objects.get().status == ProgramStatus.PAUSED
    staff_client.post(url("cancel", design))
    assert ProgramDesign.objects.get().status == ProgramStatus.CANCELLED
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "program_commit", "program_pause", "program_cancel",
    ]  # fmt: skip


def test_a_viewer_reads_but_cannot_commit_or_cancel(client, campaign, make_member):
    design = program_in(campaign)
    client.force_login(make_member(campaign, "viewer"))

    assert client.get(url("change", design)).status_code == 200
    preview = client.get(url("preview", design))
    assert preview.status_code == 200
    assert preview.context["commit_url"] == ""
    assert client.post(url("commit", design), {"confirm": "yes"}).status_code == 403
    assert client.post(url("cancel", design)).status_code == 403
    assert client.get(url("export", design)).status_code == 403
    assert ProgramDesign.objects.get().status == ProgramStatus.DRAFT
    assert Assignment.objects.count() == 0


def test_another_campaigns_program_is_a_404_on_every_page(staff_client, campaign, other_campaign):
    theirs = program_in(other_campaign)

    answers = {
        "change": staff_client.get(url("change", theirs)).status_code,
        "preview": staff_client.get(url("preview", theirs)).status_code,
        "commit": staff_client.post(url("commit", theirs), {"confirm": "yes"}).status_code,
        "pause": staff_client.post(url("pause", theirs)).status_code,
        "cancel": staff_client.post(url("cancel", theirs)).status_code,
        "export": staff_client.get(url("export", theirs)).status_code,
    }
    listed = staff_client.get(url("changelist")).context["cl"].result_list

    assert answers == dict.fromkeys(answers, 404)
    assert list(listed) == []
    assert ProgramDesign.objects.get().status == ProgramStatus.DRAFT
    assert Assignment.objects.count() == 0


def test_the_changelist_costs_the_same_queries_for_many_programs(
    staff_client, campaign, django_assert_num_queries
):
    program_in(campaign, "A")
    with django_assert_num_queries(7):
        staff_client.get(url("changelist"))
    for name in ("B", "C", "D"):
        program_in(campaign, name)
    with django_assert_num_queries(7):
        response = staff_client.get(url("changelist"))
    assert len(response.context["cl"].result_list) == 4


def test_the_add_page_shows_an_example_spec(staff_client):
    response = staff_client.get(url("add"))

    assert response.status_code == 200
    assert "policy: personalized" in response.content.decode()


def test_a_committed_programs_page_shows_its_arms_with_counts(staff_client, campaign):
    design = program_in(campaign)
    commit_program(design=design)

    page = staff_client.get(url("change", design))
    draw = staff_client.get(url("preview", design))

    arms = page.context["adminform"].form.instance.summary["arms"]
    assert [(a["arm"], a["units"], a["voters"]) for a in arms] == [
        ("control", 2, 2), ("health-Doors", 2, 2),
    ]  # fmt: skip
    assert "<td>health-Doors</td>" in page.content.decode()
    assert draw.context["commit_url"] == ""
    assert draw.context["summary"] == ProgramDesign.objects.get().summary
