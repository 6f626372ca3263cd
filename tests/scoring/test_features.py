"""Features as of a date: no future leaks, eligibility, fixed query count."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from scoring.features import (
    COLUMN,
    DESCRIBE,
    SPEC,
    FeatureSpec,
    FeatureSpecMismatch,
    build_context,
    build_features,
)
from tests.factories import (
    ContactAttemptFactory,
    ElectionFactory,
    HouseholdFactory,
    SurveyResponseFactory,
    VoteRecordFactory,
    VoterFactory,
)
from voters.models import Voter

AS_OF = dt.date(2024, 11, 5)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def county(campaign, other_campaign):
    elections = {
        "g2020": ElectionFactory(campaign=campaign, election_on=dt.date(2020, 11, 3)),
        "p2022": ElectionFactory(
            campaign=campaign, election_on=dt.date(2022, 5, 17), election_type="primary"
        ),
        "g2022": ElectionFactory(campaign=campaign, election_on=dt.date(2022, 11, 8)),
        # On the as-of date itself: the future, never read.
        "g2024": ElectionFactory(campaign=campaign, election_on=AS_OF),
    }
    home = HouseholdFactory(campaign=campaign)
    ann = VoterFactory(
        campaign=campaign, household=home, birth_date=dt.date(1980, 6, 1),
        registered_on=dt.date(2015, 1, 1), party="dem", precinct="P1",
    )  # fmt: skip
    bob = VoterFactory(
        campaign=campaign, household=home, birth_date=dt.date(2003, 1, 1),
        registered_on=dt.date(2021, 6, 1), party="rep", gender="male", precinct="P1",
    )  # fmt: skip
    late = VoterFactory(campaign=campaign, registered_on=dt.date(2025, 1, 1), precinct="P1")
    VoteRecordFactory(voter=ann, election=elections["g2020"], method="early")
    VoteRecordFactory(voter=ann, election=elections["g2022"], method="polls")
    VoteRecordFactory(voter=ann, election=elections["g2024"])
    VoteRecordFactory(voter=bob, election=elections["p2022"], voted=False)
    ContactAttemptFactory(voter=ann, occurred_at=utc(2024, 10, 1), result="contacted")
    ContactAttemptFactory(voter=ann, occurred_at=utc(2024, 11, 6), result="contacted")
    SurveyResponseFactory(voter=ann, support="2", answered_at=utc(2024, 9, 1))
    SurveyResponseFactory(voter=ann, support="5", answered_at=utc(2024, 12, 1))
    # Another campaign's voter in the same precinct name must not count anywhere.
    VoterFactory(campaign=other_campaign, precinct="P1", party="rep")
    return {"ann": ann, "bob": bob, "late": late}


def features_of(campaign) -> dict[int, dict[str, float]]:
    matrix = build_features(build_context(campaign_id=campaign.pk, as_of=AS_OF))
    return {int(pk): matrix.row(i) for i, pk in enumerate(matrix.voter_pks)}


@pytest.mark.django_db
def test_history_after_the_as_of_date_is_never_read(campaign, county):
    ann = features_of(campaign)[county["ann"].pk]
    assert ann["general_1"] == 1  # 2022
    assert ann["general_2"] == 1  # 2020
    assert np.isnan(ann["general_3"])  # no third general before 2024-11-05
    assert (ann["general_voted"], ann["general_eligible"]) == (2, 2)
    assert ann["early_or_mail_share"] == 0.5
    assert ann["years_since_last_vote"] == pytest.approx(
        (AS_OF - dt.date(2022, 11, 8)).days / 365.25
    )
    assert (ann["contact_attempts"], ann["contacts_reached"]) == (1, 1)
    assert ann["days_since_contact"] == 35
    assert ann["support_answer"] == 2
    assert ann["age"] == 44


@pytest.mark.django_db
def test_elections_before_registration_are_missing_not_skipped(campaign, county):
    bob = features_of(campaign)[county["bob"].pk]
    assert np.isnan(bob["general_2"])  # 2020: registered 2021
    assert bob["general_1"] == 0  # 2022: eligible, did not vote
    assert (bob["general_voted"], bob["general_eligible"]) == (0, 1)
    assert bob["primary_1"] == 0  # recorded as not voting
    assert np.isnan(bob["years_since_last_vote"])
    assert (bob["contact_attempts"], bob["support_answer"]) == (
        0,
        pytest.approx(np.nan, nan_ok=True),
    )


@pytest.mark.django_db
def test_voters_registered_after_the_date_are_left_out(campaign, county):
    assert sorted(features_of(campaign)) == sorted([county["ann"].pk, county["bob"].pk])


@pytest.mark.django_db
def test_household_and_precinct_features(campaign, county):
    rows = features_of(campaign)
    ann, bob = rows[county["ann"].pk], rows[county["bob"].pk]
    assert ann["household_size"] == bob["household_size"] == 2
    assert ann["household_others_general_rate"] == 0  # Bob voted in none of 2 generals
    assert bob["household_others_general_rate"] == 1  # Ann voted in both
    # Precinct P1 of this campaign: Ann, Bob, Late; one of three voted in the 2022 general.
    assert ann["precinct_turnout"] == pytest.approx(1 / 3)
    assert ann["precinct_dem_share"] == pytest.approx(2 / 3)  # Ann and Late


@pytest.mark.django_db
def test_registration_status_changes_no_feature(campaign, county):
    """List maintenance marks voters inactive or removed after they miss elections, so status
    can be caused by the very election a model learns from: no feature may read it."""
    before = features_of(campaign)
    Voter.objects.filter(pk=county["bob"].pk).update(status="removed")
    Voter.objects.filter(pk=county["ann"].pk).update(status="inactive")

    after = features_of(campaign)

    assert "is_active" not in SPEC.names
    assert sorted(after) == sorted(before)
    for pk, row in before.items():
        assert row == pytest.approx(after[pk], nan_ok=True), pk
    assert after[county["ann"].pk]["household_size"] == 2  # Bob, removed, still counted


@pytest.mark.django_db
def test_reasons_read_in_plain_words(campaign, county):
    ann = features_of(campaign)[county["ann"].pk]
    assert DESCRIBE["general_voted"](ann) == "voted in 2 of the last 2 general elections"
    assert DESCRIBE["age"](ann) == "age 44"
    assert DESCRIBE["general_3"](ann) == "not eligible in the 3rd-last general election"


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_number_of_voters(campaign, django_assert_num_queries):
    ElectionFactory(campaign=campaign, election_on=dt.date(2022, 11, 8))
    context = build_context(campaign_id=campaign.pk, as_of=AS_OF)
    few = VoterFactory.create_batch(
        2, campaign=campaign, household=HouseholdFactory(campaign=campaign)
    )
    with django_assert_num_queries(4):
        assert len(build_features(context, pk_range=(few[0].pk, few[-1].pk)).voter_pks) == 2
    many = VoterFactory.create_batch(
        20, campaign=campaign, household=HouseholdFactory(campaign=campaign)
    )
    with django_assert_num_queries(4):
        assert len(build_features(context, pk_range=(many[0].pk, many[-1].pk)).voter_pks) == 20


def test_a_matrix_of_another_spec_is_refused():
    SPEC.check(FeatureSpec.from_dict(SPEC.as_dict()))
    renamed = FeatureSpec(version=SPEC.version, names=(*SPEC.names[:-1], "shoe_size"))
    with pytest.raises(FeatureSpecMismatch, match="missing \\['support_answer'\\]"):
        SPEC.check(renamed)
    reordered = FeatureSpec(version=SPEC.version, names=tuple(reversed(SPEC.names)))
    with pytest.raises(FeatureSpecMismatch, match="another order"):
        SPEC.check(reordered)
    assert COLUMN["age"] == 0
