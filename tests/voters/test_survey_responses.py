"""Recording one survey answer (voters.contacts.record_survey_response): the write the organizer's
phone uses, with the importers' natural key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from tests.factories import ContactAttemptFactory, VoterFactory
from voters.contacts import record_survey_response
from voters.defaults import ensure_support_question
from voters.models import SurveyResponse

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 10, 3, 15, 30, tzinfo=dt.UTC)


def test_an_answer_is_recorded_once_with_its_contact(campaign):
    question = ensure_support_question(campaign)
    voter = VoterFactory(campaign=campaign)
    attempt = ContactAttemptFactory(voter=voter)

    first, created = record_survey_response(
        voter=voter, question=question, code="2", answered_at=AT, source="organizer",
        contact_attempt=attempt,
    )  # fmt: skip
    again, created_again = record_survey_response(
        voter=voter, question=question, code="2", answered_at=AT, source="organizer"
    )

    assert (created, created_again, again.pk) == (True, False, first.pk)
    row = SurveyResponse.objects.get()
    assert (row.campaign_id, row.voter_id, row.option.code, row.contact_attempt_id, row.source) == (
        campaign.pk,
        voter.pk,
        "2",
        attempt.pk,
        "organizer",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "9"}, "code"),
        ({"answered_at": AT.replace(tzinfo=None)}, "answered_at"),
        ({"source": "pigeon"}, "source"),
    ],
)
def test_a_bad_answer_is_refused_and_nothing_is_written(campaign, change, field):
    question = ensure_support_question(campaign)
    voter = VoterFactory(campaign=campaign)
    arguments = {"voter": voter, "question": question, "code": "1", "answered_at": AT, **change}

    with pytest.raises(ValidationError) as error:
        record_survey_response(**arguments)

    assert list(error.value.message_dict) == [field]
    assert SurveyResponse.objects.count() == 0


def test_another_campaigns_question_or_anothers_contact_is_refused(campaign, other_campaign):
    voter = VoterFactory(campaign=campaign)
    theirs = ensure_support_question(other_campaign)
    ours = ensure_support_question(campaign)
    someone_else = ContactAttemptFactory(voter=VoterFactory(campaign=campaign))

    with pytest.raises(ValidationError, match="belongs to another campaign"):
        record_survey_response(voter=voter, question=theirs, code="1", answered_at=AT)
    with pytest.raises(ValidationError, match="is another voter's"):
        record_survey_response(
            voter=voter, question=ours, code="1", answered_at=AT, contact_attempt=someone_else
        )
    assert SurveyResponse.objects.count() == 0
