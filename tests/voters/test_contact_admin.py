"""Admin pages of contact history, surveys, programs, the consent ledger and code mappings; the
contacts upload; the audited voter export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaign.models import AuditAction, AuditEvent, Role
from tests.factories import (
    AssignmentFactory,
    ConsentEventFactory,
    ContactAttemptFactory,
    MembershipFactory,
    ProgramArmFactory,
    ProgramFactory,
    SurveyOptionFactory,
    SurveyQuestionFactory,
    SurveyResponseFactory,
    UserFactory,
    VoterFactory,
)
from voters.models import (
    Assignment,
    CodeMapping,
    ConsentEvent,
    ContactAttempt,
    ImportRun,
    Program,
    ProgramArm,
    SurveyQuestion,
    SurveyResponse,
)

pytestmark = pytest.mark.django_db

PHONE = "+19195550101"


def shown(response) -> set[int]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def member_client(client, campaign, role: str, username: str = "member"):
    user = UserFactory(username=username, is_staff=True)
    MembershipFactory(user=user, campaign=campaign, role=role)
    client.force_login(user)
    return client


def make_contact(c):
    return ContactAttemptFactory(voter=VoterFactory(campaign=c), program=ProgramFactory(campaign=c))


def make_response(c):
    return SurveyResponseFactory(voter=VoterFactory(campaign=c))


def make_consent(c):
    return ConsentEventFactory(voter=VoterFactory(campaign=c))


def make_assignment(c):
    return AssignmentFactory(voter=VoterFactory(campaign=c))


def make_question(c):
    question = SurveyQuestionFactory(campaign=c)
    SurveyOptionFactory(question=question)
    return question


def make_program(c):
    program = ProgramFactory(campaign=c)
    AssignmentFactory(voter=VoterFactory(campaign=c), program=program)
    return program


def make_mapping(c):
    name = f"Name {CodeMapping.objects.count()}"
    return CodeMapping.objects.create(
        campaign=c, layout="generic", kind="result", source_name=name, code="contacted"
    )


# route name, maker (one object of a campaign), whether the page may be written
PAGES: list[tuple[str, Callable]] = [
    ("contactattempt", make_contact),
    ("surveyresponse", make_response),
    ("consentevent", make_consent),
    ("assignment", make_assignment),
    ("surveyquestion", make_question),
    ("program", make_program),
    ("codemapping", make_mapping),
]
READ_ONLY = {"contactattempt", "surveyresponse", "consentevent", "assignment"}
page_ids = [name for name, _ in PAGES]


def own_objects(model_name: str, campaign) -> set[int]:
    """The page's other rows of `campaign` (every campaign starts with the support question and
    the VAN code mappings)."""
    model = {
        "surveyquestion": SurveyQuestion,
        "codemapping": CodeMapping,
        "program": Program,
    }.get(model_name)
    if model is None:
        return set()
    return set(model.objects.filter(campaign=campaign).values_list("pk", flat=True))


# -- tenancy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "make"), PAGES, ids=page_ids)
def test_changelist_shows_own_campaign_rows_only(staff_client, campaign, other_campaign, name,
                                                 make):  # fmt: skip
    own = make(campaign)
    foreign = make(other_campaign)

    listed = shown(staff_client.get(reverse(f"admin:voters_{name}_changelist")))

    assert own.pk in listed
    assert foreign.pk not in listed
    assert listed == own_objects(name, campaign) | {own.pk}


@pytest.mark.parametrize(("name", "make"), PAGES, ids=page_ids)
def test_own_object_page_is_shown_and_foreign_one_is_404(staff_client, campaign, other_campaign,
                                                         name, make):  # fmt: skip
    own = make(campaign)
    foreign = make(other_campaign)

    assert (
        staff_client.get(reverse(f"admin:voters_{name}_change", args=[own.pk])).status_code == 200
    )
    assert (
        staff_client.get(reverse(f"admin:voters_{name}_change", args=[foreign.pk])).status_code
        == 404
    )
    assert (
        staff_client.post(
            reverse(f"admin:voters_{name}_delete", args=[foreign.pk]), {"post": "yes"}
        ).status_code
        == 404
    )


@pytest.mark.parametrize(("name", "make"), PAGES, ids=page_ids)
def test_changelist_query_count_does_not_grow_with_rows(staff_client, campaign, name, make):
    url = reverse(f"admin:voters_{name}_changelist")
    for _ in range(5):
        make(campaign)
    staff_client.get(url)  # the session's first touch may write

    with CaptureQueriesContext(connection) as five:
        assert len(shown(staff_client.get(url))) >= 5
    for _ in range(45):
        make(campaign)
    with CaptureQueriesContext(connection) as fifty:
        assert len(shown(staff_client.get(url))) >= 50

    assert len(five) == len(fifty)
    assert len(fifty) <= 12


# -- read-only history -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "model"),
    [
        ("contactattempt", make_contact, ContactAttempt),
        ("surveyresponse", make_response, SurveyResponse),
        ("assignment", make_assignment, Assignment),
        ("consentevent", make_consent, ConsentEvent),
    ],
    ids=["contactattempt", "surveyresponse", "assignment", "consentevent"],
)
def test_history_pages_refuse_change_and_delete(staff_client, campaign, name, make, model):
    obj = make(campaign)
    change = reverse(f"admin:voters_{name}_change", args=[obj.pk])

    page = staff_client.get(change)
    posts = [
        staff_client.post(change, {"note": "x", "reason": "x"}).status_code,
        staff_client.post(
            reverse(f"admin:voters_{name}_delete", args=[obj.pk]), {"post": "yes"}
        ).status_code,
    ]

    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert posts == [403, 403]
    assert model.objects.count() == 1


@pytest.mark.parametrize("name", ["contactattempt", "surveyresponse", "assignment"])
def test_history_pages_have_no_add_page(staff_client, name):
    assert staff_client.get(reverse(f"admin:voters_{name}_add")).status_code == 403


@pytest.mark.parametrize(("name", "make"), PAGES, ids=page_ids)
def test_viewer_reads_but_cannot_write(client, campaign, name, make):
    obj = make(campaign)
    viewer = member_client(client, campaign, Role.VIEWER, "viewer")

    page = viewer.get(reverse(f"admin:voters_{name}_change", args=[obj.pk]))
    add = viewer.get(reverse(f"admin:voters_{name}_add"))
    delete = viewer.post(reverse(f"admin:voters_{name}_delete", args=[obj.pk]), {"post": "yes"})

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert (add.status_code, delete.status_code) == (403, 403)
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_contact_search_is_by_exact_voter_id(staff_client, campaign, other_campaign):
    mine = ContactAttemptFactory(voter=VoterFactory(campaign=campaign, voter_id="NC0042"))
    ContactAttemptFactory(voter=VoterFactory(campaign=campaign, voter_id="NC00421"))
    ContactAttemptFactory(voter=VoterFactory(campaign=other_campaign, voter_id="NC0042"))
    url = reverse("admin:voters_contactattempt_changelist")

    assert shown(staff_client.get(url, {"q": "nc0042"}, follow=True)) == {mine.pk}
    assert shown(staff_client.get(url, {"q": "NC004"}, follow=True)) == set()


def test_program_filter_offers_only_own_programs(staff_client, campaign, other_campaign):
    ProgramFactory(campaign=campaign, name="Ours")
    ProgramFactory(campaign=other_campaign, name="Theirs")

    html = staff_client.get(reverse("admin:voters_contactattempt_changelist")).content.decode()

    assert "Ours" in html
    assert "Theirs" not in html


# -- surveys ---------------------------------------------------------------------------------


def question_post(question, options: list[dict], **fields) -> dict:
    data = {
        "campaign": question.campaign_id if question else fields.pop("campaign"),
        "slug": fields.pop("slug", question.slug if question else ""),
        "text": fields.pop("text", question.text if question else ""),
        "kind": fields.pop("kind", question.kind if question else "choice"),
        "options-TOTAL_FORMS": str(len(options)),
        "options-INITIAL_FORMS": str(sum(1 for o in options if o.get("id"))),
        "options-MIN_NUM_FORMS": "0",
        "options-MAX_NUM_FORMS": "1000",
    }
    for i, option in enumerate(options):
        for key, value in option.items():
            data[f"options-{i}-{key}"] = value
        if question is not None:
            data[f"options-{i}-question"] = question.pk
    return data


def test_staff_adds_a_question_with_ordered_options(staff_client, campaign):
    response = staff_client.post(
        reverse("admin:voters_surveyquestion_add"),
        question_post(
            None,
            [
                {"position": "1", "code": "jobs", "label": "Jobs"},
                {"position": "0", "code": "health", "label": "Health care"},
            ],
            campaign=campaign.pk, slug="top-issue", text="Which issue matters most?",
        ),
    )  # fmt: skip

    assert response.status_code == 302
    question = SurveyQuestion.objects.get(campaign=campaign, slug="top-issue")
    assert list(question.options.values_list("code", flat=True)) == ["health", "jobs"]


def test_builtin_support_question_cannot_be_deleted(staff_client, campaign):
    support = SurveyQuestion.objects.get(campaign=campaign, slug="support")

    page = staff_client.get(reverse("admin:voters_surveyquestion_change", args=[support.pk]))
    delete = staff_client.post(
        reverse("admin:voters_surveyquestion_delete", args=[support.pk]), {"post": "yes"}
    )
    bulk = staff_client.post(
        reverse("admin:voters_surveyquestion_changelist"),
        {"action": "delete_selected", "_selected_action": [support.pk], "post": "yes"},
    )

    assert page.context["has_delete_permission"] is False
    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)
    assert SurveyQuestion.objects.filter(pk=support.pk).exists()
    assert support.options.count() == 5


def test_builtin_support_codes_cannot_be_changed(staff_client, campaign):
    support = SurveyQuestion.objects.get(campaign=campaign, slug="support")
    options = [
        {"id": str(o.pk), "position": str(o.position), "code": f"x{o.code}", "label": o.label}
        for o in support.options.all()
    ]
    options[0]["label"] = "Strongly with us"
    options[1]["DELETE"] = "on"

    response = staff_client.post(
        reverse("admin:voters_surveyquestion_change", args=[support.pk]),
        question_post(support, [*options, {"position": "9", "code": "6", "label": "New"}],
                      slug="renamed", kind="choice"),
    )  # fmt: skip

    assert response.status_code == 302
    assert list(support.options.order_by("position").values_list("code", "label")) == [
        ("1", "Strongly with us"),
        ("2", "Lean support"),
        ("3", "Undecided"),
        ("4", "Lean oppose"),
        ("5", "Strong oppose"),
    ]
    support.refresh_from_db()
    assert (support.slug, support.kind) == ("support", "support")


# -- programs --------------------------------------------------------------------------------


def test_program_page_shows_assignment_counts_per_arm(staff_client, campaign):
    program = ProgramFactory(campaign=campaign, name="Fall texts")
    control = ProgramArmFactory(program=program, control=True)
    economy = ProgramArmFactory(program=program, name="economy")
    for arm, n in [(control, 2), (economy, 3)]:
        for _ in range(n):
            AssignmentFactory(voter=VoterFactory(campaign=campaign), program=program, arm=arm)

    listing = staff_client.get(reverse("admin:voters_program_changelist"))
    page = staff_client.get(reverse("admin:voters_program_change", args=[program.pk]))
    arms = {
        form.instance.name: form.instance.assigned_total
        for form in page.context["inline_admin_formsets"][0].formset.forms
    }

    assert [(p.arm_total, p.assignment_total) for p in listing.context["cl"].result_list] == [
        (2, 5)
    ]
    assert arms == {"control": 2, "economy": 3}


def test_arm_with_assignments_cannot_be_renamed_or_deleted(staff_client, campaign):
    program = ProgramFactory(campaign=campaign, name="Fall texts")
    arm = ProgramArmFactory(program=program, name="economy")
    AssignmentFactory(voter=VoterFactory(campaign=campaign), program=program, arm=arm)

    staff_client.post(
        reverse("admin:voters_program_change", args=[program.pk]),
        {
            "description": "x",
            "arms-TOTAL_FORMS": "1",
            "arms-INITIAL_FORMS": "1",
            "arms-MIN_NUM_FORMS": "0",
            "arms-MAX_NUM_FORMS": "1000",
            "arms-0-id": str(arm.pk),
            "arms-0-program": str(program.pk),
            "arms-0-name": "renamed",
            "arms-0-DELETE": "on",
        },
    )

    arm.refresh_from_db()
    assert arm.name == "economy"
    assert Assignment.objects.count() == 1


def test_a_program_with_assignments_gets_no_new_arm(staff_client, campaign):
    program = ProgramFactory(campaign=campaign, name="Fall texts")
    arm = ProgramArmFactory(program=program, name="economy")
    AssignmentFactory(voter=VoterFactory(campaign=campaign), program=program, arm=arm)
    url = reverse("admin:voters_program_change", args=[program.pk])

    page = staff_client.get(url)
    staff_client.post(
        url,
        {
            "description": "x",
            "arms-TOTAL_FORMS": "2",
            "arms-INITIAL_FORMS": "1",
            "arms-MIN_NUM_FORMS": "0",
            "arms-MAX_NUM_FORMS": "1000",
            "arms-0-id": str(arm.pk),
            "arms-0-program": str(program.pk),
            "arms-0-name": "economy",
            "arms-1-program": str(program.pk),
            "arms-1-name": "late-arm",
        },
    )

    assert page.context["inline_admin_formsets"][0].formset.max_num == 0
    assert list(ProgramArm.objects.values_list("name", flat=True)) == ["economy"]


# -- the consent ledger ----------------------------------------------------------------------


def consent_post(campaign, **fields) -> dict:
    return {"campaign": campaign.pk, "voter": "", "address": "", "reason": "", **fields}


def test_staff_adds_an_opt_out_through_the_service(staff_client, staff_user, campaign):
    response = staff_client.post(
        reverse("admin:voters_consentevent_add"),
        consent_post(campaign, channel="sms", address="(919) 555-0101", kind="opt_out"),
        REMOTE_ADDR="10.9.8.7",
    )

    assert response.status_code == 302
    assert PHONE not in response.url
    event = ConsentEvent.objects.get()
    assert (event.address, event.kind, event.source, event.user_id) == (
        PHONE, "opt_out", "staff", staff_user.pk,
    )  # fmt: skip
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.object_id, audit.client_ip) == (
        AuditAction.CONSENT_CHANGE, str(event.pk), "10.9.8.7",
    )  # fmt: skip


def test_a_typed_phone_that_cannot_be_read_is_refused_not_recorded(staff_client, campaign):
    response = staff_client.post(
        reverse("admin:voters_consentevent_add"),
        consent_post(campaign, channel="sms", address="555-0123", kind="opt_out"),
    )

    assert response.status_code == 200
    assert "Not a phone number we can read." in str(response.context["adminform"].form.errors)
    assert ConsentEvent.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_staff_opt_in_without_a_reason_is_refused_on_the_add_page(staff_client, campaign):
    voter = VoterFactory(campaign=campaign, phone=PHONE)

    response = staff_client.post(
        reverse("admin:voters_consentevent_add"),
        consent_post(campaign, channel="sms", voter=voter.pk, kind="opt_in"),
    )

    assert response.status_code == 200
    assert "must give a reason" in str(response.context["adminform"].form.errors)
    assert ConsentEvent.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_door_opt_out_on_the_add_page_takes_the_voter(staff_client, campaign, other_campaign):
    voter = VoterFactory(campaign=campaign)
    foreign = VoterFactory(campaign=other_campaign)
    url = reverse("admin:voters_consentevent_add")

    refused = staff_client.post(
        url, consent_post(campaign, channel="door", voter=foreign.pk, kind="opt_out")
    )
    accepted = staff_client.post(
        url, consent_post(campaign, channel="door", voter=voter.pk, kind="opt_out")
    )

    assert refused.status_code == 200
    assert accepted.status_code == 302
    assert list(ConsentEvent.objects.values_list("address", "voter_id")) == [
        (f"voter:{voter.pk}", voter.pk)
    ]


def test_consent_add_page_offers_only_campaigns_where_user_may_write(
    staff_client, staff_user, campaign, other_campaign
):
    MembershipFactory(user=staff_user, campaign=other_campaign, role=Role.VIEWER)

    response = staff_client.get(reverse("admin:voters_consentevent_add"))

    assert list(response.context["adminform"].form.fields["campaign"].queryset) == [campaign]


# -- code mappings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code", "ok"),
    [
        ("result", "not_home", True),
        ("result", "sms", False),
        ("contact_type", "sms", True),
        ("contact_type", "Walk", False),
        ("survey_question", "support", True),
        ("survey_question", "top-issue", False),
    ],
)
def test_code_mapping_codes_are_validated(staff_client, campaign, kind, code, ok):
    before = CodeMapping.objects.count()

    response = staff_client.post(
        reverse("admin:voters_codemapping_add"),
        {
            "campaign": campaign.pk,
            "layout": "van",
            "kind": kind,
            "source_name": "Xyz",
            "code": code,
        },
    )

    assert response.status_code == (302 if ok else 200)
    assert CodeMapping.objects.count() == before + ok


def test_code_mapping_names_are_unique_case_insensitively(staff_client, campaign):
    before = CodeMapping.objects.count()

    response = staff_client.post(
        reverse("admin:voters_codemapping_add"),
        {"campaign": campaign.pk, "layout": "van", "kind": "result", "source_name": "not home",
         "code": "refused"},
    )  # fmt: skip

    assert response.status_code == 200
    assert CodeMapping.objects.count() == before


def test_staff_edits_a_code_mapping(staff_client, campaign):
    mapping = CodeMapping.objects.get(campaign=campaign, kind="result", source_name="Not Home")

    response = staff_client.post(
        reverse("admin:voters_codemapping_change", args=[mapping.pk]),
        {"layout": "van", "kind": "result", "source_name": "Not Home", "code": "inaccessible"},
    )

    assert response.status_code == 302
    mapping.refresh_from_db()
    assert (mapping.code, mapping.campaign_id) == ("inaccessible", campaign.pk)


# -- the contacts upload ---------------------------------------------------------------------


VAN_HEADER = (
    "Voter File VANID\tContact Name\tDate Canvassed\tResult\tContact Type\tCanvassed By\t"
    "Created By\tDate Created\tInput Type Name\tMiniVAN Campaign\r\n"
)


def test_van_contacts_upload_runs_the_real_import(
    staff_client, staff_user, campaign, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    voter = VoterFactory(campaign=campaign, extra={"vanid": "1001"})
    line = "1001\tLee, Ann\t10/5/2024\tNot Home\tWalk\tPat\tPat\t10/5/2024\tMiniVAN\tOct\r\n"
    upload = SimpleUploadedFile("history.xls", (VAN_HEADER + line).encode("utf-16"))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:voters_importrun_add"),
            {"campaign": campaign.pk, "kind": "contacts", "layout": "van", "mode": "strict",
             "file": upload},
        )  # fmt: skip

    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert (run.kind, run.layout, run.status, run.created_by) == (
        "contacts", "van", "succeeded", staff_user,
    )  # fmt: skip
    attempt = ContactAttempt.objects.get()
    assert (attempt.voter, attempt.channel, attempt.result, attempt.source) == (
        voter, "door", "not_home", "import",
    )  # fmt: skip


@pytest.mark.parametrize(("kind", "layout"), [("contacts", "nc"), ("voters", "van")])
def test_upload_refuses_a_layout_the_kind_cannot_read(staff_client, campaign, kind, layout):
    response = staff_client.post(
        reverse("admin:voters_importrun_add"),
        {"campaign": campaign.pk, "kind": kind, "layout": layout, "mode": "strict",
         "file": SimpleUploadedFile("f.csv", b"voter_id\nA1\n")},
    )  # fmt: skip

    assert response.status_code == 200
    assert "layout" in response.context["adminform"].form.errors
    assert ImportRun.objects.count() == 0


# -- the audited export ----------------------------------------------------------------------

VOTERS = reverse("admin:voters_voter_changelist")


def export(client, voters, **extra):
    return client.post(
        VOTERS,
        {"action": "export_csv", "_selected_action": [v.pk for v in voters]},
        **extra,
    )


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_export_streams_the_selection_and_writes_one_audit_row(staff_client, staff_user, campaign):
    voters = VoterFactory.create_batch(3, campaign=campaign, first_name="=HYPERLINK(1)")
    VoterFactory(campaign=campaign)  # not selected

    response = export(staff_client, voters, REMOTE_ADDR="10.0.0.9")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response)
    assert sorted(r["voter_id"] for r in rows) == sorted(v.voter_id for v in voters)
    assert "phone" not in rows[0]  # staff: no contact columns
    assert "email" not in rows[0]
    assert rows[0]["first_name"] == "'=HYPERLINK(1)"  # no formulas in a spreadsheet
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.campaign_id, audit.user_id, audit.row_count, audit.client_ip) == (
        AuditAction.EXPORT, campaign.pk, staff_user.pk, 3, "10.0.0.9",
    )  # fmt: skip
    assert audit.detail == {"format": "csv", "with_contact": False}


def test_campaign_admin_export_includes_phone_and_email(client, campaign):
    voters = VoterFactory.create_batch(2, campaign=campaign)
    admin_client = member_client(client, campaign, Role.ADMIN, "boss")

    rows = read_csv(export(admin_client, voters))

    assert {r["phone"] for r in rows} == {v.phone for v in voters}
    assert {r["email"] for r in rows} == {v.email for v in voters}
    assert AuditEvent.objects.get().detail["with_contact"] is True


def test_export_of_all_matching_voters_counts_them_exactly(staff_client, campaign, other_campaign):
    VoterFactory.create_batch(7, campaign=campaign, party="rep")
    VoterFactory.create_batch(2, campaign=campaign, party="dem")
    VoterFactory.create_batch(4, campaign=other_campaign, party="rep")

    response = staff_client.post(
        VOTERS + "?party__exact=rep",
        {"action": "export_csv", "select_across": "1", "_selected_action": ["0"]},
    )

    assert len(read_csv(response)) == 7
    assert list(AuditEvent.objects.values_list("campaign_id", "row_count")) == [(campaign.pk, 7)]


def test_viewer_cannot_export(client, campaign):
    voters = VoterFactory.create_batch(2, campaign=campaign)
    viewer = member_client(client, campaign, Role.VIEWER, "viewer")

    listing = viewer.get(VOTERS)
    response = export(viewer, voters)

    assert "export_csv" not in listing.content.decode()
    assert not response.get("Content-Type", "").startswith("text/csv")
    assert AuditEvent.objects.count() == 0


def test_export_skips_campaigns_where_the_user_only_views(
    staff_client, staff_user, campaign, other_campaign
):
    MembershipFactory(user=staff_user, campaign=other_campaign, role=Role.VIEWER)
    mine = VoterFactory(campaign=campaign)
    theirs = VoterFactory(campaign=other_campaign)

    rows = read_csv(export(staff_client, [mine, theirs]))

    assert [r["voter_id"] for r in rows] == [mine.voter_id]
    assert list(AuditEvent.objects.values_list("campaign_id", "row_count")) == [(campaign.pk, 1)]


def test_export_url_and_file_name_carry_no_personal_data(staff_client, campaign):
    voter = VoterFactory(campaign=campaign, phone=PHONE)

    response = export(staff_client, [voter])

    assert response["Content-Disposition"] == (
        f'attachment; filename="voters-{dt.date.today():%Y-%m-%d}.csv"'
    )


def test_viewers_see_no_phone_or_email_in_the_admin(client, campaign):
    voter = VoterFactory(campaign=campaign, phone=PHONE, email="ann@example.org")
    event = ConsentEventFactory(voter=voter)
    viewer = member_client(client, campaign, Role.VIEWER, "reader")

    listing = viewer.get(reverse("admin:voters_voter_changelist")).content.decode()
    page = viewer.get(reverse("admin:voters_voter_change", args=[voter.pk])).content.decode()
    ledger = viewer.get(reverse("admin:voters_consentevent_change", args=[event.pk]))

    assert voter.voter_id in listing
    for html in (listing, page, ledger.content.decode()):
        assert "555-0101" not in html
        assert "5550101" not in html
        assert "ann@example.org" not in html


def test_staff_see_the_phone_the_viewer_does_not(staff_client, campaign):
    voter = VoterFactory(campaign=campaign, phone=PHONE)

    page = staff_client.get(reverse("admin:voters_voter_change", args=[voter.pk]))

    assert "5550101" in page.content.decode()
