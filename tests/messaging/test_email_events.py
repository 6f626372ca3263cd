"""SendGrid's signed Event Webhook (messaging.email_views.sendgrid_events, messaging.email_events):
signatures checked with a key pair made here, suppression on hard bounces, complaints and three
soft bounces in seven days, duplicates changing nothing, and the pause above 0.3 % complaints."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.utils import timezone

from messaging.email import email_settings_of
from messaging.email_events import complaint_rate
from messaging.models import EmailEvent, EmailMessage, EmailSettings
from messaging.sendgrid import is_valid_signature
from tests.factories import EmailMessageFactory
from voters.models import ConsentEvent

pytestmark = pytest.mark.django_db

PRIVATE = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())


def public_key_b64(private) -> str:
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sign(private, timestamp: str, body: bytes) -> str:
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


@pytest.fixture
def keyed(campaign):
    row = email_settings_of(campaign)
    row.sendgrid_public_key = public_key_b64(PRIVATE)
    row.save()
    return campaign


@pytest.fixture
def sent(keyed):
    return EmailMessageFactory(
        campaign=keyed, address="ann@example.org", status="sent", sent_at=timezone.now()
    )


def event(message, name: str, event_id: str, *, at: dt.datetime | None = None, **extra) -> dict:
    when = at or timezone.now()
    return {
        "email": message.address, "timestamp": int(when.timestamp()), "event": name,
        "sg_event_id": event_id, "sg_message_id": "sg.1", "smtp-id": f"<{message.message_id}>",
        **extra,
    }  # fmt: skip


def post(events, *, slug: str = "home", key=PRIVATE, signature: str | None = None,
         timestamp: str | None = None, body: bytes | None = None):  # fmt: skip
    raw = body if body is not None else json.dumps(events).encode()
    stamp = timestamp or str(int(timezone.now().timestamp()))
    headers = {"X-Twilio-Email-Event-Webhook-Timestamp": stamp}
    if key is not None:
        headers["X-Twilio-Email-Event-Webhook-Signature"] = signature or sign(key, stamp, raw)
    return Client(enforce_csrf_checks=True).post(
        f"/email/webhooks/sendgrid/{slug}/", raw, content_type="application/json", headers=headers
    )


def suppressions() -> list[tuple]:
    return list(ConsentEvent.objects.values_list("channel", "address", "kind", "source", "reason"))


def test_the_signature_check_accepts_sendgrid_s_and_nothing_else():
    body, stamp = b'[{"event":"delivered"}]', "1700000000"
    good = sign(PRIVATE, stamp, body)

    assert is_valid_signature(
        public_key=public_key_b64(PRIVATE), signature=good, timestamp=stamp, payload=body
    )
    assert not is_valid_signature(
        public_key=public_key_b64(PRIVATE), signature=good, timestamp=stamp, payload=body + b" "
    )
    assert not is_valid_signature(
        public_key=public_key_b64(PRIVATE), signature=good, timestamp="1700000001", payload=body
    )
    assert not is_valid_signature(
        public_key=public_key_b64(STRANGER), signature=good, timestamp=stamp, payload=body
    )
    assert not is_valid_signature(
        public_key="not base64!", signature=good, timestamp=stamp, payload=body
    )


def test_a_hard_bounce_suppresses_the_address_once_however_often_it_comes(sent):
    events = [event(sent, "bounce", "ev-1", type="bounce", reason="550 5.1.1 no such user")]

    first = post(events)
    again = post(events)

    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json()["recorded"], again.json()["duplicate"]) == (1, 1)
    assert EmailEvent.objects.count() == 1
    assert suppressions() == [
        ("email", "ann@example.org", "opt_out", "vendor_block", "email hard bounce")
    ]
    assert EmailMessage.objects.get().status == "bounced"


def test_a_complaint_suppresses_the_address(sent):
    response = post([event(sent, "delivered", "ev-1"), event(sent, "spamreport", "ev-2")])

    assert response.status_code == 200
    assert EmailEvent.objects.count() == 2
    assert suppressions() == [
        ("email", "ann@example.org", "opt_out", "vendor_block", "email complaint")
    ]
    assert EmailMessage.objects.get().status == "complained"


def test_a_delivery_moves_the_email_forward_and_suppresses_nothing(sent):
    post([event(sent, "delivered", "ev-1"), event(sent, "open", "ev-2")])

    assert (EmailMessage.objects.get().status, EmailEvent.objects.count()) == ("delivered", 1)
    assert suppressions() == []


def test_three_soft_bounces_within_seven_days_suppress_and_two_do_not(sent):
    now = timezone.now()
    days = [now - dt.timedelta(days=d) for d in (8, 3, 0)]  # the first is outside the window
    post([event(sent, "bounce", f"ev-{i}", type="blocked", at=at) for i, at in enumerate(days)])
    assert suppressions() == []

    post([event(sent, "bounce", "ev-9", type="blocked", at=now)])

    assert suppressions() == [
        ("email", "ann@example.org", "opt_out", "vendor_block", "3 email soft bounces in 7 days")
    ]
    assert EmailEvent.objects.count() == 4


@pytest.mark.parametrize(
    "how", ["unsigned", "stranger", "tampered", "stale", "no key", "unknown campaign"]
)
def test_an_unsigned_or_badly_signed_request_is_refused_with_nothing_written(sent, how):
    events = [event(sent, "spamreport", "ev-1")]
    raw = json.dumps(events).encode()
    stamp = str(int(timezone.now().timestamp()))
    kwargs: dict = {
        "unsigned": {"key": None},
        "stranger": {"key": STRANGER},
        "tampered": {"signature": sign(PRIVATE, stamp, raw), "timestamp": stamp,
                     "body": raw.replace(b"ev-1", b"ev-2")},
        "stale": {"timestamp": str(int(timezone.now().timestamp()) - 600)},
        "no key": {},
        "unknown campaign": {"slug": "nobody"},
    }[how]  # fmt: skip
    if how == "no key":
        EmailSettings.objects.update(sendgrid_public_key="")

    response = post(events, **kwargs)

    assert response.status_code == 403
    assert (EmailEvent.objects.count(), ConsentEvent.objects.count()) == (0, 0)
    assert EmailMessage.objects.get().status == "sent"


def test_another_campaign_s_email_is_not_ours_to_change(keyed, other_campaign):
    theirs = EmailMessageFactory(campaign=other_campaign, status="sent", sent_at=timezone.now())

    response = post([event(theirs, "spamreport", "ev-1")])

    assert response.json()["unmatched"] == 1
    assert (EmailEvent.objects.count(), ConsentEvent.objects.count()) == (0, 0)
    assert EmailMessage.objects.get().status == "sent"


def many_sent(campaign, n: int) -> EmailMessage:
    first = EmailMessageFactory(campaign=campaign, status="sent", sent_at=timezone.now())
    EmailMessage.objects.bulk_create(
        EmailMessage(
            campaign=campaign, design_id=first.design_id, arm_id=first.arm_id,
            variant_id=first.variant_id, voter_id=first.voter_id, address=f"p{i}@example.org",
            subject="s", body="b", message_id=f"bulk-{i}@example.org", status="sent",
            sent_at=timezone.now(),
        )
        for i in range(n - 1)
    )  # fmt: skip
    return first


@pytest.mark.parametrize(("sent_count", "paused"), [(300, True), (400, False)])
def test_sending_pauses_itself_above_a_complaint_rate_of_0_3_percent(keyed, sent_count, paused):
    first = many_sent(keyed, sent_count)

    response = post([event(first, "spamreport", "ev-1")])

    rate = complaint_rate(campaign=keyed, now=timezone.now())
    assert rate == pytest.approx(1 / sent_count)
    assert response.json()["paused"] is paused
    assert (EmailSettings.objects.get().paused_at is not None) is paused
