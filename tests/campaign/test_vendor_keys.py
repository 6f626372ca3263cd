"""Vendor API keys: shown once, stored hashed, signed requests, revocation, one campaign."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from campaign.api.authentication import signed_headers
from campaign.models import AuditEvent, VendorApiKey
from campaign.services import create_vendor_key, revoke_vendor_key, vendor_signing_secret
from tests.factories import VoterFactory

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/consent/check"
KEY_SHAPE = re.compile(r"^s1_([0-9a-f]{12})_[A-Za-z0-9_\-]{43}$")


def check_payload(**extra) -> dict:
    return {"channel": "sms", "addresses": ["+19195550123"], **extra}


# -- creation ----------------------------------------------------------------------------------


def test_created_key_is_returned_once_and_only_its_digest_is_stored(campaign):
    key, full_key = create_vendor_key(campaign=campaign, name="Acme SMS", user=None)

    stored = VendorApiKey.objects.values().get(pk=key.pk)
    assert KEY_SHAPE.match(full_key).group(1) == key.prefix
    assert stored["key_digest"] == hashlib.sha256(full_key.encode()).hexdigest()
    secret_part = full_key.split("_", 2)[2]
    assert not any(secret_part in str(value) for value in stored.values())


def test_signing_secret_is_derived_not_stored(campaign, settings):
    key, _ = create_vendor_key(campaign=campaign, name="Acme SMS", user=None)
    secret = vendor_signing_secret(key)

    stored = VendorApiKey.objects.values().get(pk=key.pk)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert secret == vendor_signing_secret(VendorApiKey.objects.get(pk=key.pk))
    assert not any(secret in str(value) for value in stored.values())
    settings.SECRET_KEY = "another-secret-key"
    assert vendor_signing_secret(key) != secret


def test_two_keys_differ_in_prefix_key_and_secret(campaign):
    first, first_key = create_vendor_key(campaign=campaign, name="A", user=None)
    second, second_key = create_vendor_key(campaign=campaign, name="B", user=None)

    assert first.prefix != second.prefix
    assert first_key != second_key
    assert vendor_signing_secret(first) != vendor_signing_secret(second)


def test_admin_shows_key_and_secret_once_after_the_add_form(client, campaign, make_member):
    client.force_login(make_member(campaign, "admin"))

    form = client.get(reverse("admin:campaign_vendorapikey_add"))
    response = client.post(
        reverse("admin:campaign_vendorapikey_add"), {"campaign": campaign.pk, "name": "Acme SMS"}
    )

    assert list(form.context["adminform"].form.fields) == ["campaign", "name"]
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = VendorApiKey.objects.get()
    full_key = response.context["full_key"]
    secret = response.context["signing_secret"]
    assert key.key_digest == hashlib.sha256(full_key.encode()).hexdigest()
    assert secret == vendor_signing_secret(key)
    page = response.content.decode()
    assert full_key in page
    assert secret in page
    later = client.get(reverse("admin:campaign_vendorapikey_change", args=[key.pk])).content
    assert full_key.encode() not in later
    assert secret.encode() not in later


def test_staff_cannot_see_or_create_vendor_keys(client, campaign, make_member, vendor_key):
    client.force_login(make_member(campaign, "staff"))

    assert client.get(reverse("admin:campaign_vendorapikey_changelist")).status_code == 403
    assert client.get(reverse("admin:campaign_vendorapikey_add")).status_code == 403
    post = client.post(
        reverse("admin:campaign_vendorapikey_add"), {"campaign": campaign.pk, "name": "Mine"}
    )
    assert post.status_code == 403
    assert VendorApiKey.objects.count() == 1


def test_admin_of_another_campaign_gets_404_for_the_key(
    client, campaign, other_campaign, make_member, vendor_key
):
    client.force_login(make_member(other_campaign, "admin"))
    key = vendor_key[0]

    change = client.get(reverse("admin:campaign_vendorapikey_change", args=[key.pk]))
    revoke = client.post(reverse("admin:campaign_vendorapikey_revoke", args=[key.pk]))

    assert change.status_code == 404
    assert revoke.status_code == 404
    assert VendorApiKey.objects.get(pk=key.pk).revoked_at is None


def test_admin_revokes_a_key_from_its_page(client, campaign, make_member, vendor_key):
    admin_user = make_member(campaign, "admin")
    client.force_login(admin_user)
    key = vendor_key[0]

    page = client.get(reverse("admin:campaign_vendorapikey_change", args=[key.pk]))
    response = client.post(reverse("admin:campaign_vendorapikey_revoke", args=[key.pk]))

    assert reverse("admin:campaign_vendorapikey_revoke", args=[key.pk]) in page.content.decode()
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key.revoked_by == admin_user
    assert AuditEvent.objects.filter(action="vendor_key_revoke", object_id=str(key.pk)).count() == 1


def test_revoke_action_revokes_selected_keys(client, campaign, make_member, vendor_key):
    client.force_login(make_member(campaign, "admin"))
    key = vendor_key[0]

    response = client.post(
        reverse("admin:campaign_vendorapikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )

    assert response.status_code == 302
    assert VendorApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_keys_cannot_be_deleted_even_by_a_superuser(client, vendor_key):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_superuser=True))
    key = vendor_key[0]

    response = client.post(
        reverse("admin:campaign_vendorapikey_delete", args=[key.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert VendorApiKey.objects.filter(pk=key.pk).exists()


# -- signed requests ---------------------------------------------------------------------------


def test_signed_request_is_accepted_and_scoped_to_the_keys_campaign(vendor_post, campaign):
    response = vendor_post(CHECK, check_payload())

    assert response.status_code == 200
    assert response.json() == {"channel": "sms", "opted_out": []}


def test_x_api_key_header_works_like_bearer(client, vendor_key):
    _, full_key, secret = vendor_key
    body = json.dumps(check_payload()).encode()
    headers = signed_headers(full_key, secret, method="POST", path=CHECK, body=body)
    headers["X-Api-Key"] = headers.pop("Authorization").removeprefix("Bearer ")

    response = client.generic("POST", CHECK, body, content_type="application/json", headers=headers)

    assert response.status_code == 200


def test_bad_signature_is_refused(vendor_post):
    response = vendor_post(CHECK, check_payload(), secret="0" * 64)

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key or signature"}


def test_signature_over_another_body_is_refused(client, vendor_key):
    _, full_key, secret = vendor_key
    signed_for = json.dumps(check_payload()).encode()
    sent = json.dumps(check_payload(channel="email", addresses=["a@example.org"])).encode()
    headers = signed_headers(full_key, secret, method="POST", path=CHECK, body=signed_for)

    response = client.generic("POST", CHECK, sent, content_type="application/json", headers=headers)

    assert response.status_code == 401


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_timestamp_more_than_five_minutes_away_is_refused(vendor_post, offset):
    response = vendor_post(CHECK, check_payload(), timestamp=int(time.time()) + offset)

    assert response.status_code == 401
    assert "5 minutes" in response.json()["detail"]


def test_timestamp_within_five_minutes_is_accepted(vendor_post):
    response = vendor_post(CHECK, check_payload(), timestamp=int(time.time()) - 240)

    assert response.status_code == 200


def test_missing_timestamp_is_refused(client, vendor_key):
    response = client.post(
        CHECK,
        check_payload(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {vendor_key[1]}",
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    "make_key",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda key: "s1_000000000000_" + key.split("_", 2)[2],  # unknown prefix
        lambda key: "not-a-key",
    ],
)
def test_wrong_key_is_refused(vendor_post, vendor_key, make_key):
    response = vendor_post(CHECK, check_payload(), full_key=make_key(vendor_key[1]))

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key or signature"}


def test_revoked_key_is_refused_at_once(vendor_post, vendor_key):
    assert vendor_post(CHECK, check_payload()).status_code == 200

    assert revoke_vendor_key(key=vendor_key[0], user=None) is True
    response = vendor_post(CHECK, check_payload())

    assert response.status_code == 401
    assert response.json() == {"detail": "this API key has been revoked"}


def test_revoking_twice_audits_once(vendor_key):
    key = vendor_key[0]

    assert revoke_vendor_key(key=key, user=None) is True
    assert revoke_vendor_key(key=key, user=None) is False
    assert AuditEvent.objects.filter(action="vendor_key_revoke").count() == 1


def test_last_used_at_is_written_at_most_once_a_minute(vendor_post, vendor_key):
    key = vendor_key[0]

    vendor_post(CHECK, check_payload())
    first = VendorApiKey.objects.get(pk=key.pk).last_used_at
    vendor_post(CHECK, check_payload())
    second = VendorApiKey.objects.get(pk=key.pk).last_used_at
    VendorApiKey.objects.filter(pk=key.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    vendor_post(CHECK, check_payload())
    third = VendorApiKey.objects.get(pk=key.pk).last_used_at

    assert first is not None
    assert second == first
    assert third > first
    assert timezone.now() - third < dt.timedelta(seconds=30)


def test_key_naming_another_campaign_gets_404(vendor_post, other_campaign):
    response = vendor_post(CHECK, check_payload(campaign=other_campaign.slug))

    assert response.status_code == 404


def test_key_sees_only_its_campaigns_opt_outs(vendor_post, campaign, other_campaign):
    from voters.consent import record_opt_out

    phone = "+19195550123"
    record_opt_out(campaign=other_campaign, channel="sms", address=phone, source="stop_reply")

    before = vendor_post(CHECK, check_payload(addresses=[phone])).json()
    record_opt_out(campaign=campaign, channel="sms", address=phone, source="stop_reply")
    after = vendor_post(CHECK, check_payload(addresses=[phone])).json()

    assert before["opted_out"] == []
    assert after["opted_out"] == [phone]


def test_vendor_key_cannot_read_voters(client, campaign, vendor_key):
    VoterFactory(campaign=campaign)
    _, full_key, secret = vendor_key
    headers = signed_headers(full_key, secret, method="GET", path="/api/v1/voters")

    response = client.get("/api/v1/voters", headers=headers)

    assert response.status_code == 403
