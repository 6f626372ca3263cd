"""What vendors report back (issue 14 §3-§4): delivery receipts and the voters' replies.

Receipts move a text forward only (messaging.sms.move_status), once per (vendor id, status), in
any order; a final receipt becomes a contact attempt, and a delivery error does what its code
says (messaging.replies.vendor_error_action), never a blind retry. A reply is classified
(messaging.replies), written to the consent ledger when it opts the number out or in, becomes a
contact attempt, and gets at most one answer (a confirmation, the HELP text). Replies from one
number are handled one at a time (a PostgreSQL advisory lock), so a STOP sent three times, or
twice at once, opts out and confirms once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from campaign.lib.bulk_insert import insert_rows
from campaign.models import AuditAction, Campaign, VendorApiKey
from campaign.services import record_audit_event
from messaging.models import (
    MessageVariant,
    PausedVariant,
    SmsInbound,
    SmsKind,
    SmsMessage,
    SmsReceipt,
    SmsStatus,
    UntextablePhone,
)
from messaging.replies import (
    ErrorEffect,
    classify_reply,
    decide_reply,
    help_text,
    should_pause_variant,
    vendor_error_action,
)
from messaging.sms import (
    PENDING,
    RANK,
    is_opted_out,
    queue_answer,
    sms_settings_of,
    statuses_below,
)
from voters.consent import normalize_address, not_after_now, record_opt_in, record_opt_out
from voters.contacts import NewContact, record_contact, record_contacts
from voters.models import Channel, ConsentSource, ContactResult, ContactSource, Voter

logger = logging.getLogger(__name__)

RECEIPT_STATUSES = (
    SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.FAILED, SmsStatus.UNDELIVERED, SmsStatus.UNKNOWN,
)  # fmt: skip
CONTACT_RESULTS = {
    SmsStatus.DELIVERED: ContactResult.DELIVERED,
    SmsStatus.FAILED: ContactResult.FAILED,
    SmsStatus.UNDELIVERED: ContactResult.FAILED,
}
FILTERED_CODE = "30007"
HELP_CONTACT_FALLBACK = "reply to this number"
HELP_REQUIRED = "Msg & data rates may apply. Reply STOP to opt out."


# --------------------------------------------------------------------------------------------
# Receipts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    vendor_message_id: str
    status: str
    occurred_at: dt.datetime
    error_code: str = ""


@dataclass
class ReceiptOutcome:
    applied: int = 0  # moved a text forward
    duplicates: int = 0  # this (id, status) was reported before
    stale: int = 0  # new, but the text was already at or past it (out of order)
    unknown: list[str] = field(default_factory=list)  # no text of ours has this vendor id


@dataclass(frozen=True)
class _Text:
    """What a receipt needs of its text: read as plain values, not a model instance (a batch
    of a thousand receipts spent more time building instances than the database did)."""

    pk: int
    vendor_message_id: str
    status: str
    campaign_id: int
    voter_id: int | None
    kind: str
    arm_id: int | None
    variant_id: int | None
    variant_name: str | None
    program_id: int | None


TEXT_COLUMNS = (
    "pk", "vendor_message_id", "status", "campaign_id", "voter_id", "kind", "arm_id",
    "variant_id", "variant__name", "design__program_id",
)  # fmt: skip
RECEIPT_COLUMNS = (
    "campaign_id", "message_id", "vendor_message_id", "status", "error_code", "occurred_at",
    "received_at",
)  # fmt: skip


def record_receipts(
    *, campaign: Campaign, receipts: list[Receipt], now: dt.datetime, provider: str = "twilio"
) -> ReceiptOutcome:
    """Applies a batch of receipts, set-based (a handful of queries whatever its size, plus one
    per error code that acts); unknown ids are reported, not fatal.

    The batch's texts are locked (FOR UPDATE) and each receipt is applied in order against the
    status so far, so "failed" then "delivered" for one text keeps the first final one, and a
    concurrent batch waits rather than interleaves. Every UPDATE still names the statuses it
    may leave: a final status is never left.
    """
    outcome = ReceiptOutcome()
    # A vendor's clock ahead of ours must not date history in the future.
    receipts = [replace(r, occurred_at=min(r.occurred_at, now)) for r in receipts]
    texts = _locked_texts(campaign, {r.vendor_message_id for r in receipts})
    fresh = _first_reports(campaign, texts, receipts, outcome)
    status = {text.pk: text.status for text in texts.values()}
    moved: list[tuple[_Text, Receipt]] = []
    for receipt in fresh:
        text = texts[receipt.vendor_message_id]
        if RANK[receipt.status] <= RANK[status[text.pk]]:
            outcome.stale += 1
            continue
        status[text.pk] = receipt.status
        moved.append((text, receipt))
    outcome.applied = len(moved)
    _move(moved, now)
    _settle(moved, provider)
    logger.info(
        "sms receipts for campaign %s: %s applied, %s duplicate, %s stale, %s unknown",
        campaign.pk, outcome.applied, outcome.duplicates, outcome.stale, len(outcome.unknown),
    )  # fmt: skip
    return outcome


def _locked_texts(campaign: Campaign, vendor_ids: set[str]) -> dict[str, _Text]:
    texts = (
        SmsMessage.objects.filter(campaign=campaign, vendor_message_id__in=vendor_ids)
        .select_for_update(of=("self",))
        .order_by("pk")  # one lock order for every batch: no deadlock between two
        .values_list(*TEXT_COLUMNS)
    )
    return {row[1]: _Text(*row) for row in texts}


def _first_reports(
    campaign: Campaign, texts: dict[str, _Text], receipts: list[Receipt], outcome: ReceiptOutcome
) -> list[Receipt]:
    """The receipts never reported before (written now); counts the others in `outcome`."""
    known = {r.vendor_message_id for r in receipts if r.vendor_message_id in texts}
    seen = set(
        SmsReceipt.objects.filter(campaign=campaign, vendor_message_id__in=known)
        .order_by()
        .values_list("vendor_message_id", "status")
    )
    fresh = []
    for receipt in receipts:
        pair = (receipt.vendor_message_id, receipt.status)
        if receipt.vendor_message_id not in texts:
            outcome.unknown.append(receipt.vendor_message_id)
        elif pair in seen:
            outcome.duplicates += 1
        else:
            seen.add(pair)
            fresh.append(receipt)
    received_at = timezone.now()
    rows = [
        (campaign.pk, texts[r.vendor_message_id].pk, r.vendor_message_id, r.status, r.error_code,
         r.occurred_at, received_at)
        for r in fresh
    ]  # fmt: skip
    # The texts are locked, so no other batch writes these; should one anyway, its row stands
    # and this batch's duplicate is dropped rather than failing the request.
    insert_rows(SmsReceipt, RECEIPT_COLUMNS, rows, ignore_conflicts=True)
    return fresh


def _move(moved: list[tuple[_Text, Receipt]], now: dt.datetime) -> None:
    """One UPDATE per (status, error code) reached: each text to its last forward status."""
    last = {text.pk: receipt for text, receipt in moved}
    groups: dict[tuple[str, str], list[int]] = {}
    for pk, receipt in last.items():
        groups.setdefault((receipt.status, receipt.error_code), []).append(pk)
    for (status, error_code), pks in groups.items():
        fields: dict = {"status": status}
        if RANK[status] == RANK[SmsStatus.DELIVERED]:
            fields["finished_at"] = now
        if error_code:
            fields["error_code"] = error_code
        SmsMessage.objects.filter(pk__in=pks, status__in=statuses_below(status)).update(**fields)


def _settle(moved: list[tuple[_Text, Receipt]], provider: str) -> None:
    """What receipts that moved their texts mean beyond the status: a contact attempt for a
    final one, and what an error code says."""
    record_contacts(
        contacts=[
            NewContact(
                campaign_id=text.campaign_id,
                voter_id=text.voter_id,
                channel=Channel.SMS,
                result=CONTACT_RESULTS[receipt.status],
                occurred_at=receipt.occurred_at,
                source=ContactSource.VENDOR_API,
                program_id=text.program_id,
                arm_id=text.arm_id,
                variant=text.variant_name or "",
                note=f"SMS {text.pk}"
                + (f", error {receipt.error_code}" if receipt.error_code else ""),
            )
            for text, receipt in moved
            if receipt.status in CONTACT_RESULTS
            and text.kind == SmsKind.PROGRAM
            and text.voter_id is not None
        ]
    )
    for text, receipt in moved:
        if receipt.error_code and RANK[receipt.status] == RANK[SmsStatus.FAILED]:
            _act_on_error(text, receipt, provider)


def _act_on_error(text: _Text, receipt: Receipt, provider: str) -> None:
    action = vendor_error_action(provider, receipt.error_code)
    if action.effect == ErrorEffect.SUPPRESS_NUMBER:
        message = SmsMessage.objects.select_related("campaign", "voter").get(pk=text.pk)
        record_opt_out(
            campaign=message.campaign,
            channel=Channel.SMS,
            address=message.phone,
            source=ConsentSource.VENDOR_BLOCK,
            occurred_at=receipt.occurred_at,
            voter=message.voter,
            actor=provider,
            reason=f"{provider} error {receipt.error_code}",
            dedupe_key=f"sms-error:{message.pk}",
        )
    elif action.effect in (ErrorEffect.NOT_TEXTABLE, ErrorEffect.PHONE_INVALID):
        phone = SmsMessage.objects.values_list("phone", flat=True).get(pk=text.pk)
        UntextablePhone.objects.get_or_create(
            campaign_id=text.campaign_id,
            phone=phone,
            defaults={"reason": action.effect, "error_code": receipt.error_code},
        )
    elif action.effect == ErrorEffect.VARIANT_FILTERED and text.variant_id:
        _pause_if_filtered(text.variant_id)


def _pause_if_filtered(variant_id: int) -> None:
    if PausedVariant.objects.filter(variant_id=variant_id).exists():
        return  # paused already: no need to count its texts again
    texts = SmsMessage.objects.filter(variant_id=variant_id)
    since = MessageVariant.objects.values_list("filtering_counted_since", flat=True).get(
        pk=variant_id
    )
    if since is not None:  # resumed by staff: only what was sent since counts
        texts = texts.filter(sent_at__gte=since)
    filtered = texts.filter(error_code=FILTERED_CODE).count()
    sent = texts.filter(sent_at__isnull=False).count()
    if should_pause_variant(filtered, sent):
        _, paused = PausedVariant.objects.get_or_create(
            variant_id=variant_id, defaults={"filtered": filtered, "sent": sent}
        )
        if paused:
            logger.warning("variant %s paused: %s of %s sends filtered", variant_id, filtered, sent)


def resume_variant(
    *,
    paused: PausedVariant,
    by: AbstractBaseUser,
    client_ip: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Staff reviewed a variant carriers filtered and send it again; False if it was resumed
    already. Its texts are leased again at once, and its filtering is counted afresh from now:
    counted over all its texts, the rate that paused it would pause it again at the next
    filtered text."""
    now = now or timezone.now()
    with transaction.atomic():
        deleted, _ = PausedVariant.objects.filter(pk=paused.pk).delete()
        if not deleted:
            return False
        variant = MessageVariant.objects.select_for_update().get(pk=paused.variant_id)
        variant.filtering_counted_since = now
        variant.save(update_fields=["filtering_counted_since"])
        record_audit_event(
            action=AuditAction.VARIANT_RESUME,
            campaign=variant.campaign_id,
            user=by,
            obj=variant,
            client_ip=client_ip,
            detail={"filtered": paused.filtered, "sent": paused.sent,
                    "paused_at": paused.paused_at.isoformat()},
        )  # fmt: skip
    logger.info("variant %s resumed by user %s", variant.pk, by.pk)
    return True


# --------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    vendor_message_id: str
    phone: str
    body: str
    received_at: dt.datetime
    is_vendor_confirmed: bool = False


def record_inbound(
    *, campaign: Campaign, inbound: Inbound, key: VendorApiKey | None = None
) -> tuple[SmsInbound, bool]:
    """Handles one reply; returns it and whether it is new (a reply forwarded again is not)."""
    phone = normalize_address(Channel.SMS, inbound.phone)
    with transaction.atomic():
        _lock_number(campaign.pk, phone)
        existing = _recorded(campaign, inbound.vendor_message_id)
        if existing is not None:
            return existing, False
        reply = classify_reply(inbound.body)
        decision = decide_reply(
            reply,
            is_opted_out=is_opted_out(campaign=campaign, phone=phone),
            vendor_confirmed=inbound.is_vendor_confirmed,
        )
        last = _last_text_to(campaign, phone)
        row = _create_reply(
            campaign=campaign,
            vendor_message_id=inbound.vendor_message_id,
            vendor_key=key,
            phone=phone,
            body=inbound.body,
            received_at=not_after_now(inbound.received_at),
            is_vendor_confirmed=inbound.is_vendor_confirmed,
            kind=reply.kind,
            rule=reply.rule,
            recorded=decision.record,
            needs_review=decision.review,
            voter=last.voter if last else _voter_of(campaign, phone),
            in_reply_to=last,
        )
        if row is None:  # forwarded at the same moment from another number's lock
            found = SmsInbound.objects.get(
                campaign=campaign, vendor_message_id=inbound.vendor_message_id
            )
            return found, False
        _record_history(row, last, decision.record, key)
        # A vendor that answered the keyword itself (Twilio's opt-out handling) is not doubled.
        if decision.send and not (decision.send == SmsKind.HELP and inbound.is_vendor_confirmed):
            queue_answer(
                campaign=campaign,
                kind=decision.send,
                phone=phone,
                body=answer_text(campaign, decision.send),
                reply_to_id=row.pk,
            )
    logger.info(
        "sms reply %s for campaign %s: %s%s", row.pk, campaign.pk, reply.kind,
        f", {decision.record}" if decision.record else "",
    )  # fmt: skip
    return row, True


def _recorded(campaign: Campaign, vendor_message_id: str) -> SmsInbound | None:
    return SmsInbound.objects.filter(campaign=campaign, vendor_message_id=vendor_message_id).first()


def _create_reply(**fields) -> SmsInbound | None:
    """The reply's row, or None when its vendor id was recorded meanwhile (uniq_sms_inbound)."""
    try:
        with transaction.atomic():
            return SmsInbound.objects.create(**fields)
    except IntegrityError:
        return None


def _phone_on_file(voter: Voter) -> str | None:
    return normalize_address(Channel.SMS, voter.phone) if voter.phone else None


def _lock_number(campaign_id: int, phone: str) -> None:
    # One reply per number at a time, so "is it opted out?" and the write that follows cannot
    # interleave with another reply's (two STOPs at once would confirm twice).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"sms:{campaign_id}:{phone}"]
            )


def _last_text_to(campaign: Campaign, phone: str) -> SmsMessage | None:
    return (
        SmsMessage.objects.filter(campaign=campaign, phone=phone, kind=SmsKind.PROGRAM)
        .select_related("design__program", "arm", "variant", "voter")
        .order_by("-created_at", "-pk")
        .first()
    )


def _voter_of(campaign: Campaign, phone: str) -> Voter | None:
    return Voter.objects.filter(campaign=campaign, phone=phone).order_by("pk").first()


def _record_history(
    row: SmsInbound, last: SmsMessage | None, record: str, key: VendorApiKey | None
) -> None:
    """The ledger event and the contact attempt of a reply.

    An opt-out from a known voter is recorded as an `opted_out` contact, which writes its one
    ledger event (voters.contacts); from an unknown number, straight to the ledger.
    """
    campaign, actor = row.campaign, str(key) if key else "twilio"
    if record == "opt_in":
        record_opt_in(
            campaign=campaign, channel=Channel.SMS, address=row.phone,
            source=ConsentSource.START_REPLY, occurred_at=row.received_at, voter=row.voter,
            actor=actor, dedupe_key=f"sms-in:{row.pk}",
        )  # fmt: skip
    if record == "opt_out":
        _cancel_pending_to(row)
        # The number that said STOP is opted out, whoever we think it belongs to now: a known
        # voter's `opted_out` contact below writes the ledger event for the voter's phone on
        # file, which may since have changed (a new number, a shared family phone).
        if row.voter is None or _phone_on_file(row.voter) != row.phone:
            record_opt_out(
                campaign=campaign, channel=Channel.SMS, address=row.phone,
                source=ConsentSource.STOP_REPLY, occurred_at=row.received_at, voter=row.voter,
                actor=actor, reason=f"reply {row.pk}: {row.rule}", dedupe_key=f"sms-in:{row.pk}",
            )  # fmt: skip
    if row.voter is None:
        return
    result = ContactResult.OPTED_OUT if record == "opt_out" else ContactResult.REPLIED
    review = ", needs review" if row.needs_review else ""
    record_contact(
        voter=row.voter,
        channel=Channel.SMS,
        result=result,
        occurred_at=row.received_at,
        source=ContactSource.VENDOR_API,
        actor=actor,
        program=last.design.program if last else None,
        arm=last.arm if last else None,
        variant=last.variant.name if last and last.variant else "",
        note=f"SMS reply {row.pk} ({row.kind}: {row.rule or 'none'}{review})",
        result_raw=f"sms reply: {row.kind}",
    )


def _cancel_pending_to(row: SmsInbound) -> None:
    """An opt-out takes effect at once: the number's texts not yet leased are canceled now."""
    waiting = SmsMessage.objects.filter(
        campaign_id=row.campaign_id, phone=row.phone, status__in=(*PENDING, SmsStatus.DUE)
    )
    waiting.filter(kind=SmsKind.PROGRAM).update(
        status=SmsStatus.CANCELED, cancel_reason="opted_out", finished_at=timezone.now()
    )


def answer_text(campaign: Campaign, kind: str) -> str:
    """The body of a confirmation or of the HELP answer, in the campaign's name."""
    settings = sms_settings_of(campaign)
    name = campaign.name
    if kind == SmsKind.HELP:
        contact = settings.help_contact or HELP_CONTACT_FALLBACK
        frequency = settings.help_frequency or "Msg frequency varies"
        try:
            return help_text(name, contact, frequency)
        except ValueError:
            # A name or contact outside GSM-7 (an emoji, CJK) or too long for two segments:
            # the answer still goes, in UCS-2 or longer, rather than no answer at all.
            return f"{name}: {frequency}. Help: {contact}. {HELP_REQUIRED}"
    if kind == SmsKind.OPT_OUT_CONFIRMATION:
        return (
            f"{name}: You are unsubscribed and will get no more texts. Reply START to resubscribe."
        )
    return f"{name}: You are subscribed again. Reply HELP for help, STOP to opt out."


# --------------------------------------------------------------------------------------------
# Staff review of replies that may mean "stop"
# --------------------------------------------------------------------------------------------


class ReviewOutcome:
    OPTED_OUT = "opted_out"
    KEPT = "kept"


def resolve_review(
    *,
    reply: SmsInbound,
    opt_out: bool,
    by: AbstractBaseUser,
    client_ip: str | None = None,
) -> bool:
    """Staff's decision on a reply held for review; False if it was decided already.

    Opting out records a staff opt-out (audited), cancels the number's waiting texts and queues
    one confirmation; keeping releases the number's texts to the next lease.
    """
    now = timezone.now()
    with transaction.atomic():
        decided = SmsInbound.objects.filter(
            pk=reply.pk, needs_review=True, reviewed_at__isnull=True
        ).update(
            reviewed_at=now,
            reviewed_by=by,
            review_outcome=ReviewOutcome.OPTED_OUT if opt_out else ReviewOutcome.KEPT,
        )
        if decided and opt_out:
            _opt_out_after_review(reply, by, client_ip)
    return bool(decided)


def _opt_out_after_review(reply: SmsInbound, by: AbstractBaseUser, client_ip: str | None) -> None:
    campaign = reply.campaign
    _lock_number(campaign.pk, reply.phone)
    was_opted_out = is_opted_out(campaign=campaign, phone=reply.phone)
    record_opt_out(
        campaign=campaign, channel=Channel.SMS, address=reply.phone, source=ConsentSource.STAFF,
        voter=reply.voter, user=by, reason=f"reply {reply.pk} reviewed: {reply.rule}",
        dedupe_key=f"sms-review:{reply.pk}", client_ip=client_ip,
    )  # fmt: skip
    _cancel_pending_to(reply)
    if not was_opted_out:
        queue_answer(
            campaign=campaign,
            kind=SmsKind.OPT_OUT_CONFIRMATION,
            phone=reply.phone,
            body=answer_text(campaign, SmsKind.OPT_OUT_CONFIRMATION),
            reply_to_id=reply.pk,
        )
