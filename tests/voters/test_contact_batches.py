"""voters.contacts.record_contacts: many contact attempts at once, kept once by natural key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from tests.factories import ProgramArmFactory, ProgramFactory, VoterFactory
from voters.contacts import NewContact, record_contact, record_contacts
from voters.models import ConsentEvent, ContactAttempt

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)


def contact(voter, **overrides) -> NewContact:
    fields = {
        "campaign_id": voter.campaign_id, "voter_id": voter.pk, "channel": "sms",
        "result": "delivered", "occurred_at": AT, "source": "vendor_api",
    }  # fmt: skip
    return NewContact(**{**fields, **overrides})


def test_a_batch_is_recorded_once_and_matches_a_contact_recorded_alone(campaign):
    voters = VoterFactory.create_batch(3, campaign=campaign)
    program = ProgramFactory(campaign=campaign)
    arm = ProgramArmFactory(program=program)
    record_contact(
        voter=voters[0], channel="sms", result="delivered", occurred_at=AT, source="vendor_api",
        program=program, arm=arm, variant="text",
    )  # fmt: skip
    batch = [
        contact(v, program_id=program.pk, arm_id=arm.pk, variant="text", note="SMS 1")
        for v in voters
    ]

    record_contacts(contacts=batch)
    record_contacts(contacts=batch)

    rows = ContactAttempt.objects.order_by("voter_id")
    assert list(rows.values_list("voter_id", "result", "program_id", "arm_id", "variant")) == [
        (v.pk, "delivered", program.pk, arm.pk, "text") for v in voters
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"result": "opted_out"},  # needs its ledger event: record_contact
        {"result": "not_home"},  # not a text's result
        {"source": "carrier pigeon"},
        {"occurred_at": dt.datetime(2026, 12, 7, 15, 0)},  # naive
    ],
)
def test_a_batch_with_a_bad_contact_records_nothing(campaign, overrides):
    voter = VoterFactory(campaign=campaign)

    with pytest.raises(ValidationError):
        record_contacts(contacts=[contact(voter), contact(voter, **overrides)])

    assert ContactAttempt.objects.count() == 0
    assert ConsentEvent.objects.count() == 0
