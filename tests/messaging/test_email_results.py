"""Email's results (issue 15 §4): sends, refusals, bounces, complaints and unsubscribes become
contact attempts on the program's arm and consent events, shown on the voter's timeline and
counted on the program page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from messaging.email import fill_email_outbox, record_email_contacts, send_batch
from messaging.email_events import DeliveryEvent, record_events
from messaging.email_tokens import make_token
from messaging.email_unsubscribe import unsubscribe
from messaging.models import EmailMessage
from messaging.selectors import delivered_counts
from tests.messaging.email_setup import email_program, email_voters, with_identity
from voters.models import ConsentEvent, ContactAttempt, Voter
from voters.selectors import voter_timeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_program(campaign, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with_identity(campaign)
    design = email_program(campaign, email_voters(campaign, 3))
    fill_email_outbox(design=design)
    send_batch(campaign_id=campaign.pk, now=timezone.now() - dt.timedelta(minutes=5))
    return design


def message_to(address: str) -> EmailMessage:
    return EmailMessage.objects.get(address=address)


def results_by_address() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for email, result in ContactAttempt.objects.order_by("occurred_at", "id").values_list(
        "voter__email", "result"
    ):
        found.setdefault(email.lower(), []).append(result)
    return found


def test_each_send_is_a_contact_on_the_program_s_arm(sent_program):
    attempts = ContactAttempt.objects.all()

    assert attempts.count() == 3
    assert set(attempts.values_list("channel", "result", "source", "program_id", "variant")) == {
        ("email", "delivered", "vendor_api", sent_program.program_id, "Mail-email")
    }
    arms = {m.voter_id: m.arm_id for m in EmailMessage.objects.all()}
    assert {a.voter_id: a.arm_id for a in attempts} == arms


def test_bounces_complaints_and_unsubscribes_are_contacts_and_consent_events(
    sent_program, campaign
):
    now = timezone.now()
    bounced, complained, leaving = (message_to(f"voter{i}@example.org") for i in range(3))
    record_events(
        campaign=campaign,
        events=[
            DeliveryEvent("ev-1", "hard_bounce", bounced.message_id, now),
            DeliveryEvent("ev-2", "complaint", complained.message_id, now),
        ],
        now=now,
    )
    token = make_token(campaign_id=campaign.pk, message_id=leaving.pk, now=now)
    unsubscribe(token=token, now=now, via="one-click")

    assert results_by_address() == {
        "voter0@example.org": ["delivered", "bounced"],
        "voter1@example.org": ["delivered", "opted_out"],
        "voter2@example.org": ["delivered", "opted_out"],
    }
    assert sorted(ConsentEvent.objects.values_list("address", "source", "reason")) == [
        ("voter0@example.org", "vendor_block", "email hard bounce"),
        ("voter1@example.org", "vendor_block", "email complaint"),
        ("voter2@example.org", "unsubscribe", ""),
    ]
    timeline, _ = voter_timeline(Voter.objects.get(pk=bounced.voter_id))
    assert [(i.what, i.channel, i.detail.split(" (")[0]) for i in timeline] == [
        ("consent", "Email", "Opt-out: email hard bounce"),
        ("contact", "Email", "Bounced"),
        ("contact", "Email", "Delivered"),
    ]
    counts = {(c.channel, c.result): c.attempts for c in delivered_counts(
        program_id=sent_program.program_id)}  # fmt: skip
    assert counts == {("email", "delivered"): 3, ("email", "bounced"): 1,
                      ("email", "opted_out"): 2}  # fmt: skip


def test_a_repeated_event_or_unsubscribe_adds_no_contact(sent_program, campaign):
    now = timezone.now()
    message = message_to("voter0@example.org")
    event = DeliveryEvent("ev-1", "complaint", message.message_id, now)
    token = make_token(campaign_id=campaign.pk, message_id=message.pk, now=now)

    for _ in range(2):
        record_events(campaign=campaign, events=[event], now=now)
        unsubscribe(token=token, now=now, via="one-click")

    assert ContactAttempt.objects.count() == 4  # three sends and the complaint
    assert ConsentEvent.objects.count() == 1


def test_the_contacts_of_no_email_are_nothing(db):
    assert record_email_contacts([], result="delivered", at=timezone.now(), note="sent") == 0
