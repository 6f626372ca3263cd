"""Voters' read queries used by the admin, called directly (`voters.selectors`)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import (
    ElectionFactory,
    HouseholdFactory,
    ImportRunFactory,
    VoteRecordFactory,
    VoterFactory,
)
from voters.models import Household, RejectedRow, Voter, VoteRecord
from voters.selectors import (
    household_members,
    households_at,
    of_voter_id,
    precincts,
    rejected_rows,
    vote_history,
    voted_in,
)

pytestmark = pytest.mark.django_db


def test_household_members_are_by_name_and_one_more_than_the_limit(campaign, other_campaign):
    home = HouseholdFactory(campaign=campaign)
    ann = VoterFactory(campaign=campaign, household=home, last_name="Avery", first_name="Ann")
    VoterFactory(campaign=campaign, household=home, last_name="Cole", first_name="Cy")
    VoterFactory(campaign=campaign, household=home, last_name="Avery", first_name="Bo")
    VoterFactory(campaign=campaign, household=home, last_name="Diaz", first_name="Di")

    members = household_members(campaign.pk, home.pk, exclude_pk=ann.pk, limit=2)

    assert [(v.last_name, v.first_name) for v in members] == [
        ("Avery", "Bo"), ("Cole", "Cy"), ("Diaz", "Di"),
    ]  # fmt: skip
    assert household_members(other_campaign.pk, home.pk, exclude_pk=None, limit=5) == []


def test_precincts_are_distinct_sorted_and_capped(campaign):
    for precinct in ("P2", "P1", "P2", "", "P3"):
        VoterFactory(campaign=campaign, precinct=precinct)

    assert precincts(Voter.objects.all(), limit=2) == ["P1", "P2"]


def test_voted_in_is_about_that_election_and_a_vote_cast(campaign):
    general, primary = ElectionFactory(campaign=campaign), ElectionFactory(campaign=campaign)
    voted, stayed_home, other = VoterFactory.create_batch(3, campaign=campaign)
    VoteRecordFactory(voter=voted, election=general, voted=True)
    VoteRecordFactory(voter=stayed_home, election=general, voted=False)
    VoteRecordFactory(voter=other, election=primary, voted=True)

    assert list(Voter.objects.filter(voted_in(general.pk))) == [voted]
    assert set(Voter.objects.exclude(voted_in(general.pk))) == {stayed_home, other}


def test_vote_history_is_newest_election_first(campaign):
    voter = VoterFactory(campaign=campaign)
    for year in (2016, 2024, 2020):
        election = ElectionFactory(campaign=campaign, election_on=dt.date(year, 11, 3))
        VoteRecordFactory(voter=voter, election=election)

    assert [r.election.election_on.year for r in vote_history(voter)] == [2024, 2020, 2016]


def test_searches_by_address_prefix_and_exact_voter_id(campaign):
    HouseholdFactory(campaign=campaign, address="123 MAIN ST")
    HouseholdFactory(campaign=campaign, address="1234 MAIN ST")
    HouseholdFactory(campaign=campaign, address="9 ELM ST")
    voter = VoterFactory(campaign=campaign, voter_id="NC0042")
    VoteRecordFactory(voter=voter)
    VoteRecordFactory(voter=VoterFactory(campaign=campaign, voter_id="NC00421"))

    found = households_at(Household.objects.all(), "  123  main ")
    assert list(found.values_list("address", flat=True)) == ["123 MAIN ST"]
    assert [r.voter_id for r in of_voter_id(VoteRecord.objects.all(), "nc0042")] == [voter.pk]


def test_rejected_rows_in_file_and_line_order_one_past_the_limit(campaign):
    run = ImportRunFactory(campaign=campaign)
    for name, line in (("b.csv", 2), ("a.csv", 9), ("a.csv", 3)):
        RejectedRow.objects.create(
            import_run=run, file_name=name, line_number=line, raw="x", errors=[]
        )

    rows = rejected_rows(run, limit=1)

    assert [(r.file_name, r.line_number) for r in rows] == [("a.csv", 3), ("a.csv", 9)]
