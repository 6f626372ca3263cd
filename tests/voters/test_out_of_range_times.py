"""Dates and times outside the years 1900..2100: refused by the API and the importers, and shown
(never a 500) where such a row was stored before the rule existed (history is append-only)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.urls import reverse

from campaign.lib.timestamps import is_plausible, shown
from tests.factories import ContactAttemptFactory, VoterFactory
from tests.voters.test_contact_imports import CONTACT_HEADER, CONTACTS, table_counts, write
from tests.voters.test_contact_imports import voters as voters  # a fixture, used by name
from voters.models import ConsentEvent, ContactAttempt, Election, RejectedRow, VoteRecord
from voters.services import import_contact_history, import_vote_history

pytestmark = pytest.mark.django_db

YEAR_ONE = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
YEAR_9999 = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(1900, 1, 1, tzinfo=dt.UTC), True),
        (dt.datetime(2100, 12, 31, 23, 59, tzinfo=dt.UTC), True),
        (dt.datetime(1899, 12, 31, 23, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2101, 1, 1, tzinfo=dt.UTC), False),
        (dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))), False),
        (dt.date(9999, 12, 31), False),
        (dt.date(2024, 11, 5), True),
    ],
)
def test_the_plausible_years_are_1900_to_2100(value, expected):
    assert is_plausible(value) is expected


def test_a_stored_time_that_cannot_be_localized_is_shown_as_stored():
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert shown(YEAR_ONE, new_york) == "0001-01-01 00:00+00:00 (out of range, as stored)"
    assert shown(dt.datetime(2024, 10, 5, 15, tzinfo=dt.UTC), new_york) == (
        "2024-10-05 10:00 UTC-05:00"
    )
    eastern = ZoneInfo("America/New_York")  # a named zone says its abbreviation, DST included
    assert shown(dt.datetime(2024, 10, 5, 15, tzinfo=dt.UTC), eastern) == "2024-10-05 11:00 EDT"
    assert shown(dt.datetime(2024, 12, 5, 15, tzinfo=dt.UTC), eastern) == "2024-12-05 10:00 EST"


# -- the API -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "occurred_at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00"]
)
def test_the_api_refuses_a_contact_far_outside_reason(
    api_client, campaign, make_member, occurred_at
):
    api_client.force_authenticate(make_member(campaign, "staff"))
    voter = VoterFactory(campaign=campaign)
    payload = {"voter": voter.pk, "channel": "door", "result": "contacted"}

    response = api_client.post(
        "/api/v1/contacts", {**payload, "occurred_at": occurred_at}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"occurred_at": ["outside the years 1900..2100"]}
    assert ContactAttempt.objects.count() == 0


def test_a_vendor_opt_out_dated_year_one_is_refused(vendor_post, campaign):
    event = {
        "event_id": "ev-1",
        "channel": "sms",
        "address": "+19195550101",
        "source": "stop_reply",
        "occurred_at": "0001-01-01T00:00:00Z",
    }

    response = vendor_post("/api/v1/consent/opt-outs", {"events": [event]})

    assert response.status_code == 400
    assert response.json() == {"events": {"0": {"occurred_at": ["outside the years 1900..2100"]}}}
    assert ConsentEvent.objects.count() == 0


# -- the importers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("0001-01-01", "date or time '0001-01-01' is outside the years 1900..2100"),
        ("9999-12-31 23:59", "date or time '9999-12-31 23:59' is outside the years 1900..2100"),
        ("12/31/1899", "date or time '12/31/1899' is outside the years 1900..2100"),
    ],
)
def test_a_contact_row_dated_outside_reason_is_quarantined(
    campaign, voters, tmp_path, when, reason
):
    line = f"A2,{when},door,contacted,,,,,,"
    path = write(tmp_path, "bad.csv", CONTACT_HEADER, [CONTACTS[0], line])

    run = import_contact_history(campaign=campaign, paths=[path], mode="quarantine")

    assert (run.status, run.created, run.rejected) == ("succeeded", 1, 1)
    assert list(
        RejectedRow.objects.filter(import_run=run).values_list("line_number", "raw", "errors")
    ) == [(3, line, [{"field": "occurred_at", "reason": reason}])]
    assert table_counts(campaign)["contacts"] == 1
    assert not ContactAttempt.objects.filter(occurred_at__year__lt=1900).exists()


def test_a_history_row_of_year_9999_is_quarantined(campaign, voters, tmp_path):
    path = write(
        tmp_path,
        "history.csv",
        "voter_id,election_date,election_type,method,party,voted",
        ["A1,2024-11-05,general,polls,,yes", "A2,9999-11-05,general,polls,,yes"],
    )

    run = import_vote_history(campaign=campaign, paths=[path], mode="quarantine")

    assert (run.created, run.rejected) == (1, 1)
    assert RejectedRow.objects.get(import_run=run).errors == [
        {"field": "election_on", "reason": "date '9999-11-05' is outside the years 1900..2100"}
    ]
    assert list(Election.objects.values_list("election_on", flat=True)) == [dt.date(2024, 11, 5)]
    assert VoteRecord.objects.count() == 1


# -- pages showing rows stored before the rule ---------------------------------------------------


def _stored_without_validation(campaign, voter) -> None:
    """What one signed request could write before the rule: a year-1 opt-out of the voter's
    phone and a year-9999 contact (inserted directly, as history rows cannot be edited)."""
    ConsentEvent.objects.create(
        campaign=campaign,
        voter=voter,
        channel="sms",
        address=voter.phone,
        kind="opt_out",
        source="stop_reply",
        occurred_at=YEAR_ONE,
        actor="vendor",
    )
    ContactAttemptFactory(campaign=campaign, voter=voter, occurred_at=YEAR_9999)


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Kiritimati"])
def test_the_voter_page_shows_a_stored_year_one_opt_out_instead_of_failing(
    client, campaign, make_member, zone
):
    campaign.time_zone = zone
    campaign.save(update_fields=["time_zone"])
    voter = VoterFactory(campaign=campaign, phone="+19195550101")
    _stored_without_validation(campaign, voter)
    client.force_login(make_member(campaign, "staff"))

    response = client.get(reverse("admin:voters_voter_change", args=[voter.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "0001-01-01 00:00+00:00 (out of range, as stored)" in page
    assert "9999-12-31 23:00+00:00 (out of range, as stored)" in page or zone == "America/New_York"
    assert ConsentEvent.objects.count() == 1
    assert ContactAttempt.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's timestamptz")
@pytest.mark.parametrize(
    "url", ["admin:voters_contactattempt_changelist", "admin:voters_consentevent_changelist"]
)
def test_history_lists_show_stored_out_of_range_times(client, campaign, make_member, url):
    voter = VoterFactory(campaign=campaign, phone="+19195550101")
    _stored_without_validation(campaign, voter)
    client.force_login(make_member(campaign, "staff"))

    response = client.get(reverse(url))

    assert response.status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's timestamptz")
def test_a_stored_year_one_opt_out_has_a_page_on_a_clock_west_of_utc(client, campaign, make_member):
    voter = VoterFactory(campaign=campaign, phone="+19195550101")
    _stored_without_validation(campaign, voter)
    event = ConsentEvent.objects.get()
    client.force_login(make_member(campaign, "staff"))  # signs in on New York's clock

    response = client.get(reverse("admin:voters_consentevent_change", args=[event.pk]))

    assert response.status_code == 200
    assert "0001-01-01 00:00+00:00 (out of range, as stored)" in response.content.decode()
