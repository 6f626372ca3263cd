"""Count columns later apps add to campaign's pages (`campaign.admin.register_count_column`):
voters counts its voters and votes there, so campaign never imports voters."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaign.admin import count_columns, register_count_column, unregister_count_column
from campaign.models import Campaign, Election
from tests.factories import HouseholdFactory, VoterFactory
from voters.models import Household, Voter, VoteRecord

pytestmark = pytest.mark.django_db


def column_names(response) -> list[str]:
    return [getattr(c, "__name__", c) for c in response.context["cl"].list_display]


def test_voters_registers_the_voters_and_votes_cast_columns():
    (voters,) = count_columns(Campaign)
    (votes,) = count_columns(Election)

    assert (voters.display.__name__, voters.counted, voters.through) == (
        "voter_count", Voter, "campaign",
    )  # fmt: skip
    assert (votes.display.__name__, votes.counted, votes.filters) == (
        "votes_cast", VoteRecord, {"voted": True},
    )  # fmt: skip


def test_campaign_and_election_lists_keep_their_columns_in_order(staff_client, campaign):
    campaigns = staff_client.get(reverse("admin:campaign_campaign_changelist"))
    elections = staff_client.get(reverse("admin:campaign_election_changelist"))

    assert column_names(campaigns) == [
        "name", "slug", "state", "time_zone", "voter_count", "election_count",
    ]  # fmt: skip
    assert column_names(elections) == [
        "action_checkbox", "election_on", "election_type", "label", "campaign", "votes_cast",
    ]  # fmt: skip


@pytest.fixture
def household_column():
    yield register_count_column(
        Campaign, name="household_count", description="households", annotation="household_total",
        counted=Household, through="campaign", before="slug",
    )  # fmt: skip
    unregister_count_column(Campaign, "household_count")


def test_a_registered_column_counts_each_rows_own_rows(
    staff_client, campaign, other_campaign, household_column
):
    HouseholdFactory.create_batch(3, campaign=campaign)
    HouseholdFactory(campaign=other_campaign)
    VoterFactory(campaign=campaign)

    response = staff_client.get(reverse("admin:campaign_campaign_changelist"))
    html = response.text

    assert column_names(response)[:3] == ["name", "household_count", "slug"]
    assert [c.household_total for c in response.context["cl"].result_list] == [3]
    assert '<th scope="col" class="column-household_count">' in html
    assert '<td class="field-household_count">3</td>' in html
