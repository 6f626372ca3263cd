"""The organizer's phone pages: sign-in, turfs, the turf's data and the door-result endpoint."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from campaign.models import AuditAction, AuditEvent
from messaging.canvassing import assign_turfs
from messaging.field import DoorResult, record_field_result
from messaging.models import FieldResult
from messaging.programs import cancel_program, pause_program
from tests.factories import VoterFactory
from tests.messaging.field_setup import PASSWORD, field_program, organizer, result
from voters.consent import voter_consent
from voters.models import ConsentEvent, ContactAttempt, SurveyResponse

pytestmark = pytest.mark.django_db

URL = "/field/results/"
# Turf, replay check, voter, door, arm pin, contact, result, and four savepoint statements; a
# support answer adds its question, option and insert in a savepoint. Pinned so that no query
# creeps in per row.
PLAIN_QUERIES = 11


@pytest.fixture
def field(campaign):
    return field_program(campaign)


def post(client, payload) -> tuple[int, dict]:
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    response = client.post(URL, body, content_type="application/json")
    return response.status_code, response.json()


def counts() -> tuple[int, int, int, int]:
    return (
        FieldResult.objects.count(),
        ContactAttempt.objects.count(),
        SurveyResponse.objects.count(),
        ConsentEvent.objects.count(),
    )


# -- signing in and pages ---------------------------------------------------------------------


def test_organizer_signs_in_on_the_field_page_and_sees_only_their_turfs(client, field):
    response = client.post(
        reverse("field:login"), {"username": "olive", "password": PASSWORD}, follow=True
    )
    page = response.content.decode()

    assert response.redirect_chain == [("/field/", 302)]
    assert field.turf.name in page
    assert field.other_turf.name not in page
    assert "(America/New_York)" in page


def test_under_2fa_an_organizer_without_a_device_enrols_then_gets_the_pages(
    client, field, settings
):
    settings.REQUIRE_2FA = True
    signed_in = client.post(reverse("field:login"), {"username": "olive", "password": PASSWORD})
    sent = client.get("/field/")
    enrol = client.get(sent["Location"])
    device = TOTPDevice.objects.get(user=field.organizer)
    confirmed = client.post(sent["Location"], {"token": _code(device)})

    assert (signed_in.status_code, signed_in["Location"]) == (302, "/field/")
    assert sent["Location"] == "/account/two-factor/?next=/field/"
    assert enrol.status_code == 200
    assert "Set up two-factor sign-in" in enrol.content.decode()
    assert (confirmed.status_code, confirmed["Location"]) == (302, "/field/")
    assert client.get("/field/").status_code == 200


def test_under_2fa_an_enrolled_organizer_needs_the_code(client, field, settings):
    settings.REQUIRE_2FA = True
    device = TOTPDevice.objects.create(user=field.organizer, name="phone", confirmed=True)
    form = {"username": "olive", "password": PASSWORD}

    refused = client.post(reverse("field:login"), form)
    signed_in_without_code = "_auth_user_id" in client.session
    accepted = client.post(reverse("field:login"), {**form, "otp_token": _code(device)})

    assert refused.status_code == 200
    assert "Please enter your OTP token." in refused.content.decode()
    assert signed_in_without_code is False
    assert (accepted.status_code, accepted["Location"]) == (302, "/field/")
    assert client.get("/field/").status_code == 200
    assert post(client, result(field, field.voters()[0]))[0] == 201


def test_under_2fa_an_unverified_session_cannot_post_results(client, field, settings):
    settings.REQUIRE_2FA = True
    client.force_login(field.organizer)
    assert post(client, result(field, field.voters()[0])) == (
        401,
        {"error": "two-factor sign-in needed"},
    )
    assert counts() == (0, 0, 0, 0)


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_field_pages_send_a_signed_out_visitor_to_sign_in(client, field):
    response = client.get(reverse("field:turf", args=[field.turf.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"/field/login/?next=/field/turfs/{field.turf.pk}/"


def test_a_viewer_is_refused_the_field_pages(client, campaign, field, make_member):
    client.force_login(make_member(campaign, "viewer"))
    assert client.get("/field/").status_code == 403
    assert post(client, result(field, field.voters()[0]))[0] == 403
    assert FieldResult.objects.count() == 0


def test_turf_data_holds_doors_in_order_without_phones_or_emails(client, field):
    client.force_login(field.organizer)
    response = client.get(reverse("field:turf_json", args=[field.turf.pk]))
    data = response.json()
    voters = field.voters()
    text = response.content.decode()

    assert [d["stop"] for d in data["doors"]] == list(range(1, field.turf.doors + 1))
    assert [v["voter_id"] for d in data["doors"] for v in d["voters"]] == [
        v.voter_id for v in voters
    ]
    assert data["time_zone"] == "America/New_York"
    assert [q["slug"] for q in data["questions"]] == ["issue"]
    assert [o["code"] for o in data["support"]["options"]] == ["1", "2", "3", "4", "5"]
    assert all(v.phone not in text and v.email not in text for v in voters)
    event = AuditEvent.objects.get(action=AuditAction.DOWNLOAD, object_id=str(field.turf.pk))
    assert (event.user_id, event.detail["format"], event.row_count) == (
        field.organizer.pk,
        "field",
        len(voters),
    )


def test_another_organizers_turf_is_a_404(client, field):
    client.force_login(field.organizer)
    assert client.get(reverse("field:turf", args=[field.other_turf.pk])).status_code == 404
    assert client.get(reverse("field:turf_json", args=[field.other_turf.pk])).status_code == 404


def test_another_campaigns_organizer_gets_a_404_for_our_turf(client, field, other_campaign):
    client.force_login(organizer(other_campaign, "rival-org"))
    assert client.get(reverse("field:turf", args=[field.turf.pk])).status_code == 404


def test_the_service_worker_and_script_are_served_from_field(client):
    worker = client.get("/field/sw.js")
    script = client.get("/field/app.js")
    assert (worker.status_code, worker["Content-Type"]) == (200, "text/javascript")
    assert "seg1-field-v1" in worker.content.decode()
    assert "waiting to send" in script.content.decode()
    assert client.get("/field/nothing.js").status_code == 404


# -- recording results ------------------------------------------------------------------------


def test_contacted_with_support_and_an_answer_writes_each_history_row(client, field):
    client.force_login(field.organizer)
    voter = field.voters()[0]
    payload = result(field, voter, "contacted", support="2", answers={"issue": "jobs"}, note="dog")

    status, body = post(client, payload)

    attempt = ContactAttempt.objects.get()
    assert status == 201
    assert body == {
        "key": payload["key"],
        "status": "recorded",
        "flag": "",
        "contact_attempt": attempt.pk,
    }
    assert (attempt.voter_id, attempt.channel, attempt.result, attempt.source) == (
        voter.pk,
        "door",
        "contacted",
        "organizer",
    )
    assignment = voter.assignments.get(program_id=field.design.program_id)
    assert (attempt.program_id, attempt.arm_id, attempt.user_id, attempt.note) == (
        field.design.program_id,
        assignment.arm_id,
        field.organizer.pk,
        "dog",
    )
    answers = {
        (r.question.slug, r.option.code, r.contact_attempt_id, r.source)
        for r in SurveyResponse.objects.select_related("question", "option")
    }
    assert answers == {
        ("support", "2", attempt.pk, "organizer"),
        ("issue", "jobs", attempt.pk, "organizer"),
    }
    row = FieldResult.objects.get()
    assert (row.outcome, row.support, row.flag, row.turf_id, row.contact_attempt_id) == (
        "contacted",
        "2",
        "",
        field.turf.pk,
        attempt.pk,
    )
    assert ConsentEvent.objects.count() == 0


def test_the_same_key_twice_is_recorded_once_and_the_replay_gets_the_first_answer(client, field):
    client.force_login(field.organizer)
    payload = result(field, field.voters()[0], "contacted", support="1")

    first = post(client, payload)
    second = post(client, payload)

    assert (first[0], second[0]) == (201, 200)
    assert first[1] == second[1]
    assert counts() == (1, 1, 1, 0)


def test_come_back_is_a_not_home_named_come_back(client, field):
    client.force_login(field.organizer)
    assert post(client, result(field, field.voters()[0], "come_back"))[0] == 201
    attempt = ContactAttempt.objects.get()
    assert (attempt.result, attempt.result_raw) == ("not_home", "come back")


def test_do_not_contact_closes_every_channel(client, field):
    client.force_login(field.organizer)
    voter = field.voters()[0]

    assert post(client, result(field, voter, "do_not_contact"))[0] == 201

    attempt = ContactAttempt.objects.get()
    assert (attempt.result, attempt.result_raw) == ("opted_out", "do not contact")
    events = ConsentEvent.objects.filter(voter=voter)
    assert sorted(events.values_list("channel", flat=True)) == sorted(
        ["door", "email", "mail", "phone", "sms"]
    )
    assert set(events.values_list("source", "kind")) == {("canvass_dnc", "opt_out")}
    assert [c.is_contactable for c in voter_consent(voter)] == [False] * 5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": "not-a-uuid"}, "key: must be a UUID"),
        ({"outcome": "wrong_number"}, "outcome: must be one of"),
        ({"support": "6"}, "support: must be 1 to 5"),
        ({"outcome": "not_home", "support": "2"}, "answers are recorded only with a conversation"),
        ({"answers": {"issue": "taxes"}}, "answers: 'taxes' is not an answer to 'issue'"),
        ({"answers": {"nope": "x"}}, "answers: no survey question 'nope'"),
        ({"recorded_at": "yesterday"}, "recorded_at: must be an ISO 8601 time with a zone"),
        ({"recorded_at": "2026-13-45T10:00:00+00:00"}, "recorded_at: must be an ISO 8601"),
        ({"recorded_at": "2001-01-01T10:00:00+00:00"}, "recorded_at: is more than 60 days ago"),
        ({"turf": "1"}, "turf: must be a positive integer id"),
        ({"program": 2**31 - 1}, "program: is not the turf's program"),
        ({"note": "x" * 2001}, "note: is longer than 2000 characters"),
        ({"note": "a\x00b"}, "NUL characters are not allowed"),
        ({"voter": ""}, "voter: must be a string (not empty)"),
    ],
)
def test_a_bad_result_is_a_400_that_says_why_and_writes_nothing(client, field, change, message):
    client.force_login(field.organizer)
    payload = {**result(field, field.voters()[0], "contacted"), **change}

    status, body = post(client, payload)

    assert status == 400
    assert message in body["error"]
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize("body", ["", "[]", "{", '"x"', "null"])
def test_a_body_that_is_not_a_json_object_is_a_400(client, field, body):
    client.force_login(field.organizer)
    status, answer = post(client, body)
    assert status == 400
    assert answer["error"] in ("body: is not JSON", "body: must be a JSON object")
    assert counts() == (0, 0, 0, 0)


def test_deeply_nested_json_is_a_400(client, field):
    client.force_login(field.organizer)
    assert post(client, "[" * 8_000 + "]" * 8_000) == (
        400,
        {"error": "body: is nested too deeply", "fields": {"body": ["is nested too deeply"]}},
    )
    assert counts() == (0, 0, 0, 0)


def test_a_result_for_another_organizers_turf_is_a_404(client, field):
    client.force_login(field.organizer)
    payload = {**result(field, field.voters(field.other_turf)[0]), "turf": field.other_turf.pk}
    assert post(client, payload) == (404, {"error": "no such turf or door of yours"})
    assert counts() == (0, 0, 0, 0)


def test_another_campaigns_voter_is_a_404(client, field, other_campaign):
    client.force_login(field.organizer)
    stranger = VoterFactory(campaign=other_campaign)
    assert post(client, result(field, stranger))[0] == 404
    assert counts() == (0, 0, 0, 0)


def test_a_voter_outside_the_program_is_a_404(client, field, campaign):
    client.force_login(field.organizer)
    assert post(client, result(field, VoterFactory(campaign=campaign)))[0] == 404
    assert counts() == (0, 0, 0, 0)


def test_a_key_used_by_another_organizer_is_refused(client, field):
    payload = result(field, field.voters()[0])
    client.force_login(field.organizer)
    assert post(client, payload)[0] == 201
    assign_turfs(turfs=[field.turf], organizer=field.other_organizer)
    client.force_login(field.other_organizer)

    status, body = post(client, payload)

    assert status == 400
    assert body["error"] == "key: this key was used for another organizer's result"
    assert counts() == (1, 1, 0, 0)


# -- kept and flagged -------------------------------------------------------------------------


def test_a_result_after_the_turf_was_reassigned_is_kept_and_flagged(client, field):
    assign_turfs(turfs=[field.turf], organizer=field.other_organizer)
    client.force_login(field.organizer)

    status, body = post(client, result(field, field.voters()[0], "refused"))

    assert (status, body["flag"]) == (201, "reassigned")
    row = FieldResult.objects.get()
    assert (row.flag, row.organizer_id, row.turf_id) == (
        "reassigned",
        field.organizer.pk,
        field.turf.pk,
    )
    assert ContactAttempt.objects.get().result == "refused"


@pytest.mark.parametrize(
    ("change", "flag"), [(cancel_program, "cancelled"), (pause_program, "paused")]
)
def test_a_result_for_a_stopped_program_is_kept_and_flagged(client, field, change, flag):
    change(design=field.design)
    client.force_login(field.organizer)

    status, body = post(client, result(field, field.voters()[0]))

    assert (status, body["flag"]) == (201, flag)
    assert FieldResult.objects.get().flag == flag
    assert counts() == (1, 1, 0, 0)


def test_a_result_for_a_turf_re_cut_away_is_kept_and_flagged(client, field):
    voter = field.voters()[0]
    client.force_login(field.organizer)
    turf_id = field.turf.pk
    # What a re-cut does: the doors go to another turf and the turf is deleted.
    field.turf.stops.update(turf=field.other_turf, position=F("position") + 1000)
    field.turf.delete()

    status, body = post(client, {**result(field, voter), "turf": turf_id})

    assert (status, body["flag"]) == (201, "turf_gone")
    row = FieldResult.objects.get()
    assert (row.turf_id, row.turf_ref) == (None, turf_id)


def test_a_result_for_a_door_moved_to_another_turf_is_kept_and_flagged(client, field):
    voter = field.voters()[0]
    field.turf.stops.filter(household_id=voter.household_id).update(
        turf=field.other_turf, position=999
    )
    client.force_login(field.organizer)

    status, body = post(client, result(field, voter, "moved"))

    assert (status, body["flag"]) == (201, "not_in_turf")
    assert FieldResult.objects.get().flag == "not_in_turf"
    assert ContactAttempt.objects.get().result == "moved"


def test_results_are_stamped_with_the_phones_time_but_never_in_the_future(client, field):
    client.force_login(field.organizer)
    ahead = (timezone.now() + timezone.timedelta(hours=3)).isoformat()
    before = timezone.now()
    assert post(client, {**result(field, field.voters()[0]), "recorded_at": ahead})[0] == 201
    row = FieldResult.objects.get()
    assert before <= row.recorded_at <= timezone.now()
    assert ContactAttempt.objects.get().occurred_at == row.recorded_at


def test_a_signed_out_phone_gets_a_401_and_nothing_is_written(client, field):
    status, body = post(client, result(field, field.voters()[0]))
    assert (status, body) == (401, {"error": "sign in again to send results"})
    assert counts() == (0, 0, 0, 0)


def test_results_need_the_csrf_token(field):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(field.organizer)
    response = client.post(
        URL, json.dumps(result(field, field.voters()[0])), content_type="application/json"
    )
    assert response.status_code == 403
    assert counts() == (0, 0, 0, 0)


def test_field_results_admin_lists_flags_of_our_campaign_only(client, field, campaign, make_member):
    client.force_login(field.organizer)
    post(client, {**result(field, field.voters()[0]), "key": str(uuid.uuid4())})
    staff = make_member(campaign, "staff", "boss")
    client.force_login(staff)
    ours = client.get("/admin/messaging/fieldresult/")
    assert ours.status_code == 200
    assert FieldResult.objects.get().voter.voter_id in ours.content.decode()


def test_a_door_result_takes_a_fixed_number_of_queries(field, django_assert_num_queries):
    voters = field.voters()
    plain = DoorResult(
        key=uuid.uuid4(), turf=field.turf.pk, program=field.design.pk, voter=voters[0].voter_id,
        outcome="not_home", recorded_at=timezone.now(),
    )  # fmt: skip
    talked = replace(plain, key=uuid.uuid4(), voter=voters[1].voter_id, outcome="contacted")
    record_field_result(user=field.organizer, result=plain)  # the support question's rows exist

    with django_assert_num_queries(PLAIN_QUERIES):
        record_field_result(
            user=field.organizer,
            result=replace(plain, key=uuid.uuid4(), voter=voters[2].voter_id),
        )
    with django_assert_num_queries(PLAIN_QUERIES + 5):
        record_field_result(user=field.organizer, result=replace(talked, support="3"))
