"""Fixtures shared by every suite."""

from __future__ import annotations

import pytest

from tests.factories import CampaignFactory, MembershipFactory, UserFactory


@pytest.fixture
def campaign(db):
    return CampaignFactory(slug="home", name="Home campaign", state="NC")


@pytest.fixture
def other_campaign(db):
    return CampaignFactory(slug="rival", name="Rival campaign", state="NC")


@pytest.fixture
def staff_user(campaign):
    """A staff member of `campaign` only."""
    user = UserFactory(username="staffer", is_staff=True)
    MembershipFactory(user=user, campaign=campaign, role="staff")
    return user


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client
