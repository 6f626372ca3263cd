"""Hostile or broken requests are a 400 or a 401, never a 500, and change nothing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from campaign.api.authentication import signed_headers
from scoring.models import ScoringRun
from tests.factories import VoterFactory
from voters.models import ConsentEvent

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/consent/check"
OPT_OUTS = "/api/v1/consent/opt-outs"


@pytest.mark.parametrize("timestamp", ["9" * 5000, "1" + "0" * 400, "-" + "9" * 30])
def test_an_absurd_x_timestamp_is_a_401(client, vendor_key, timestamp):
    _, full_key, secret = vendor_key
    body = json.dumps({"channel": "sms", "addresses": ["+19195550101"]}).encode()
    headers = signed_headers(full_key, secret, method="POST", path=CHECK, body=body)

    response = client.generic(
        "POST",
        CHECK,
        body,
        content_type="application/json",
        headers={**headers, "X-Timestamp": timestamp},
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "X-Timestamp (unix seconds) is required"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/voters?campaign=home%00",
        "/api/v1/contacts?voter=1%00",
        "/api/v1/voters?cursor=%00",
    ],
)
def test_a_nul_in_an_api_query_parameter_is_a_400(api_client, campaign, make_member, path):
    api_client.force_authenticate(make_member(campaign, "staff"))
    VoterFactory(campaign=campaign)

    response = api_client.get(path)

    assert response.status_code == 400
    assert response.json() == {"detail": "NUL characters are not allowed in a request"}


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("admin:voters_voter_changelist", {"status": "active\x00"}),
        ("admin:voters_voter_changelist", {"precinct": "\x00"}),
        ("admin:voters_contactattempt_changelist", {"voter__id__exact": "1\x00"}),
        ("admin:voters_consentevent_changelist", {"channel": "sms\x00"}),
    ],
)
def test_a_nul_in_an_admin_filter_is_a_400(client, campaign, make_member, name, query):
    client.force_login(make_member(campaign, "staff"))

    response = client.get(reverse(name), query)

    assert response.status_code == 400


def test_a_nul_in_a_posted_form_is_a_400(client, campaign, make_member):
    client.force_login(make_member(campaign, "staff"))

    response = client.post(reverse("admin:voters_voter_changelist"), {"q": "smith\x00"})

    assert response.status_code == 400


@pytest.mark.parametrize("depth", [100_000, 65])
def test_deeply_nested_json_is_a_400(api_client, campaign, make_member, depth):
    api_client.force_authenticate(make_member(campaign, "staff"))
    body = '{"channel": "sms", "addresses": ' + "[" * depth + "]" * depth + "}"

    response = api_client.generic("POST", CHECK, body, content_type="application/json")

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
    assert ConsentEvent.objects.count() == 0


def test_json_nested_as_deep_as_a_real_request_still_parses(api_client, campaign, make_member):
    api_client.force_authenticate(make_member(campaign, "staff"))
    body = json.dumps({"campaign": "home", "channel": "sms", "addresses": ["+19195550101"]})

    response = api_client.generic("POST", CHECK, body, content_type="application/json")

    assert (response.status_code, response.json()) == (200, {"channel": "sms", "opted_out": []})


@pytest.mark.parametrize("path", [CHECK, OPT_OUTS])
def test_options_on_the_consent_endpoints_is_not_a_500(api_client, campaign, make_member, path):
    anonymous = api_client.options(path)
    api_client.force_authenticate(make_member(campaign, "staff"))
    signed_in = api_client.options(path)

    assert anonymous.status_code == 401
    assert signed_in.status_code == 200
    assert signed_in.json()["name"] in {"Check", "Opt outs"}


def test_options_by_a_vendor_is_answered(client, vendor_key):
    _, full_key, secret = vendor_key
    headers = signed_headers(full_key, secret, method="OPTIONS", path=OPT_OUTS)

    response = client.options(OPT_OUTS, headers=headers)

    assert response.status_code == 200
    assert response.json()["name"] == "Opt outs"


@pytest.mark.parametrize("value", ["abc", "1 OR 1=1", "9" * 40, "1.5"])
def test_a_non_numeric_campaign_on_the_scoring_start_page_is_a_404(
    client, campaign, make_member, value
):
    client.force_login(make_member(campaign, "staff"))

    response = client.post(reverse("admin:scoring_scoringrun_start"), {"campaign": value})

    assert response.status_code == 404
    assert ScoringRun.objects.count() == 0


def test_a_nul_in_a_json_string_is_a_400(vendor_post):
    event = {
        "event_id": "ev-1",
        "channel": "sms",
        "address": "+1919555\u00000101",
        "source": "stop_reply",
        "occurred_at": "2024-10-05T15:00:00Z",
    }

    response = vendor_post(OPT_OUTS, {"events": [event]})

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON strings may not contain NUL characters"}
    assert ConsentEvent.objects.count() == 0


# -- found by schemathesis (tests/campaign/test_api_schemathesis.py) ---------------------------


def test_a_signed_vendor_post_as_a_multipart_form_is_read_not_a_500(client, vendor_key):
    _, full_key, secret = vendor_key
    boundary = "b0undary"
    part = 'Content-Disposition: form-data; name="limit"\r\n\r\n5'
    body = f"--{boundary}\r\n{part}\r\n--{boundary}--\r\n"
    path = "/api/v1/sms/lease"
    headers = signed_headers(full_key, secret, method="POST", path=path, body=body.encode())

    response = client.generic(
        "POST", path, body.encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={**headers, "Idempotency-Key": "multipart-1"},
    )  # fmt: skip

    assert response.status_code == 200
    assert (response.json()["lease_id"], response.json()["messages"]) == (None, [])


@pytest.mark.parametrize("voter", ["¹", "٣", "1¹"])
def test_a_voter_filter_of_non_ascii_digits_finds_nothing(staff_client, campaign, voter):
    VoterFactory(campaign=campaign)

    response = staff_client.get("/api/v1/contacts", {"voter": voter, "campaign": campaign.slug})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_an_api_path_that_matches_no_route_answers_json_404(staff_client):
    response = staff_client.get("/api/v1/programs/%C2%84/preview")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_page_that_does_not_exist_is_still_an_html_404(staff_client):
    response = staff_client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_too_many_form_fields_to_the_api_answer_json_400(staff_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    form = "&".join(f"addresses={n}" for n in range(10)) + "&channel=sms"

    response = staff_client.generic(
        "POST", CHECK, form, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


def test_a_nul_in_an_api_query_answers_json_400(staff_client):
    response = staff_client.get("/api/v1/voters?campaign=%00")

    assert response.status_code == 400
    assert response.json() == {"detail": "NUL characters are not allowed in a request"}
