"""The SMS vendor API (/api/v1/sms/…): signed keys, Idempotency-Key with Stripe's semantics,
throttling, lease, ack, receipts; bad input is a 4xx, another campaign's text is out of reach."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from campaign.models import IdempotentResponse
from campaign.services import create_vendor_key, vendor_signing_secret
from messaging.api import sms_views
from messaging.models import SmsMessage, SmsReceipt
from tests.factories import CampaignFactory
from tests.messaging.sms_setup import MORNING_ET, due_texts, sms_post
from voters.models import ContactAttempt

pytestmark = pytest.mark.django_db

LEASE = "/api/v1/sms/lease"
ACK = "/api/v1/sms/ack"
STATUS = "/api/v1/sms/status"
INBOUND = "/api/v1/sms/inbound"


@pytest.fixture(autouse=True)
def morning(monkeypatch):
    """The API's clock at 10:00 in New York: the NC voters' window is open."""
    monkeypatch.setattr(sms_views, "clock", lambda: MORNING_ET)


def leased_count() -> int:
    return SmsMessage.objects.filter(status="leased").count()


def sent_texts(client, vendor_key, campaign, n: int) -> list[SmsMessage]:
    """`n` texts leased and acknowledged as SM0, SM1…"""
    due_texts(campaign, n)
    lease = sms_post(client, vendor_key, LEASE, {"limit": n}, key="lease").json()
    acks = [{"id": m["id"], "vendor_message_id": f"SM{i}"} for i, m in enumerate(lease["messages"])]
    assert sms_post(client, vendor_key, ACK, {"acks": acks}, key="ack").status_code == 200
    return list(SmsMessage.objects.order_by("vendor_message_id"))


# -- lease and ack -----------------------------------------------------------------------------


def test_a_vendor_leases_due_texts_with_what_it_needs_to_send_them(client, vendor_key, campaign):
    _, texts = due_texts(campaign, 3)

    response = sms_post(client, vendor_key, LEASE, {"limit": 2, "lease_seconds": 120})

    body = response.json()
    assert response.status_code == 200
    assert [m["id"] for m in body["messages"]] == [texts[0].pk, texts[1].pk]
    assert body["messages"][0] == {
        "id": texts[0].pk,
        "to": texts[0].phone,
        "body": texts[0].body,
        "encoding": "GSM-7",
        "segments": 1,
        "kind": "program",
    }
    assert (body["expires_at"], body["capped"]) == ("2026-12-07T15:02:00Z", False)
    assert leased_count() == 2


def test_acks_are_reported_one_by_one(client, vendor_key, campaign):
    _, texts = due_texts(campaign, 2)
    sms_post(client, vendor_key, LEASE, {"limit": 2}, key="lease")
    acks = [
        {"id": texts[0].pk, "vendor_message_id": "SM-a"},
        {"id": texts[1].pk, "vendor_message_id": "SM-a"},
        {"id": 999_999_999, "vendor_message_id": "SM-b"},
    ]

    response = sms_post(client, vendor_key, ACK, {"acks": acks})

    assert response.json() == {
        "results": [
            {"id": texts[0].pk, "result": "acked"},
            {"id": texts[1].pk, "result": "duplicate_vendor_id"},
            {"id": 999_999_999, "result": "not_found"},
        ]
    }
    assert SmsMessage.objects.filter(status="sent").count() == 1


def test_another_campaign_s_key_cannot_see_or_ack_our_texts(client, campaign):
    _, texts = due_texts(campaign, 1)
    other = CampaignFactory(slug="other")
    key, full_key = create_vendor_key(campaign=other, name="Theirs", user=None)
    theirs = (key, full_key, vendor_signing_secret(key))

    lease = sms_post(client, theirs, LEASE, {"limit": 10}, key="l")
    ack = sms_post(client, theirs, ACK, {"acks": [{"id": texts[0].pk, "vendor_message_id": "X"}]})

    assert lease.json()["messages"] == []
    assert ack.json() == {"results": [{"id": texts[0].pk, "result": "not_found"}]}
    assert SmsMessage.objects.get(pk=texts[0].pk).status == "due"


def test_only_signed_vendor_requests_reach_the_api(api_client, staff_client, campaign):
    due_texts(campaign, 1)

    anonymous = api_client.post(LEASE, {"limit": 1}, format="json")
    staff = staff_client.post(
        LEASE, {"limit": 1}, content_type="application/json", headers={"Idempotency-Key": "k"}
    )

    assert anonymous.status_code == 401
    assert staff.status_code == 403
    assert leased_count() == 0


# -- Idempotency-Key ---------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_first_answer_byte_for_byte(client, vendor_key,
                                                                          campaign):  # fmt: skip
    due_texts(campaign, 4)

    first = sms_post(client, vendor_key, LEASE, {"limit": 2}, key="lease-1")
    retry = sms_post(client, vendor_key, LEASE, {"limit": 2}, key="lease-1")
    other = sms_post(client, vendor_key, LEASE, {"limit": 2}, key="lease-2")

    assert first.status_code == retry.status_code == 200
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert len(other.json()["messages"]) == 2
    assert other.content != first.content
    assert leased_count() == 4  # the retry leased nothing more
    assert IdempotentResponse.objects.count() == 2


def test_the_same_key_with_another_body_is_a_422_that_changes_nothing(client, vendor_key,
                                                                      campaign):  # fmt: skip
    due_texts(campaign, 4)
    sms_post(client, vendor_key, LEASE, {"limit": 1}, key="lease-1")

    reused = sms_post(client, vendor_key, LEASE, {"limit": 3}, key="lease-1")

    assert reused.status_code == 422
    assert "different request" in reused.json()["detail"]
    assert leased_count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
def test_a_key_still_being_processed_is_a_409_and_the_retry_after_it_runs(client, vendor_key,
                                                                          campaign):  # fmt: skip
    due_texts(campaign, 2)
    key = vendor_key[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    # Another process working on the same key holds its lock (as a request mid-way does).
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [key.pk, "busy"])
        busy = sms_post(client, vendor_key, LEASE, {"limit": 1}, key="busy")
        other.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [key.pk, "busy"])
    after = sms_post(client, vendor_key, LEASE, {"limit": 1}, key="busy")

    assert busy.status_code == 409
    assert after.status_code == 200
    assert leased_count() == 1


@pytest.mark.parametrize("header", [None, "", "has space", "x" * 256])
def test_a_post_without_a_usable_idempotency_key_is_refused(client, vendor_key, campaign, header):
    due_texts(campaign, 1)

    response = sms_post(client, vendor_key, LEASE, {"limit": 1}, key=header)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert leased_count() == 0


def test_a_failed_request_stores_nothing_so_its_key_can_be_used_again(client, vendor_key,
                                                                      campaign):  # fmt: skip
    due_texts(campaign, 1)

    bad = sms_post(client, vendor_key, LEASE, {"limit": 0}, key="k")
    good = sms_post(client, vendor_key, LEASE, {"limit": 1}, key="k")

    assert (bad.status_code, good.status_code) == (400, 200)
    assert leased_count() == 1


def receipt(vendor_id: str, status: str, minute: int = 1, error_code: str = "") -> dict:
    return {
        "vendor_message_id": vendor_id,
        "status": status,
        "occurred_at": f"2026-12-07T15:{minute:02d}:00Z",
        "error_code": error_code,
    }


# -- throttling and bad input -------------------------------------------------------------------


def test_a_vendor_over_its_rate_is_told_when_to_come_back(client, vendor_key, campaign, settings):
    settings.VENDOR_THROTTLE_RATE = "2/min"
    due_texts(campaign, 5)

    answers = [sms_post(client, vendor_key, LEASE, {"limit": 1}, key=f"k{i}") for i in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 0 < int(answers[2]["Retry-After"]) <= 60
    assert leased_count() == 2


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        (LEASE, {"limit": 0}),
        (LEASE, {"limit": 5000}),
        (LEASE, {"lease_seconds": 10}),
        (LEASE, ["not", "an", "object"]),
        (ACK, {"acks": []}),
        (ACK, {"acks": [{"id": "x", "vendor_message_id": "SM1"}]}),
        (ACK, {"acks": [{"id": 10**30, "vendor_message_id": "SM1"}]}),
        (STATUS, {"receipts": [receipt("SM1", "exploded")]}),
        (STATUS, {"receipts": [{**receipt("SM1", "delivered"), "occurred_at": "yesterday"}]}),
        (INBOUND, {"messages": [{"vendor_message_id": "M1", "phone": "+19195553000"}]}),
        (INBOUND, {"messages": "STOP"}),
    ],
)
def test_bad_input_is_a_400_saying_what_is_wrong(client, vendor_key, campaign, path, payload):
    response = sms_post(client, vendor_key, path, payload)

    assert response.status_code == 400
    assert response.json()  # names the field
    assert IdempotentResponse.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400(client, vendor_key):
    response = sms_post(client, vendor_key, LEASE, None, body=b"{not json")

    assert response.status_code == 400


# -- receipts ---------------------------------------------------------------------------------


def test_receipts_out_of_order_and_repeated_settle_once(client, vendor_key, campaign):
    texts = sent_texts(client, vendor_key, campaign, 2)
    batch = [
        receipt("SM0", "delivered", 3),
        receipt("SM0", "sent", 2),  # late: the text is already delivered
        receipt("SM0", "delivered", 3),  # the same receipt twice in a batch
        receipt("SM1", "sent", 2),  # what the ack already said
        receipt("SM-nobody", "delivered"),
    ]

    first = sms_post(client, vendor_key, STATUS, {"receipts": batch}, key="r1")
    again = sms_post(client, vendor_key, STATUS, {"receipts": batch}, key="r2")

    assert first.json() == {"applied": 1, "duplicates": 1, "stale": 2, "unknown": ["SM-nobody"]}
    assert again.json() == {"applied": 0, "duplicates": 4, "stale": 0, "unknown": ["SM-nobody"]}
    statuses = dict(SmsMessage.objects.values_list("vendor_message_id", "status"))
    assert statuses == {"SM0": "delivered", "SM1": "sent"}
    assert SmsReceipt.objects.count() == 3
    delivered = ContactAttempt.objects.filter(channel="sms", result="delivered")
    assert list(delivered.values_list("voter_id", flat=True)) == [texts[0].voter_id]
    assert ContactAttempt.objects.count() == 1


def test_a_failure_after_delivery_does_not_move_the_text_back(client, vendor_key, campaign):
    sent_texts(client, vendor_key, campaign, 1)
    sms_post(client, vendor_key, STATUS, {"receipts": [receipt("SM0", "delivered")]}, key="r1")

    late = sms_post(
        client, vendor_key, STATUS, {"receipts": [receipt("SM0", "failed", 9, "30003")]}, key="r2"
    )

    assert late.json() == {"applied": 0, "duplicates": 0, "stale": 1, "unknown": []}
    assert SmsMessage.objects.get().status == "delivered"
    assert list(ContactAttempt.objects.values_list("result", flat=True)) == ["delivered"]


def test_the_schema_lists_the_sms_endpoints(client):
    schema = client.get("/api/schema/").content.decode()

    for path in (LEASE, ACK, STATUS, INBOUND):
        assert f"{path}:" in schema
    assert "Idempotency-Key" in schema


def test_a_receipt_dated_ahead_of_our_clock_is_recorded_at_our_now(client, vendor_key, campaign):
    sent_texts(client, vendor_key, campaign, 1)
    ahead = {**receipt("SM0", "delivered"), "occurred_at": "2027-01-01T00:00:00Z"}

    sms_post(client, vendor_key, STATUS, {"receipts": [ahead]}, key="r1")

    assert SmsReceipt.objects.get().occurred_at == MORNING_ET
    assert ContactAttempt.objects.get().occurred_at == MORNING_ET


def test_two_final_receipts_in_one_batch_keep_the_first(client, vendor_key, campaign):
    sent_texts(client, vendor_key, campaign, 1)
    batch = [receipt("SM0", "failed", 2, "30003"), receipt("SM0", "delivered", 3)]

    answer = sms_post(client, vendor_key, STATUS, {"receipts": batch}, key="r1")

    assert answer.json() == {"applied": 1, "duplicates": 0, "stale": 1, "unknown": []}
    text = SmsMessage.objects.get()
    assert (text.status, text.error_code) == ("failed", "30003")
    assert list(ContactAttempt.objects.values_list("result", flat=True)) == ["failed"]


def test_a_batch_of_receipts_costs_the_same_queries_for_any_size(
    campaign, vendor_key, django_assert_num_queries
):
    from messaging.sms import ack_messages, lease_messages
    from messaging.sms_inbound import Receipt, record_receipts

    _, texts = due_texts(campaign, 24)
    lease_messages(key=vendor_key[0], limit=24, now=MORNING_ET)
    ack_messages(key=vendor_key[0], acks=[(t.pk, f"SM{i}") for i, t in enumerate(texts)],
                 now=MORNING_ET)  # fmt: skip

    def batch(ids):
        return [Receipt(f"SM{i}", "delivered", MORNING_ET) for i in ids]

    # the texts (locked), the receipts seen before, the new ones, one status update, contacts
    with django_assert_num_queries(5):
        record_receipts(campaign=campaign, receipts=batch(range(4)), now=MORNING_ET)
    with django_assert_num_queries(5):
        record_receipts(campaign=campaign, receipts=batch(range(4, 24)), now=MORNING_ET)

    assert SmsMessage.objects.filter(status="delivered").count() == 24
    assert ContactAttempt.objects.count() == 24


def test_the_lease_answer_is_what_its_serializer_documents(campaign, vendor_key):
    """The view builds the texts as plain dicts for speed; the documented serializer, run in
    full, gives the same answer."""
    from messaging.api.sms_serializers import LeaseSerializer
    from messaging.sms import lease_messages
    from messaging.sms_inbound import Inbound, record_inbound

    _, texts = due_texts(campaign, 3)
    help_request = Inbound("IN1", texts[2].phone, "HELP", MORNING_ET, is_vendor_confirmed=False)
    record_inbound(campaign=campaign, key=vendor_key[0], inbound=help_request)
    lease = lease_messages(key=vendor_key[0], limit=10, now=MORNING_ET)

    fast = sms_views.lease_data(lease)

    assert fast == LeaseSerializer(lease).data
    assert [m["kind"] for m in fast["messages"]] == ["program", "program", "program", "help"]
    assert fast["messages"][0] == {
        "id": texts[0].pk, "to": texts[0].phone, "body": texts[0].body, "encoding": "GSM-7",
        "segments": 1, "kind": "program",
    }  # fmt: skip
