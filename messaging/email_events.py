"""What providers report about sent email (issue 15 §3): deliveries, bounces, complaints.

Each event is kept once (EmailEvent, unique per campaign and provider event id), so a provider
retrying a delivery changes nothing the second time. Rules:
- a hard bounce or a complaint opts the address out of the campaign's email (ledger source
  `vendor_block`, the reason saying which);
- three soft bounces of an address within seven days do the same;
- an email moves only forward (sent/unknown -> delivered -> complained; -> bounced);
- the campaign's complaint rate (complaints over emails sent, the last 30 days) above 0.3 %
  pauses its sending until staff resume it (admin -> email settings).
Logs carry ids and counts, never an address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from django.db import transaction

from campaign.models import Campaign
from messaging.email import email_settings_of, record_email_contacts
from messaging.models import EmailEvent, EmailEventKind, EmailMessage, EmailSettings, EmailStatus
from voters.consent import is_contactable, record_opt_out
from voters.models import Channel, ConsentSource, ContactResult, Voter

logger = logging.getLogger(__name__)

SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = dt.timedelta(days=7)
COMPLAINT_RATE_LIMIT = 0.003
COMPLAINT_WINDOW = dt.timedelta(days=30)
# Statuses an event may move an email from, per the status it moves it to.
MOVES = {
    EmailStatus.DELIVERED: (EmailStatus.SENT, EmailStatus.UNKNOWN),
    EmailStatus.BOUNCED: (EmailStatus.SENT, EmailStatus.UNKNOWN, EmailStatus.DELIVERED),
    EmailStatus.COMPLAINED: (EmailStatus.SENT, EmailStatus.UNKNOWN, EmailStatus.DELIVERED),
}
STATUS_OF = {
    EmailEventKind.DELIVERED: EmailStatus.DELIVERED,
    EmailEventKind.HARD_BOUNCE: EmailStatus.BOUNCED,
    EmailEventKind.COMPLAINT: EmailStatus.COMPLAINED,
}
# Everything that counts as sent for the complaint rate's denominator.
SENT_STATUSES = (
    EmailStatus.SENT, EmailStatus.UNKNOWN, EmailStatus.DELIVERED, EmailStatus.BOUNCED,
    EmailStatus.COMPLAINED,
)  # fmt: skip


@dataclass(frozen=True)
class DeliveryEvent:
    """One provider event, in our words."""

    event_id: str
    kind: str  # EmailEventKind
    message_id: str  # our Message-ID, without angle brackets
    occurred_at: dt.datetime


@dataclass
class EventSummary:
    recorded: int = 0
    duplicate: int = 0
    unmatched: int = 0
    opted_out: int = 0
    paused: bool = False
    kinds: dict[str, int] = field(default_factory=dict)


def record_events(*, campaign: Campaign, events: list[DeliveryEvent], now: dt.datetime):
    """Apply a batch of events in one transaction; events of emails not in this campaign are
    ignored (counted `unmatched`)."""
    summary = EventSummary()
    with transaction.atomic():
        messages = {
            m.message_id: m
            for m in EmailMessage.objects.filter(
                campaign=campaign, message_id__in={e.message_id for e in events}
            )
        }
        for event in events:
            message = messages.get(event.message_id)
            if message is None:
                summary.unmatched += 1
                continue
            _apply(campaign, message, event, summary)
        if summary.kinds.get(EmailEventKind.COMPLAINT):
            summary.paused = pause_if_complaints_exceed(campaign=campaign, now=now)
    logger.info(
        "email events of campaign %s: %s recorded, %s duplicate, %s unmatched, %s opted out",
        campaign.pk, summary.recorded, summary.duplicate, summary.unmatched, summary.opted_out,
    )  # fmt: skip
    return summary


def _apply(campaign: Campaign, message: EmailMessage, event: DeliveryEvent, summary) -> None:
    _, created = EmailEvent.objects.get_or_create(
        campaign=campaign,
        provider_event_id=event.event_id,
        defaults={
            "message": message,
            "address": message.address,
            "kind": event.kind,
            "occurred_at": event.occurred_at,
        },
    )
    if not created:
        summary.duplicate += 1
        return
    summary.recorded += 1
    summary.kinds[event.kind] = summary.kinds.get(event.kind, 0) + 1
    status = STATUS_OF.get(event.kind)
    if status is not None:
        EmailMessage.objects.filter(pk=message.pk, status__in=MOVES[status]).update(
            status=status, finished_at=event.occurred_at, error=event.kind
        )
    reason = _suppression_reason(campaign, message, event)
    opted_out = bool(reason) and _opt_out(campaign, message, event, reason)
    summary.opted_out += opted_out
    result = _contact_result(event.kind, opted_out)
    if result:
        record_email_contacts([message.pk], result=result, at=event.occurred_at, note=event.kind)


def _contact_result(kind: str, opted_out: bool) -> str:
    """What the voter's timeline and the program page count: a delivery is counted when sent,
    bounces once each, a complaint or unsubscribe as the opt-out it was."""
    if kind in (EmailEventKind.HARD_BOUNCE, EmailEventKind.SOFT_BOUNCE):
        return ContactResult.BOUNCED
    if opted_out:
        return ContactResult.OPTED_OUT
    return ""


def _suppression_reason(campaign: Campaign, message: EmailMessage, event: DeliveryEvent) -> str:
    if event.kind == EmailEventKind.HARD_BOUNCE:
        return "email hard bounce"
    if event.kind == EmailEventKind.COMPLAINT:
        return "email complaint"
    if event.kind == EmailEventKind.UNSUBSCRIBE:
        return "unsubscribed at the provider"
    if event.kind == EmailEventKind.SOFT_BOUNCE:
        recent = EmailEvent.objects.filter(
            campaign=campaign,
            address=message.address,
            kind=EmailEventKind.SOFT_BOUNCE,
            occurred_at__gt=event.occurred_at - SOFT_BOUNCE_WINDOW,
            occurred_at__lte=event.occurred_at,
        ).count()
        if recent >= SOFT_BOUNCE_LIMIT:
            return f"{SOFT_BOUNCE_LIMIT} email soft bounces in {SOFT_BOUNCE_WINDOW.days} days"
    return ""


def _opt_out(campaign: Campaign, message: EmailMessage, event: DeliveryEvent, reason: str) -> bool:
    if not is_contactable(campaign=campaign, channel=Channel.EMAIL, address=message.address):
        return False  # suppressed already: one opt-out is enough
    source = (
        ConsentSource.UNSUBSCRIBE
        if event.kind == EmailEventKind.UNSUBSCRIBE
        else ConsentSource.VENDOR_BLOCK
    )
    record_opt_out(
        campaign=campaign,
        channel=Channel.EMAIL,
        address=message.address,
        source=source,
        occurred_at=min(event.occurred_at, dt.datetime.now(dt.UTC)),
        voter=Voter.objects.filter(pk=message.voter_id, campaign=campaign).first(),
        actor="email provider",
        reason=reason,
        dedupe_key=hashlib.sha256(f"email-event:{event.event_id}".encode()).hexdigest(),
    )
    return True


def complaint_rate(*, campaign: Campaign | int, now: dt.datetime) -> float | None:
    """Complaints over emails sent in the last 30 days; None when none was sent."""
    since = now - COMPLAINT_WINDOW
    sent = EmailMessage.objects.filter(
        campaign=campaign, status__in=SENT_STATUSES, sent_at__gt=since
    ).count()
    if not sent:
        return None
    complaints = EmailEvent.objects.filter(
        campaign=campaign, kind=EmailEventKind.COMPLAINT, occurred_at__gt=since
    ).count()
    return complaints / sent


def pause_if_complaints_exceed(*, campaign: Campaign, now: dt.datetime) -> bool:
    """Pauses the campaign's sending when its complaint rate is above 0.3 %; True if it did."""
    rate = complaint_rate(campaign=campaign, now=now)
    if rate is None or rate <= COMPLAINT_RATE_LIMIT:
        return False
    email_settings_of(campaign)  # the row exists from here
    paused = EmailSettings.objects.filter(campaign=campaign, paused_at__isnull=True).update(
        paused_at=now, pause_reason=f"complaint rate {rate:.2%} over 30 days (limit 0.3 %)"
    )
    if paused:
        logger.warning("campaign %s: email paused, complaint rate %.4f", campaign.pk, rate)
    return bool(paused)
