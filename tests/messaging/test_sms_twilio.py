"""The Twilio-compatible callbacks: X-Twilio-Signature checked against the configured public URL
and the campaign's auth token (Twilio's published vector), 403 with nothing written otherwise."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from messaging.api import sms_views
from messaging.models import SmsInbound, SmsMessage, SmsReceipt, SmsSettings
from messaging.sms import ack_message, lease_messages
from messaging.twilio import is_valid_signature, twilio_signature
from tests.factories import CampaignFactory
from tests.messaging.sms_setup import MORNING_ET, due_texts
from voters.models import ConsentEvent, ContactAttempt

pytestmark = pytest.mark.django_db

PUBLIC = "https://sms.example.org"
INBOUND = "/api/v1/sms/twilio/home/inbound"
STATUS = "/api/v1/sms/twilio/home/status"
TOKEN = "12345"
STOP = {"MessageSid": "SM-in-1", "From": "+19195550177", "To": "+19195550100", "Body": "STOP"}


def test_twilio_s_published_example_vector():
    params = {
        "CallSid": ["CA1234567890ABCDE"],
        "Caller": ["+12349013030"],
        "Digits": ["1234"],
        "From": ["+12349013030"],
        "To": ["+18005551212"],
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"

    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert is_valid_signature("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not is_valid_signature("54321", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not is_valid_signature("", url, params, twilio_signature("", url, params))


@pytest.fixture(autouse=True)
def twilio(settings, campaign, monkeypatch):
    settings.TWILIO_PUBLIC_URL = PUBLIC
    SmsSettings.objects.create(campaign=campaign, twilio_auth_token=TOKEN)
    monkeypatch.setattr(sms_views, "clock", lambda: MORNING_ET)


def post(client, path: str, params: dict, *, token: str = TOKEN, signed: dict | None = None,
         url: str | None = None, header: bool = True):  # fmt: skip
    """Twilio's form POST, signed over `signed` (default: what is sent) with `token`."""
    form = {name: [value] for name, value in (signed or params).items()}
    headers = {}
    if header:
        headers["X-Twilio-Signature"] = twilio_signature(token, url or PUBLIC + path, form)
    return client.post(
        path, urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers
    )


def nothing_written() -> bool:
    return (
        SmsInbound.objects.count(),
        ConsentEvent.objects.count(),
        SmsMessage.objects.count(),
        SmsReceipt.objects.count(),
    ) == (0, 0, 0, 0)


def test_a_signed_stop_opts_the_number_out_and_queues_one_confirmation(client, campaign):
    first = post(client, INBOUND, STOP)
    retried = post(client, INBOUND, STOP)  # Twilio retries a callback it thinks failed

    assert first.status_code == retried.status_code == 200
    assert first["Content-Type"] == "text/xml"
    assert first.content.endswith(b"<Response></Response>")
    assert list(ConsentEvent.objects.values_list("address", "source")) == [
        ("+19195550177", "stop_reply")
    ]
    assert list(SmsMessage.objects.values_list("kind", flat=True)) == ["opt_out_confirmation"]
    assert SmsInbound.objects.get().received_at == MORNING_ET


def test_a_stop_twilio_already_answered_gets_no_second_confirmation(client):
    post(client, INBOUND, {**STOP, "OptOutType": "STOP"})

    assert ConsentEvent.objects.count() == 1
    assert SmsMessage.objects.count() == 0


@pytest.mark.parametrize(
    "case",
    ["wrong token", "tampered parameter", "missing header", "another url", "added parameter"],
)
def test_an_unsigned_or_badly_signed_callback_is_a_403_that_writes_nothing(client, case):
    options = {
        "wrong token": {"token": "54321"},
        "tampered parameter": {"signed": {**STOP, "Body": "Hello"}},
        "missing header": {"header": False},
        "another url": {"url": "https://sms.example.org/api/v1/sms/twilio/rival/inbound"},
        "added parameter": {"signed": {k: v for k, v in STOP.items() if k != "To"}},
    }[case]

    response = post(client, INBOUND, STOP, **options)

    assert response.status_code == 403
    assert nothing_written()


def test_without_a_public_url_or_a_token_every_callback_is_refused(client, settings, campaign):
    settings.TWILIO_PUBLIC_URL = ""
    no_url = post(client, INBOUND, STOP, url=INBOUND)
    settings.TWILIO_PUBLIC_URL = PUBLIC
    SmsSettings.objects.filter(campaign=campaign).update(twilio_auth_token="")
    no_token = post(client, INBOUND, STOP, token="")

    assert (no_url.status_code, no_token.status_code) == (403, 403)
    assert nothing_written()


def test_another_campaign_s_token_does_not_sign_for_ours(client):
    rival = CampaignFactory(slug="rival")
    SmsSettings.objects.create(campaign=rival, twilio_auth_token="rival-token")

    ours = post(client, INBOUND, STOP, token="rival-token")
    unknown = post(client, "/api/v1/sms/twilio/nobody/inbound", STOP)

    assert (ours.status_code, unknown.status_code) == (403, 403)
    assert nothing_written()


def test_a_status_callback_settles_the_text_once(client, campaign, vendor_key):
    _, texts = due_texts(campaign, 1)
    lease_messages(key=vendor_key[0], limit=1, now=MORNING_ET)
    ack_message(key=vendor_key[0], message_id=texts[0].pk, vendor_message_id="SM1", now=MORNING_ET)
    delivered = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": "AC1"}

    answers = [
        post(client, STATUS, {**delivered, "MessageStatus": "sending"}),
        post(client, STATUS, delivered),
        post(client, STATUS, delivered),
        post(client, STATUS, {**delivered, "MessageStatus": "sent"}),
        post(client, STATUS, {"MessageSid": "SM-unknown", "MessageStatus": "delivered"}),
    ]

    assert [a.status_code for a in answers] == [200] * 5
    assert SmsMessage.objects.get(pk=texts[0].pk).status == "delivered"
    assert list(SmsReceipt.objects.values_list("status", flat=True).order_by("pk")) == [
        "delivered", "sent",
    ]  # fmt: skip
    assert ContactAttempt.objects.filter(result="delivered").count() == 1


def test_a_failed_status_with_an_error_code_acts_on_it(client, campaign, vendor_key):
    _, texts = due_texts(campaign, 1)
    lease_messages(key=vendor_key[0], limit=1, now=MORNING_ET)
    ack_message(key=vendor_key[0], message_id=texts[0].pk, vendor_message_id="SM1", now=MORNING_ET)

    post(client, STATUS, {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30004"})

    assert list(ConsentEvent.objects.values_list("address", "source")) == [
        (texts[0].phone, "vendor_block")
    ]
    assert SmsMessage.objects.get(pk=texts[0].pk).error_code == "30004"


def test_a_signed_callback_missing_fields_is_a_400(client):
    response = post(client, INBOUND, {"MessageSid": "SM-in-1"})

    assert response.status_code == 400
    assert "From" in response.json()
    assert nothing_written()
