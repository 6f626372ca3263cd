"""Vendor signatures cover the method, path and query as well as the timestamp and body, and a
request replayed inside the 5-minute window is refused (its nonce is remembered in Redis)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from campaign.api.authentication import (
    NONCE_MEMORY_SECONDS,
    REPLAYED,
    canonical_query,
    sign,
    signed_headers,
)
from campaign.services import create_vendor_key, vendor_signing_secret
from voters.models import ConsentEvent

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/consent/check"
OPT_OUTS = "/api/v1/consent/opt-outs"
NONCE = "0123456789abcdef0123"
BODY = json.dumps({"channel": "sms", "addresses": ["+19195550101"]}).encode()


def test_the_canonical_request_is_six_lines_as_documented():
    body = b'{"a": 1}'
    expected = "\n".join(
        [
            "1700000000",
            NONCE,
            "POST",
            "/api/v1/consent/check",
            "a=1%20x&b=%2B2&b=1",  # decoded, sorted, re-encoded
            hashlib.sha256(body).hexdigest(),
        ]
    )

    signature = sign(
        "secret", timestamp=1700000000, nonce=NONCE, method="post",
        path="/api/v1/consent/check", query="b=1&b=%2B2&a=1+x", body=body,
    )  # fmt: skip

    assert canonical_query("b=1&b=%2B2&a=1+x") == "a=1%20x&b=%2B2&b=1"
    assert signature == hmac.new(b"secret", expected.encode(), hashlib.sha256).hexdigest()


def _send(client, method: str, path: str, query: str, headers: dict):
    url = f"{path}?{query}" if query else path
    return client.generic(method, url, BODY, content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    ("signed", "sent"),
    [
        (("PUT", CHECK, ""), ("POST", CHECK, "")),  # another method
        (("POST", "/api/v1/consent/opt-outs", ""), ("POST", CHECK, "")),  # another path
        (("POST", CHECK, "trace=1"), ("POST", CHECK, "trace=2")),  # another query
        (("POST", CHECK, ""), ("POST", CHECK, "trace=1")),  # a query added
    ],
)
def test_a_signature_over_another_method_path_or_query_is_refused(client, vendor_key, signed, sent):
    _, full_key, secret = vendor_key
    method, path, query = signed
    headers = signed_headers(full_key, secret, method=method, path=path, query=query, body=BODY)

    response = _send(client, *sent, headers)

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key or signature"}


def test_the_query_signs_in_any_order_and_escaping(client, vendor_key):
    _, full_key, secret = vendor_key
    headers = signed_headers(
        full_key, secret, method="POST", path=CHECK, query="b=2&a=x%20y", body=BODY
    )

    response = _send(client, "POST", CHECK, "a=x+y&b=2", headers)

    assert (response.status_code, response.json()) == (200, {"channel": "sms", "opted_out": []})


def test_a_replayed_request_is_refused_and_records_nothing_twice(vendor_post, campaign):
    payload = {
        "events": [
            {
                "event_id": "ev-1",
                "channel": "sms",
                "address": "+19195550101",
                "source": "stop_reply",
                "occurred_at": "2024-10-05T15:00:00Z",
            }
        ]
    }

    first = vendor_post(OPT_OUTS, payload, nonce=NONCE)
    replay = vendor_post(OPT_OUTS, payload, nonce=NONCE)
    fresh = vendor_post(OPT_OUTS, payload)  # a retry with a new nonce is a request, not a replay

    assert first.status_code == 200
    assert (replay.status_code, replay.json()) == (401, {"detail": REPLAYED})
    assert fresh.status_code == 200
    assert fresh.json()["recorded"] == 0  # the event id keeps the retry idempotent
    assert ConsentEvent.objects.count() == 1


def test_a_request_without_a_nonce_is_refused(client, vendor_key):
    _, full_key, secret = vendor_key
    headers = signed_headers(full_key, secret, method="POST", path=CHECK, body=BODY)
    del headers["X-Nonce"]

    response = _send(client, "POST", CHECK, "", headers)

    assert response.status_code == 401
    assert "X-Nonce" in response.json()["detail"]


def test_nonces_are_per_key(client, campaign, vendor_key):
    _, full_key, secret = vendor_key
    other, other_full_key = create_vendor_key(campaign=campaign, name="Other SMS", user=None)
    mine = signed_headers(full_key, secret, method="POST", path=CHECK, body=BODY, nonce=NONCE)
    theirs = signed_headers(
        other_full_key, vendor_signing_secret(other), method="POST", path=CHECK, body=BODY,
        nonce=NONCE,
    )  # fmt: skip

    assert _send(client, "POST", CHECK, "", mine).status_code == 200
    assert _send(client, "POST", CHECK, "", theirs).status_code == 200


def test_a_refused_signature_does_not_spend_the_nonce(client, vendor_key):
    _, full_key, secret = vendor_key
    forged = signed_headers(full_key, "0" * 64, method="POST", path=CHECK, body=BODY, nonce=NONCE)
    real = signed_headers(full_key, secret, method="POST", path=CHECK, body=BODY, nonce=NONCE)

    assert _send(client, "POST", CHECK, "", forged).status_code == 401
    assert _send(client, "POST", CHECK, "", real).status_code == 200


@pytest.mark.skipif(not settings.REDIS_URL, reason="the nonce memory lives in Redis")
def test_the_nonce_is_remembered_in_redis_for_the_window(vendor_post, vendor_key):
    key = vendor_key[0]

    assert (
        vendor_post(CHECK, json.loads(BODY) | {"campaign": "home"}, nonce=NONCE).status_code == 200
    )

    stored = cache.make_and_validate_key(f"vendor-nonce:{key.prefix}:{NONCE}")
    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(stored)
    assert NONCE_MEMORY_SECONDS - 5 <= ttl <= NONCE_MEMORY_SECONDS == 600
