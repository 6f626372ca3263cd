"""Replies and delivery errors (messaging.sms_inbound): STOP opts out at once and confirms exactly
once, HELP answers anyone, START opts back in, natural language per messaging.replies, and each
vendor error code does what it says. Exact row counts after every step."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from campaign.models import AuditEvent
from campaign.services import create_vendor_key
from messaging.api import sms_views
from messaging.models import PausedVariant, SmsInbound, SmsMessage, UntextablePhone
from messaging.sms import ack_message, fill_outbox, lease_messages, release_due_messages
from messaging.sms_inbound import (
    Inbound,
    Receipt,
    record_inbound,
    record_receipts,
    resolve_review,
)
from tests.factories import CampaignFactory, UserFactory, VoterFactory
from tests.messaging.sms_setup import MORNING_ET, due_texts, nc_voters, sms_post, sms_program
from voters.consent import is_contactable
from voters.models import ConsentEvent, ContactAttempt

pytestmark = pytest.mark.django_db

INBOUND = "/api/v1/sms/inbound"
NIGHT_ET = dt.datetime(2026, 12, 8, 3, 0, tzinfo=dt.UTC)  # 22:00 in New York


@pytest.fixture
def texted(campaign):
    """A voter whose program text was sent, and the text."""
    _, texts = due_texts(campaign, 2)
    key = create_vendor_key(campaign=campaign, name="Acme", user=None)[0]
    lease_messages(key=key, limit=1, now=MORNING_ET)
    ack_message(key=key, message_id=texts[0].pk, vendor_message_id="SM0", now=MORNING_ET)
    return texts[0]


def same_phone(text: SmsMessage):
    """Another voter on the texted number (one already in a running program is not drawn again)."""
    return VoterFactory(campaign=text.campaign, zip5="27701", state="NC", phone=text.phone)


def reply(campaign, phone: str, body: str, vendor_id: str, **extra) -> tuple[SmsInbound, bool]:
    inbound = Inbound(
        vendor_message_id=vendor_id, phone=phone, body=body, received_at=MORNING_ET, **extra
    )
    return record_inbound(campaign=campaign, inbound=inbound)


def events(campaign, phone: str) -> list[tuple[str, str]]:
    rows = ConsentEvent.objects.filter(campaign=campaign, channel="sms", address=phone)
    return list(rows.order_by("pk").values_list("kind", "source"))


def answers(phone: str) -> list[str]:
    rows = SmsMessage.objects.filter(phone=phone).exclude(kind="program").order_by("pk")
    return list(rows.values_list("kind", flat=True))


# -- STOP ------------------------------------------------------------------------------------


def test_stop_opts_the_number_out_at_once_and_queues_one_confirmation(campaign, texted):
    row, is_new = reply(campaign, texted.phone, "STOP", "IN1")

    assert (is_new, row.kind, row.recorded, row.voter_id) == (True, "opt_out", "opt_out",
                                                               texted.voter_id)  # fmt: skip
    assert row.in_reply_to_id == texted.pk
    assert events(campaign, texted.phone) == [("opt_out", "stop_reply")]
    assert not is_contactable(campaign=campaign, channel="sms", address=texted.phone)
    assert answers(texted.phone) == ["opt_out_confirmation"]
    confirmation = SmsMessage.objects.get(reply_to=row)
    assert confirmation.status == "due"
    assert confirmation.body == (
        "Home campaign: You are unsubscribed and will get no more texts. "
        "Reply START to resubscribe."
    )
    contact = ContactAttempt.objects.get()
    assert (contact.voter_id, contact.result, contact.program_id) == (
        texted.voter_id, "opted_out", texted.design.program_id,
    )  # fmt: skip


def test_a_stop_opts_out_the_number_that_sent_it_after_the_voter_s_phone_changed(campaign, texted):
    voter = texted.voter
    voter.phone = "+19195550199"  # a newer voter file gave the voter another number
    voter.save(update_fields=["phone"])

    row, _ = reply(campaign, texted.phone, "STOP", "IN1")
    _, is_new = reply(campaign, texted.phone, "STOP", "IN1")

    assert row.voter_id == voter.pk
    assert not is_new  # delivered twice: recorded once
    assert events(campaign, texted.phone) == [("opt_out", "stop_reply")]
    assert not is_contactable(campaign=campaign, channel="sms", address=texted.phone)
    # The voter said stop to us: the opted-out contact also closes their number on file.
    assert len(events(campaign, "+19195550199")) == 1
    assert answers(texted.phone) == ["opt_out_confirmation"]
    assert ContactAttempt.objects.filter(voter=voter, result="opted_out").count() == 1


def test_the_same_stop_delivered_three_times_changes_nothing_more(campaign, texted):
    results = [reply(campaign, texted.phone, "STOP", "IN1")[1] for _ in range(3)]

    assert results == [True, False, False]
    assert SmsInbound.objects.count() == 1
    assert len(events(campaign, texted.phone)) == 1
    assert answers(texted.phone) == ["opt_out_confirmation"]
    assert ContactAttempt.objects.count() == 1


@pytest.mark.parametrize("bodies", [("STOP", "stop", "S.T.O.P!!"), ("Stop please", "QUIT", "end")])
def test_three_different_stops_opt_out_and_confirm_once(campaign, texted, bodies):
    for i, body in enumerate(bodies):
        reply(campaign, texted.phone, body, f"IN{i}")

    assert SmsInbound.objects.count() == 3
    assert list(SmsInbound.objects.order_by("pk").values_list("recorded", flat=True)) == [
        "opt_out", "", "",
    ]  # fmt: skip
    assert len(events(campaign, texted.phone)) == 1
    assert answers(texted.phone) == ["opt_out_confirmation"]


def test_a_stop_the_vendor_already_confirmed_is_recorded_without_a_second_confirmation(
    campaign, texted
):
    reply(campaign, texted.phone, "STOP", "IN1", is_vendor_confirmed=True)

    assert len(events(campaign, texted.phone)) == 1
    assert answers(texted.phone) == []


def test_a_stop_cancels_the_number_s_texts_not_yet_leased(campaign, texted):
    later = sms_program(campaign, [same_phone(texted)], name="Second", control_share=0.001)
    fill_outbox(design=later)
    release_due_messages(now=MORNING_ET)

    reply(campaign, texted.phone, "unsubscribe", "IN1")

    second = SmsMessage.objects.get(design=later)
    assert (second.status, second.cancel_reason) == ("canceled", "opted_out")


def test_a_stop_from_a_number_we_never_texted_still_opts_it_out(campaign):
    row, _ = reply(campaign, "+19195550177", "STOP", "IN1")

    assert row.voter_id is None
    assert events(campaign, "+19195550177") == [("opt_out", "stop_reply")]
    assert answers("+19195550177") == ["opt_out_confirmation"]
    assert ContactAttempt.objects.count() == 0


def test_a_stop_holds_only_in_its_own_campaign(campaign, texted):
    other = CampaignFactory(slug="other")

    reply(other, texted.phone, "STOP", "IN1")

    assert events(campaign, texted.phone) == []
    assert is_contactable(campaign=campaign, channel="sms", address=texted.phone)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_two_stops_at_once_from_one_number_confirm_once():
    campaign = CampaignFactory(slug="race", name="Race", state="NC")
    phone = "+19195550188"
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def send(vendor_id: str) -> None:
        try:
            start.wait(5)
            reply(campaign, phone, "STOP", vendor_id)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(f"IN{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert errors == []
    assert SmsInbound.objects.filter(campaign=campaign).count() == 2
    assert len(events(campaign, phone)) == 1
    assert answers(phone) == ["opt_out_confirmation"]


# -- HELP, START, natural language -------------------------------------------------------------


def test_help_answers_even_an_opted_out_number_and_changes_nothing(campaign, texted):
    reply(campaign, texted.phone, "STOP", "IN1")

    row, _ = reply(campaign, texted.phone, "help", "IN2")

    help_text = SmsMessage.objects.get(reply_to=row)
    assert (row.kind, row.recorded, help_text.kind) == ("help", "", "help")
    assert "Msg & data rates may apply. Reply STOP to opt out." in help_text.body
    assert help_text.body.startswith("Home campaign: Msg frequency varies.")
    assert len(events(campaign, texted.phone)) == 1  # still opted out
    assert answers(texted.phone) == ["opt_out_confirmation", "help"]


def test_help_answers_a_campaign_whose_name_is_not_gsm7(campaign):
    campaign.name = "Vote 🗳️ 2026"
    campaign.save()

    row, _ = reply(campaign, "+19195550177", "HELP", "IN1")

    answer = SmsMessage.objects.get(reply_to=row)
    assert answer.body == (
        "Vote 🗳️ 2026: Msg frequency varies. Help: reply to this number. "
        "Msg & data rates may apply. Reply STOP to opt out."
    )
    assert answer.encoding == "UCS-2"


def test_start_opts_the_person_back_in_and_confirms(campaign, texted):
    reply(campaign, texted.phone, "STOP", "IN1")

    row, _ = reply(campaign, texted.phone, "START", "IN2")

    assert row.recorded == "opt_in"
    assert events(campaign, texted.phone) == [("opt_out", "stop_reply"), ("opt_in", "start_reply")]
    assert is_contactable(campaign=campaign, channel="sms", address=texted.phone)
    assert answers(texted.phone) == ["opt_out_confirmation", "opt_in_confirmation"]


def test_yes_from_a_number_that_never_opted_out_is_just_an_answer(campaign, texted):
    row, _ = reply(campaign, texted.phone, "Yes", "IN1")

    assert (row.kind, row.recorded) == ("opt_in", "")
    assert events(campaign, texted.phone) == []
    assert answers(texted.phone) == []
    assert list(ContactAttempt.objects.values_list("result", flat=True)) == ["replied"]


@pytest.mark.parametrize(
    ("body", "recorded", "review"),
    [
        ("please remove me from your list", "opt_out", False),
        ("no más", "opt_out", False),
        ("wrong number stop texting me", "opt_out", False),
        ("we have to stop this bill", "", False),
        ("wrong number", "", True),
        ("Who is this?", "", False),
    ],
)
def test_natural_language_replies(campaign, texted, body, recorded, review):
    row, _ = reply(campaign, texted.phone, body, "IN1")

    assert (row.recorded, row.needs_review) == (recorded, review)
    assert len(events(campaign, texted.phone)) == (1 if recorded else 0)
    assert answers(texted.phone) == (["opt_out_confirmation"] if recorded else [])


def test_a_reply_held_for_review_holds_its_number_s_texts_until_staff_decide(campaign):
    _, texts = due_texts(campaign, 3)
    key = create_vendor_key(campaign=campaign, name="Acme", user=None)[0]
    row, _ = reply(campaign, texts[0].phone, "wrong number", "IN1")

    held = lease_messages(key=key, limit=10, now=MORNING_ET)
    decided = resolve_review(reply=row, opt_out=False, by=UserFactory())
    released = lease_messages(key=key, limit=10, now=MORNING_ET)

    assert row.needs_review
    assert sorted(m.pk for m in held.messages) == [texts[1].pk, texts[2].pk]
    assert decided
    assert [m.pk for m in released.messages] == [texts[0].pk]
    assert events(campaign, texts[0].phone) == []
    row.refresh_from_db()
    assert row.review_outcome == "kept"


def test_staff_opting_a_reviewed_number_out_records_it_once_and_confirms_once(campaign):
    _, texts = due_texts(campaign, 1)
    row, _ = reply(campaign, texts[0].phone, "not interested", "IN1")
    staff = UserFactory()

    first = resolve_review(reply=row, opt_out=True, by=staff)
    second = resolve_review(reply=row, opt_out=True, by=staff)
    third = resolve_review(reply=row, opt_out=False, by=staff)

    assert (first, second, third) == (True, False, False)
    assert events(campaign, texts[0].phone) == [("opt_out", "staff")]
    assert AuditEvent.objects.filter(action="consent_change").count() == 1
    assert answers(texts[0].phone) == ["opt_out_confirmation"]
    assert SmsMessage.objects.get(pk=texts[0].pk).status == "canceled"


def test_a_confirmation_is_leased_at_any_hour_a_program_text_is_not(campaign, texted):
    key = create_vendor_key(campaign=campaign, name="Night", user=None)[0]
    reply(campaign, "+19195550199", "STOP", "IN1")

    lease = lease_messages(key=key, limit=10, now=NIGHT_ET)

    assert [m.kind for m in lease.messages] == ["opt_out_confirmation"]
    assert SmsMessage.objects.filter(kind="program", status="due").count() == 1


def test_replies_through_the_api(client, vendor_key, campaign, texted, monkeypatch):
    monkeypatch.setattr(sms_views, "clock", lambda: MORNING_ET)
    stop = {"vendor_message_id": "IN1", "phone": texted.phone, "body": "Stop",
            "received_at": "2026-12-07T15:05:00Z"}  # fmt: skip
    help_ = {**stop, "vendor_message_id": "IN2", "body": "HELP"}

    first = sms_post(client, vendor_key, INBOUND, {"messages": [stop, help_]}, key="a")
    again = sms_post(client, vendor_key, INBOUND, {"messages": [stop]}, key="b")

    assert first.json() == {
        "results": [
            {"vendor_message_id": "IN1", "is_new": True, "kind": "opt_out",
             "recorded": "opt_out", "answered": True},
            {"vendor_message_id": "IN2", "is_new": True, "kind": "help", "recorded": "",
             "answered": True},
        ]
    }  # fmt: skip
    assert again.json()["results"][0]["is_new"] is False
    assert len(events(campaign, texted.phone)) == 1
    assert answers(texted.phone) == ["opt_out_confirmation", "help"]


# -- vendor error codes -------------------------------------------------------------------------


def failed(campaign, vendor_id: str, code: str):
    return record_receipts(
        campaign=campaign,
        receipts=[Receipt(vendor_id, "failed", MORNING_ET, code)],
        now=MORNING_ET,
    )


def test_an_unsubscribed_or_blocked_recipient_is_suppressed(campaign, texted):
    failed(campaign, "SM0", "21610")

    assert events(campaign, texted.phone) == [("opt_out", "vendor_block")]
    assert answers(texted.phone) == []  # the carrier blocks us: no confirmation to send
    contact = ContactAttempt.objects.get()
    assert (contact.result, contact.note) == ("failed", f"SMS {texted.pk}, error 21610")


def test_a_landline_is_marked_not_textable_and_never_texted_again(campaign, texted):
    failed(campaign, "SM0", "30006")
    later = sms_program(campaign, [same_phone(texted)], name="Second", control_share=0.001)
    fill_outbox(design=later)

    release_due_messages(now=MORNING_ET)

    assert list(UntextablePhone.objects.values_list("phone", "reason", "error_code")) == [
        (texted.phone, "not_textable", "30006")
    ]
    assert events(campaign, texted.phone) == []  # not an opt-out
    second = SmsMessage.objects.get(design=later)
    assert (second.status, second.cancel_reason) == ("canceled", "not_textable")


def test_carrier_filtering_above_the_rate_pauses_the_variant(campaign):
    voters = nc_voters(campaign, 12)
    design = sms_program(campaign, voters, control_share=0.001)
    fill_outbox(design=design)
    release_due_messages(now=MORNING_ET)
    key = create_vendor_key(campaign=campaign, name="Acme", user=None)[0]
    leased = lease_messages(key=key, limit=10, now=MORNING_ET).messages
    for i, message in enumerate(leased):
        ack_message(key=key, message_id=message.pk, vendor_message_id=f"SM{i}", now=MORNING_ET)

    failed(campaign, "SM0", "30007")
    after_one = PausedVariant.objects.count()
    failed(campaign, "SM1", "30007")
    failed(campaign, "SM2", "30007")
    after_three = lease_messages(key=key, limit=10, now=MORNING_ET)

    assert after_one == 0  # 1 of 10 sent: within the allowance (2 % of at least 100)
    assert list(PausedVariant.objects.values_list("filtered", "sent")) == [(3, 10)]
    assert after_three.messages == []  # the variant's last two texts wait for review
    assert SmsMessage.objects.filter(design=design, status="due").count() == 2


def test_a_reply_whose_vendor_id_was_recorded_meanwhile_is_not_handled_twice(campaign, monkeypatch):
    from messaging import sms_inbound

    first, _ = reply(campaign, "+19195550177", "STOP", "IN1")
    # The look-up misses it, as when the first was being recorded under another number's lock.
    monkeypatch.setattr(sms_inbound, "_recorded", lambda campaign, vendor_message_id: None)

    again, is_new = reply(campaign, "+19195550178", "STOP", "IN1")

    assert (again.pk, is_new) == (first.pk, False)
    assert ConsentEvent.objects.count() == 1


def test_a_resumed_variant_is_leased_again_and_its_filtering_counts_afresh(campaign, staff_user):
    from campaign.models import AuditEvent
    from messaging.sms_inbound import resume_variant

    voters = nc_voters(campaign, 12)
    design = sms_program(campaign, voters, control_share=0.001)
    fill_outbox(design=design)
    release_due_messages(now=MORNING_ET)
    key = create_vendor_key(campaign=campaign, name="Acme", user=None)[0]
    for i, message in enumerate(lease_messages(key=key, limit=10, now=MORNING_ET).messages):
        ack_message(key=key, message_id=message.pk, vendor_message_id=f"SM{i}", now=MORNING_ET)
    for vendor_id in ("SM0", "SM1", "SM2"):
        failed(campaign, vendor_id, "30007")
    paused = PausedVariant.objects.get()
    reviewed = MORNING_ET + dt.timedelta(minutes=5)

    assert resume_variant(paused=paused, by=staff_user, now=reviewed) is True
    assert resume_variant(paused=paused, by=staff_user, now=reviewed) is False  # once
    later = reviewed + dt.timedelta(minutes=1)
    rest = lease_messages(key=key, limit=10, now=later).messages
    for i, message in enumerate(rest):
        ack_message(key=key, message_id=message.pk, vendor_message_id=f"SM{10 + i}", now=later)
    failed(campaign, "SM10", "30007")

    assert len(rest) == 2  # the two that waited for review
    # 1 filtered of the 2 sent since the review: within the allowance. Counted over all its
    # texts (4 of 12) it would have paused again at once.
    assert PausedVariant.objects.count() == 0
    event = AuditEvent.objects.get(action="variant_resume")
    assert (event.user, event.detail["filtered"], event.detail["sent"]) == (staff_user, 3, 10)
    assert SmsMessage.objects.filter(design=design, status="due").count() == 0
