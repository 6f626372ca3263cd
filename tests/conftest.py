"""Fixtures shared by every suite."""

from __future__ import annotations

import pytest

from tests.factories import CampaignFactory, MembershipFactory, UserFactory
from tests.workers import broker_delivery  # noqa: F401  (a fixture: tasks through Redis to a worker)


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
    """vendor_post(path, payload, full_key=…, secret=…, timestamp=…, nonce=…): a signed vendor
    request (a new nonce each time unless one is given)."""
    import json

    from campaign.api.authentication import signed_headers

    def post(path: str, payload: dict, *, full_key=None, secret=None, timestamp=None, nonce=None):
        _, default_key, default_secret = vendor_key
        body = json.dumps(payload).encode()
        headers = signed_headers(
            full_key or default_key, secret or default_secret, method="POST", path=path,
            body=body, timestamp=timestamp, nonce=nonce,
        )  # fmt: skip
        return client.generic("POST", path, body, content_type="application/json", headers=headers)

    return post
