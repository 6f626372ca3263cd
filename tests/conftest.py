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


@pytest.fixture
def make_member(db):
    """make_member(campaign, role, username=None): an is_staff user holding `role` there."""

    def make(campaign, role: str, username: str | None = None):
        user = UserFactory(username=username or f"{role}-of-{campaign.slug}", is_staff=True)
        MembershipFactory(user=user, campaign=campaign, role=role)
        return user

    return make


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def vendor_key(campaign):
    """(key, full key, signing secret) of a vendor key for `campaign`."""
    from campaign.services import create_vendor_key, vendor_signing_secret

    key, full_key = create_vendor_key(campaign=campaign, name="Acme SMS", user=None)
    return key, full_key, vendor_signing_secret(key)


@pytest.fixture
def vendor_post(client, vendor_key):
    """vendor_post(path, payload, full_key=…, secret=…, timestamp=…): a signed vendor request."""
    import json
    import time

    from campaign.api.authentication import sign

    def post(path: str, payload: dict, *, full_key=None, secret=None, timestamp=None):
        _, default_key, default_secret = vendor_key
        body = json.dumps(payload).encode()
        at = int(time.time()) if timestamp is None else timestamp
        return client.generic(
            "POST",
            path,
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {full_key or default_key}",
            HTTP_X_TIMESTAMP=str(at),
            HTTP_X_SIGNATURE=sign(secret or default_secret, at, body),
        )

    return post
