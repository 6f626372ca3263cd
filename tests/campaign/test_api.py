"""The /api/v1/ endpoints: voters, contact history, consent; token and session auth; schema."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from campaign.models import AuditEvent
from tests.factories import ContactAttemptFactory, UserFactory, VoterFactory
from voters.models import ConsentEvent, ContactAttempt

pytestmark = pytest.mark.django_db

VOTERS = "/api/v1/voters"
CONTACTS = "/api/v1/contacts"
CHECK = "/api/v1/consent/check"
OPT_OUTS = "/api/v1/consent/opt-outs"
AT = "2024-10-05T15:00:00Z"


def signed_in(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# -- authentication ----------------------------------------------------------------------------


def test_anonymous_request_is_401(api_client):
    response = api_client.get(VOTERS)

    assert response.status_code == 401


def test_token_authenticates_a_user(api_client, campaign, make_member):
    voter = VoterFactory(campaign=campaign)
    token = Token.objects.create(user=make_member(campaign, "staff"))

    response = api_client.get(VOTERS, HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    assert ids(response) == [voter.pk]


def test_session_authenticates_a_user(client, campaign, make_member):
    voter = VoterFactory(campaign=campaign)
    client.force_login(make_member(campaign, "staff"))

    response = client.get(VOTERS)

    assert response.status_code == 200
    assert ids(response) == [voter.pk]


# -- voters ------------------------------------------------------------------------------------


def test_voter_list_shows_only_own_campaign(api_client, campaign, other_campaign, make_member):
    own = VoterFactory.create_batch(2, campaign=campaign)
    VoterFactory(campaign=other_campaign)

    response = signed_in(api_client, make_member(campaign, "staff")).get(VOTERS)

    assert response.status_code == 200
    assert ids(response) == [v.pk for v in own]
    assert response.json()["results"][0]["campaign"] == "home"
    assert response.json()["results"][0]["phone"] == own[0].phone


def test_viewer_gets_voters_without_phone_or_email(api_client, campaign, make_member):
    VoterFactory(campaign=campaign)

    row = signed_in(api_client, make_member(campaign, "viewer")).get(VOTERS).json()["results"][0]

    assert "phone" not in row
    assert "email" not in row
    assert row["last_name"]


def test_roles_differ_per_campaign_for_one_user(api_client, campaign, other_campaign):
    user = UserFactory(username="two-hats")
    from tests.factories import MembershipFactory

    MembershipFactory(user=user, campaign=campaign, role="viewer")
    MembershipFactory(user=user, campaign=other_campaign, role="staff")
    VoterFactory(campaign=campaign)
    VoterFactory(campaign=other_campaign)

    rows = signed_in(api_client, user).get(VOTERS).json()["results"]

    assert [("phone" in r, r["campaign"]) for r in rows] == [(False, "home"), (True, "rival")]


def test_organizer_gets_no_voters_yet(api_client, campaign, make_member):
    voter = VoterFactory(campaign=campaign)
    api = signed_in(api_client, make_member(campaign, "organizer"))

    assert api.get(VOTERS).json()["results"] == []
    assert api.get(f"{VOTERS}/{voter.pk}").status_code == 404


def test_foreign_voter_detail_is_404(api_client, campaign, other_campaign, make_member):
    theirs = VoterFactory(campaign=other_campaign)
    ours = VoterFactory(campaign=campaign)
    api = signed_in(api_client, make_member(campaign, "admin"))

    assert api.get(f"{VOTERS}/{theirs.pk}").status_code == 404
    assert api.get(f"{VOTERS}/{ours.pk}").json()["voter_id"] == ours.voter_id


def test_campaign_filter_by_slug(api_client, campaign, other_campaign):
    from tests.factories import MembershipFactory

    user = UserFactory(username="both")
    MembershipFactory(user=user, campaign=campaign, role="staff")
    MembershipFactory(user=user, campaign=other_campaign, role="staff")
    VoterFactory(campaign=campaign)
    theirs = VoterFactory(campaign=other_campaign)
    api = signed_in(api_client, user)

    assert ids(api.get(VOTERS, {"campaign": "rival"})) == [theirs.pk]
    assert ids(api.get(VOTERS, {"campaign": "no-such-campaign"})) == []


def test_foreign_campaign_filter_is_empty(api_client, campaign, other_campaign, make_member):
    VoterFactory(campaign=other_campaign)

    response = signed_in(api_client, make_member(campaign, "staff")).get(
        VOTERS, {"campaign": "rival"}
    )

    assert response.json()["results"] == []


def test_voter_list_pages_by_cursor(api_client, campaign, make_member):
    voters = VoterFactory.create_batch(5, campaign=campaign)
    api = signed_in(api_client, make_member(campaign, "staff"))

    first = api.get(VOTERS, {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [r["id"] for r in first["results"]] == [v.pk for v in voters[:2]]
    assert [r["id"] for r in second["results"]] == [v.pk for v in voters[2:4]]
    assert "cursor=" in first["next"]


def test_voter_list_query_count_does_not_grow_with_rows(
    api_client, campaign, make_member, django_assert_num_queries
):
    api = signed_in(api_client, make_member(campaign, "staff"))
    VoterFactory.create_batch(2, campaign=campaign)

    with django_assert_num_queries(3):  # memberships, voters with their campaign, the audit row
        api.get(VOTERS)
    VoterFactory.create_batch(10, campaign=campaign)
    with django_assert_num_queries(3):
        api.get(VOTERS)


# -- contact history ---------------------------------------------------------------------------


def test_contact_list_newest_first_and_by_voter(api_client, campaign, other_campaign, make_member):
    voter = VoterFactory(campaign=campaign)
    older = ContactAttemptFactory(voter=voter)
    newer = ContactAttemptFactory(voter=voter)
    ContactAttemptFactory(voter=VoterFactory(campaign=campaign))
    ContactAttemptFactory(voter=VoterFactory(campaign=other_campaign))
    api = signed_in(api_client, make_member(campaign, "viewer"))

    response = api.get(CONTACTS, {"voter": voter.pk})

    assert ids(response) == [newer.pk, older.pk]
    assert len(ids(api.get(CONTACTS))) == 3


def test_contact_list_query_count_does_not_grow_with_rows(
    api_client, campaign, make_member, django_assert_num_queries
):
    api = signed_in(api_client, make_member(campaign, "staff"))
    ContactAttemptFactory(voter=VoterFactory(campaign=campaign))

    with django_assert_num_queries(2):
        api.get(CONTACTS)
    ContactAttemptFactory.create_batch(5, voter=VoterFactory(campaign=campaign))
    with django_assert_num_queries(2):
        api.get(CONTACTS)


def test_staff_records_a_contact(api_client, campaign, make_member):
    voter = VoterFactory(campaign=campaign)
    user = make_member(campaign, "staff")

    response = signed_in(api_client, user).post(
        CONTACTS,
        {"voter": voter.pk, "channel": "door", "result": "not_home", "occurred_at": AT},
        format="json",
    )

    assert response.status_code == 201
    attempt = ContactAttempt.objects.get()
    assert response.json()["id"] == attempt.pk
    assert (attempt.voter, attempt.source, attempt.user, attempt.result) == (
        voter,
        "staff",
        user,
        "not_home",
    )
    assert attempt.occurred_at == dt.datetime(2024, 10, 5, 15, tzinfo=dt.UTC)


def test_recording_the_same_contact_twice_keeps_one(api_client, campaign, make_member):
    voter = VoterFactory(campaign=campaign)
    api = signed_in(api_client, make_member(campaign, "staff"))
    payload = {"voter": voter.pk, "channel": "phone", "result": "contacted", "occurred_at": AT}

    first = api.post(CONTACTS, payload, format="json")
    second = api.post(CONTACTS, payload, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert ContactAttempt.objects.count() == 1


def test_opted_out_contact_result_goes_to_the_consent_ledger(api_client, campaign, make_member):
    voter = VoterFactory(campaign=campaign, phone="+19195550188")
    user = make_member(campaign, "staff")
    payload = {"voter": voter.pk, "channel": "sms", "result": "opted_out", "occurred_at": AT}

    signed_in(api_client, user).post(CONTACTS, payload, format="json")
    signed_in(api_client, user).post(CONTACTS, payload, format="json")

    event = ConsentEvent.objects.get()
    assert (event.channel, event.address, event.kind, event.source, event.voter, event.user) == (
        "sms",
        "+19195550188",
        "opt_out",
        "staff",
        voter,
        user,
    )
    assert AuditEvent.objects.filter(action="consent_change").count() == 1


def test_result_must_fit_the_channel(api_client, campaign, make_member):
    voter = VoterFactory(campaign=campaign)

    response = signed_in(api_client, make_member(campaign, "staff")).post(
        CONTACTS,
        {"voter": voter.pk, "channel": "mail", "result": "not_home", "occurred_at": AT},
        format="json",
    )

    assert response.status_code == 400
    assert "result" in response.json()
    assert ContactAttempt.objects.count() == 0


def test_viewer_cannot_record_contacts(api_client, campaign, make_member):
    voter = VoterFactory(campaign=campaign)

    response = signed_in(api_client, make_member(campaign, "viewer")).post(
        CONTACTS,
        {"voter": voter.pk, "channel": "door", "result": "contacted", "occurred_at": AT},
        format="json",
    )

    assert response.status_code == 403
    assert ContactAttempt.objects.count() == 0


def test_contact_for_a_foreign_voter_is_404(api_client, campaign, other_campaign, make_member):
    theirs = VoterFactory(campaign=other_campaign)

    response = signed_in(api_client, make_member(campaign, "admin")).post(
        CONTACTS,
        {"voter": theirs.pk, "channel": "door", "result": "contacted", "occurred_at": AT},
        format="json",
    )

    assert response.status_code == 404
    assert ContactAttempt.objects.count() == 0


# -- consent -----------------------------------------------------------------------------------


def test_staff_consent_check_returns_the_opted_out_addresses(api_client, campaign, make_member):
    from voters.consent import record_opt_out

    record_opt_out(campaign=campaign, channel="sms", address="+19195550101", source="stop_reply")
    api = signed_in(api_client, make_member(campaign, "staff"))

    response = api.post(
        CHECK,
        {
            "campaign": "home",
            "channel": "sms",
            "addresses": ["(919) 555-0101", "+19195550102"],
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {"channel": "sms", "opted_out": ["(919) 555-0101"]}


def test_consent_check_is_one_ledger_query_for_a_thousand_addresses(
    api_client, campaign, make_member, django_assert_num_queries
):
    api = signed_in(api_client, make_member(campaign, "staff"))
    addresses = [f"voter{n}@example.org" for n in range(1000)]

    # memberships, the campaign, the ledger
    with django_assert_num_queries(3):
        response = api.post(
            CHECK, {"campaign": "home", "channel": "email", "addresses": addresses}, format="json"
        )

    assert response.status_code == 200


def test_consent_check_refuses_more_than_a_thousand_addresses(api_client, campaign, make_member):
    api = signed_in(api_client, make_member(campaign, "staff"))
    addresses = [f"voter{n}@example.org" for n in range(1001)]

    response = api.post(
        CHECK, {"campaign": "home", "channel": "email", "addresses": addresses}, format="json"
    )

    assert response.status_code == 400


def test_consent_check_refuses_an_unreadable_phone(api_client, campaign, make_member):
    api = signed_in(api_client, make_member(campaign, "staff"))

    response = api.post(
        CHECK,
        {"campaign": "home", "channel": "sms", "addresses": ["+19195550101", "call me"]},
        format="json",
    )

    assert response.status_code == 400
    assert "call me" not in response.content.decode()


def test_vendor_opt_outs_are_recorded_once_per_event_id(vendor_post, campaign, vendor_key):
    payload = {
        "events": [
            {
                "event_id": "evt-1",
                "channel": "sms",
                "address": "+19195550111",
                "source": "stop_reply",
                "occurred_at": AT,
            },
            {
                "event_id": "evt-2",
                "channel": "sms",
                "address": "+19195550112",
                "source": "vendor_block",
                "occurred_at": AT,
            },
        ]
    }

    first = vendor_post(OPT_OUTS, payload)
    retry = vendor_post(OPT_OUTS, payload)
    check = vendor_post(CHECK, {"channel": "sms", "addresses": ["+19195550111", "+19195550113"]})

    assert first.json() == {"received": 2, "recorded": 2, "unreadable": []}
    assert retry.json() == {"received": 2, "recorded": 0, "unreadable": []}
    events = ConsentEvent.objects.order_by("address")
    assert [(e.address, e.source, e.kind, e.campaign_id) for e in events] == [
        ("+19195550111", "stop_reply", "opt_out", campaign.pk),
        ("+19195550112", "vendor_block", "opt_out", campaign.pk),
    ]
    assert events[0].actor == str(vendor_key[0])
    assert check.json()["opted_out"] == ["+19195550111"]


def test_an_unreadable_number_never_costs_the_rest_of_the_batch(vendor_post, campaign):
    event = {"channel": "sms", "source": "stop_reply", "occurred_at": AT}
    payload = {
        "events": [
            {**event, "event_id": "evt-1", "address": "+19195550111"},
            {**event, "event_id": "evt-2", "address": "12345"},
        ]
    }

    response = vendor_post(OPT_OUTS, payload)

    assert response.json() == {"received": 2, "recorded": 2, "unreadable": [1]}
    ledger = ConsentEvent.objects.filter(campaign=campaign).order_by("address")
    assert list(ledger.values_list("address", "kind")) == [
        ("+19195550111", "opt_out"),
        ("12345", "opt_out"),  # kept as sent: an opt-out is never dropped
    ]


def test_vendor_cannot_report_an_opt_in(vendor_post):
    response = vendor_post(
        OPT_OUTS,
        {
            "events": [
                {
                    "event_id": "evt-1",
                    "channel": "sms",
                    "address": "+19195550111",
                    "source": "start_reply",
                    "occurred_at": AT,
                }
            ]
        },
    )

    assert response.status_code == 400
    assert ConsentEvent.objects.count() == 0


def test_users_cannot_post_vendor_opt_outs(api_client, campaign, make_member):
    response = signed_in(api_client, make_member(campaign, "admin")).post(
        OPT_OUTS, {"events": []}, format="json"
    )

    assert response.status_code == 403


# -- schema ------------------------------------------------------------------------------------


def test_openapi_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = out.read_text()
    for path in ("/api/v1/voters:", "/api/v1/contacts:", "/api/v1/consent/check:"):
        assert path in schema


def test_schema_and_docs_pages_are_served(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/consent/opt-outs" in schema.content
    assert docs.status_code == 200


def test_reading_voters_through_the_api_is_an_audited_download(api_client, campaign, make_member):
    user = make_member(campaign, "staff")
    voters = VoterFactory.create_batch(3, campaign=campaign)
    api = signed_in(api_client, user)

    api.get(VOTERS, REMOTE_ADDR="10.1.2.3")
    api.get(f"{VOTERS}/{voters[0].pk}")

    events = list(
        AuditEvent.objects.filter(action="download")
        .order_by("id")
        .values_list("campaign_id", "user_id", "object_type", "row_count", "client_ip")
    )
    assert events == [
        (campaign.pk, user.pk, "voters.voter", 3, "10.1.2.3"),
        (campaign.pk, user.pk, "voters.voter", 1, "127.0.0.1"),
    ]


def test_a_contact_dated_in_the_future_is_refused(api_client, campaign, make_member):
    api = signed_in(api_client, make_member(campaign, "staff"))
    voter = VoterFactory(campaign=campaign)

    response = api.post(
        CONTACTS,
        {
            "voter": voter.pk,
            "channel": "sms",
            "result": "opted_out",
            "occurred_at": "2099-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "occurred_at" in response.json()
    assert ContactAttempt.objects.count() == 0
    assert ConsentEvent.objects.count() == 0
