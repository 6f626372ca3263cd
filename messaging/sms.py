"""The SMS outbox (issue 14 §1-§2): filled from a committed program, released as each recipient's
window opens, leased to vendors, acknowledged, and settled by receipts (messaging.sms_inbound).

Every status change is one conditional UPDATE whose WHERE names the statuses it may leave, so two
workers (a beat task and a vendor's request) never both move a message, and a final status is
never left (migration 0006's trigger refuses it besides). Times come in as `now`, so tests set
the clock. Logs carry ids and counts, never a phone or a body.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When

from campaign.models import Campaign, VendorApiKey
from messaging import quiet_hours
from messaging.models import (
    MessageVariant,
    PausedVariant,
    ProgramDesign,
    ProgramStatus,
    SmsInbound,
    SmsKind,
    SmsMessage,
    SmsSettings,
    SmsStatus,
    SmsWindowProfile,
    UntextablePhone,
)
from messaging.rendering import CompiledVariant, message_context
from messaging.services import display_first_name, polling_place_of, sender_of, talking_points
from messaging.sms_encoding import sms_size
from scoring.models import VoterScore
from voters.consent import opted_out_addresses
from voters.models import Assignment, Channel, ConsentEvent

logger = logging.getLogger(__name__)

FILL_BATCH = 5_000
# A release that moves this many texts refreshes the outbox's statistics (see _refresh_statistics).
FRESH_STATISTICS_AFTER = 10_000
DEFAULT_LEASE_SECONDS = 300
MIN_LEASE_SECONDS, MAX_LEASE_SECONDS = 30, 3_600
MAX_LEASE_BATCH = 1_000
# A sent text with no final receipt this long after is taken as lost (carriers answer in minutes;
# Twilio keeps trying for at most its validity period, 36 hours by default).
OUTCOME_WAIT = dt.timedelta(hours=72)

# What a status may move to, and from which: a receipt moves a message only forward.
PENDING = (SmsStatus.QUEUED, SmsStatus.HELD)
LEASABLE = (SmsStatus.DUE,)
# "sent" and "unknown" may still learn their outcome; the four final ones never change.
RANK = {
    SmsStatus.QUEUED: 0, SmsStatus.HELD: 0, SmsStatus.DUE: 0, SmsStatus.LEASED: 0,
    SmsStatus.SENT: 1, SmsStatus.UNKNOWN: 2, SmsStatus.DELIVERED: 3, SmsStatus.FAILED: 3,
    SmsStatus.UNDELIVERED: 3, SmsStatus.CANCELED: 3,
}  # fmt: skip


def statuses_below(status: str) -> list[str]:
    """The statuses a message may leave for `status` (a receipt never moves it back)."""
    return [s for s, rank in RANK.items() if rank < RANK[status]]


# --------------------------------------------------------------------------------------------
# Settings and window profiles
# --------------------------------------------------------------------------------------------


def sms_settings_of(campaign: Campaign | int) -> SmsSettings:
    campaign_id = campaign if isinstance(campaign, int) else campaign.pk
    found, _ = SmsSettings.objects.get_or_create(campaign_id=campaign_id)
    return found


def window_profile_for(
    *, zip5: str | None, phone: str | None, state: str | None, known: dict | None = None
) -> int:
    """The id of the recipient's quiet-hours profile row (created on first use).

    `known` memoizes ids for one batch; never across transactions, since a rolled-back
    transaction takes the rows it created with it.
    """
    profile = quiet_hours.profile_of(zip5, phone, state)
    if known is not None and profile in known:
        return known[profile]
    key = f"{','.join(profile.zones)};{','.join(profile.states)}"
    row, _ = SmsWindowProfile.objects.get_or_create(
        key=key, defaults={"zones": list(profile.zones), "states": list(profile.states)}
    )
    if known is not None:
        known[profile] = row.pk
    return row.pk


@functools.lru_cache(maxsize=4096)
def _profile_of_key(key: str) -> quiet_hours.Profile:
    # One object per key and process, so its weekly intervals are computed once.
    zones, _, states = key.partition(";")
    return quiet_hours.Profile(
        zones=tuple(z for z in zones.split(",") if z),
        states=tuple(s for s in states.split(",") if s),
    )


def window_profiles() -> dict[int, quiet_hours.Profile]:
    """Every profile row (a few hundred) as quiet_hours profiles, by id."""
    return {
        pk: _profile_of_key(key) for pk, key in SmsWindowProfile.objects.values_list("pk", "key")
    }


# --------------------------------------------------------------------------------------------
# Filling the outbox from a committed program
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    voter_id: int
    arm_id: int
    phone: str
    first_name: str
    extra: dict
    zip5: str | None
    state: str | None


def fill_outbox(*, design: ProgramDesign) -> int:
    """One queued text per phone of the program's treated units; returns how many were new.

    Idempotent: a phone that has its text keeps it (uniq_sms_program_phone), so a redelivered
    task adds nothing. Control units get nothing. The text is rendered for the unit's first
    voter (lowest id), with the variant version pinned to the arm at commit.
    """
    if design.channel != Channel.SMS or design.status != ProgramStatus.COMMITTED:
        return 0
    variants = {pin.arm_id: pin.variant for pin in design.arm_variants.select_related("variant")}
    compiled = {arm_id: variant.compiled() for arm_id, variant in variants.items()}
    sender = sender_of(design.campaign)
    written = 0
    for batch in _batches(_units(design), FILL_BATCH):
        reasons = _reasons(design.campaign_id, [u.voter_id for u in batch])
        with transaction.atomic():
            known: dict = {}
            rows = [
                _message(design, unit, variants[unit.arm_id], compiled[unit.arm_id], sender,
                         reasons, known)
                for unit in batch
            ]  # fmt: skip
            before = SmsMessage.objects.filter(design=design).count()
            SmsMessage.objects.bulk_create(rows, ignore_conflicts=True)
            written += SmsMessage.objects.filter(design=design).count() - before
    logger.info("program %s: %s texts queued", design.program_id, written)
    return written


def _units(design: ProgramDesign) -> Iterator[_Unit]:
    """The first voter of each treated unit (a phone), in phone order."""
    rows = (
        Assignment.objects.filter(program_id=design.program_id, arm__is_control=False)
        .exclude(unit__isnull=True)
        .order_by("unit", "voter_id")
        .values_list(
            "voter_id", "arm_id", "unit", "voter__first_name", "voter__extra", "voter__zip5",
            "voter__state",
        )
    )  # fmt: skip
    last = None
    for voter_id, arm_id, unit, first_name, extra, zip5, state in rows.iterator(chunk_size=5_000):
        if unit == last:
            continue
        last = unit
        yield _Unit(voter_id, arm_id, unit, first_name or "", extra or {}, zip5, state)


def _batches(items: Iterable[_Unit], size: int) -> Iterator[list[_Unit]]:
    batch: list[_Unit] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _reasons(campaign_id: int, voter_ids: list[int]) -> dict[int, dict | list]:
    rows = (
        VoterScore.objects.latest_complete(campaign_id)
        .filter(voter_id__in=voter_ids)
        .values_list("voter_id", "reasons")
    )
    return dict(rows)


def _message(
    design: ProgramDesign,
    unit: _Unit,
    variant: MessageVariant,
    compiled: CompiledVariant,
    sender: str,
    reasons: dict,
    known: dict,
) -> SmsMessage:
    context = message_context(
        first_name=display_first_name(unit.first_name),
        polling_place=polling_place_of(unit.extra),
        talking_points=talking_points(reasons.get(unit.voter_id, {})),
        sender=sender,
    )
    body = compiled.render(context).body.strip()
    size = sms_size(body)
    return SmsMessage(
        campaign_id=design.campaign_id,
        kind=SmsKind.PROGRAM,
        design=design,
        arm_id=unit.arm_id,
        variant=variant,
        voter_id=unit.voter_id,
        phone=unit.phone,
        profile_id=window_profile_for(
            zip5=unit.zip5, phone=unit.phone, state=unit.state, known=known
        ),
        body=body,
        encoding=size.encoding,
        segments=size.segments,
    )


# --------------------------------------------------------------------------------------------
# Release: queued and held texts become due as windows open (beat)
# --------------------------------------------------------------------------------------------


def _opted_out() -> Exists:
    return Exists(
        ConsentEvent.objects.in_force_opt_outs().filter(
            campaign=OuterRef("campaign"), channel=Channel.SMS, address=OuterRef("phone")
        )
    )


def _untextable() -> Exists:
    return Exists(
        UntextablePhone.objects.filter(campaign=OuterRef("campaign"), phone=OuterRef("phone"))
    )


def _under_review() -> QuerySet[SmsInbound]:
    return SmsInbound.objects.filter(
        campaign=OuterRef("campaign"),
        phone=OuterRef("phone"),
        needs_review=True,
        reviewed_at__isnull=True,
    )


def cancel_unreachable(qs: QuerySet[SmsMessage], *, now: dt.datetime) -> int:
    """Cancels program texts in `qs` to opted-out or untextable numbers (consent at release and
    at lease). Answers to replies are exempt: a STOP's confirmation goes to an opted-out number."""
    program = qs.filter(kind=SmsKind.PROGRAM)
    opted_out = program.filter(_opted_out()).update(
        status=SmsStatus.CANCELED, cancel_reason="opted_out", finished_at=now
    )
    untextable = program.filter(_untextable()).update(
        status=SmsStatus.CANCELED, cancel_reason="not_textable", finished_at=now
    )
    return opted_out + untextable


def release_due_messages(*, now: dt.datetime) -> dict[str, int]:
    """Queued and held texts whose time has come: canceled if the number opted out, due if the
    recipient's window is open now, else held until it next opens."""
    pending = SmsMessage.objects.filter(status__in=PENDING).filter(
        Q(hold_until__isnull=True) | Q(hold_until__lte=now)
    )
    canceled = cancel_unreachable(pending, now=now)
    due = held = 0
    for profile_id, profile in window_profiles().items():
        mine = pending.filter(profile_id=profile_id)
        if quiet_hours.is_open(now, profile):
            due += mine.update(status=SmsStatus.DUE, hold_until=None)
        else:
            opens = quiet_hours.next_open(now, profile)
            held += mine.update(status=SmsStatus.HELD, hold_until=opens)
    if due or held or canceled:
        logger.info("sms release: %s due, %s held, %s canceled", due, held, canceled)
    if due + held + canceled >= FRESH_STATISTICS_AFTER:
        _refresh_statistics()
    return {"due": due, "held": held, "canceled": canceled}


def _refresh_statistics() -> None:
    """The planner's picture of the outbox after a release moved many texts at once: until it
    is refreshed the planner takes "due" to be rare and plans each lease as a scan of every
    due text. ANALYZE samples a fixed number of rows, so it costs the same at any size."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {SmsMessage._meta.db_table}")


def expire_leases(*, now: dt.datetime) -> int:
    """Leased texts never acknowledged before their lease ran out go back to due (beat).

    An acknowledged text is `sent`, so it can never come back here and be leased again.
    """
    returned = SmsMessage.objects.filter(status=SmsStatus.LEASED, lease_expires_at__lte=now).update(
        status=SmsStatus.DUE, lease_id=None, lease_expires_at=None, leased_by=None
    )
    if returned:
        logger.info("sms leases expired: %s texts due again", returned)
    return returned


def mark_lost_outcomes(*, now: dt.datetime) -> int:
    """Sent texts whose final receipt never came within OUTCOME_WAIT become `unknown` (beat); a
    receipt that comes later still settles them."""
    lost = SmsMessage.objects.filter(status=SmsStatus.SENT, sent_at__lte=now - OUTCOME_WAIT).update(
        status=SmsStatus.UNKNOWN
    )
    if lost:
        logger.info("sms: %s sent texts without an outcome marked unknown", lost)
    return lost


# --------------------------------------------------------------------------------------------
# Lease and acknowledge (the vendor API)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeasedText:
    """A text as the vendor gets it: what to send, to whom, and our id to acknowledge it by."""

    pk: int
    phone: str
    body: str
    encoding: str
    segments: int
    kind: str

    @property
    def id(self) -> int:
        return self.pk


@dataclass(frozen=True)
class Lease:
    lease_id: uuid.UUID | None
    expires_at: dt.datetime
    messages: list[LeasedText]
    capped: bool


LEASED_COLUMNS = ("id", "phone", "body", "encoding", "segments", "kind")


def lease_messages(
    *, key: VendorApiKey, limit: int, now: dt.datetime, lease_seconds: int = DEFAULT_LEASE_SECONDS
) -> Lease:
    """Hand up to `limit` due texts of the key's campaign to its vendor until `now + lease`.

    Only texts whose recipient's window is open now and stays open for the whole lease, of
    running programs and unpaused variants, to numbers with no reply awaiting review; consent
    is checked again (an opt-out since the text became due cancels it). Rows are claimed with
    FOR UPDATE SKIP LOCKED, so concurrent leases never hand out the same text. Over a
    throughput cap the lease is smaller (maybe empty, `capped`): the texts wait, never fail.
    """
    expires = now + dt.timedelta(seconds=lease_seconds)
    lease_id = uuid.uuid4()
    with transaction.atomic():
        allowance, capped = _allowance(key.campaign, limit, now)
        ids = _claim(key.campaign_id, allowance, now, lease_seconds) if allowance else []
        if ids:
            cancel_unreachable(SmsMessage.objects.filter(pk__in=ids), now=now)
        messages = _hand_out(ids, lease_id, key, now, expires)
    logger.info("sms lease %s: %s texts to key %s", lease_id, len(messages), key.pk)
    return Lease(lease_id if messages else None, expires, messages, capped)


def _claim(campaign_id: int, limit: int, now: dt.datetime, lease_seconds: int) -> list[int]:
    open_ids = [
        pk
        for pk, profile in window_profiles().items()
        if quiet_hours.open_for(now, profile, lease_seconds)
    ]
    due = SmsMessage.objects.filter(campaign_id=campaign_id, status__in=LEASABLE)
    # Answers to replies (confirmations, HELP) go first and at any hour: the person just wrote
    # to us, and carriers expect the confirmation at once.
    answers = due.exclude(kind=SmsKind.PROGRAM)
    # The running programs and the paused variants are a handful of ids, read first: joined in,
    # they made the planner misjudge how many texts qualify and sort every due text to find
    # the first 500, instead of reading the queue's index in order and stopping there.
    running = ProgramDesign.objects.filter(campaign_id=campaign_id, status=ProgramStatus.COMMITTED)
    program = due.filter(
        kind=SmsKind.PROGRAM,
        profile_id__in=open_ids,
        design_id__in=list(running.values_list("pk", flat=True)),
    )
    paused = list(PausedVariant.objects.values_list("variant_id", flat=True))
    if paused:
        program = program.exclude(variant_id__in=paused)
    # A reply that may mean "stop" holds the number's texts until staff decide.
    program = program.filter(~Exists(_under_review()))
    claimed: list[int] = []
    for qs in (answers, program):
        room = limit - len(claimed)
        if room <= 0:
            break
        # Oldest first, through the partial indexes `sms_due_program` and `sms_due_answer`: the
        # scan stops after `room` rows, however many millions are due behind them.
        oldest = qs.order_by("created_at", "pk")
        locked = oldest.select_for_update(skip_locked=True, of=("self",))[:room]
        claimed.extend(locked.values_list("pk", flat=True))
    return claimed


def _hand_out(
    ids: list[int], lease_id: uuid.UUID, key: VendorApiKey, now: dt.datetime, expires: dt.datetime
) -> list[LeasedText]:
    """The claimed texts still due (not canceled just now) become leased, read back in the same
    statement."""
    if not ids:
        return []
    if connection.vendor != "postgresql":  # the embedded SQLite default: small, the ORM's way
        SmsMessage.objects.filter(pk__in=ids, status__in=LEASABLE).update(
            status=SmsStatus.LEASED,
            lease_id=lease_id,
            leased_at=now,
            lease_expires_at=expires,
            leased_by=key,
        )
        rows = SmsMessage.objects.filter(lease_id=lease_id).order_by("pk")
        return [LeasedText(*row) for row in rows.values_list(*LEASED_COLUMNS)]
    # Joined to the ids by primary key: a plan that cannot drift to scanning every due text when
    # the statistics are stale (as they are right after a release moved a million of them).
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {SmsMessage._meta.db_table} AS m
            SET status = %s, lease_id = %s, leased_at = %s, lease_expires_at = %s,
                leased_by_id = %s
            FROM unnest(%s::bigint[]) AS claimed (id)
            WHERE m.id = claimed.id AND m.status = %s
            RETURNING {", ".join(f"m.{c}" for c in LEASED_COLUMNS)}
            """,
            [SmsStatus.LEASED, lease_id, now, expires, key.pk, ids, SmsStatus.DUE],
        )
        return sorted((LeasedText(*row) for row in cursor.fetchall()), key=lambda t: t.pk)


def _allowance(campaign: Campaign, limit: int, now: dt.datetime) -> tuple[int, bool]:
    """How many texts this lease may hand out under the campaign's caps, and whether a cap
    bit. The settings row is locked while caps apply, so two leases cannot both take the
    last of the allowance."""
    caps = SmsSettings.objects.filter(campaign=campaign).exclude(per_second=None, per_day=None)
    # Locked only when a cap applies: without caps, concurrent leases must not queue here.
    settings = caps.select_for_update().first()
    if settings is None:
        return limit, False
    leased = SmsMessage.objects.filter(campaign=campaign)
    room = limit
    if settings.per_second is not None:
        last_second = leased.filter(leased_at__gt=now - dt.timedelta(seconds=1)).count()
        room = min(room, settings.per_second - last_second)
    if settings.per_day is not None:
        today = leased.filter(leased_at__gte=_local_midnight(now, campaign.time_zone)).count()
        room = min(room, settings.per_day - today)
    room = max(room, 0)
    return room, room < limit


def _local_midnight(now: dt.datetime, time_zone: str) -> dt.datetime:
    local = now.astimezone(ZoneInfo(time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class AckResult:
    ACKED = "acked"
    ALREADY = "already_acked"
    NOT_FOUND = "not_found"
    REFUSED = "refused"  # canceled, or acknowledged before under another vendor id
    DUPLICATE_ID = "duplicate_vendor_id"


def ack_messages(*, key: VendorApiKey, acks: list[tuple[int, str]], now: dt.datetime) -> list[str]:
    """Acknowledges a batch of (text id, vendor id) in three queries; one result each, in order.

    The vendor sent each text under its id: leased (or due again after an expired lease)
    becomes sent, never to be leased again. A repeated ack is `already_acked`; a vendor id
    already used for another text is `duplicate_vendor_id`; another campaign's text, or none,
    `not_found`; a canceled text, or one acknowledged under another id, `refused`.
    """
    results: list[str | None] = [None] * len(acks)
    owners = dict(
        SmsMessage.objects.filter(
            campaign_id=key.campaign_id, vendor_message_id__in={v for _, v in acks}
        ).values_list("vendor_message_id", "pk")
    )
    wanted: dict[int, str] = {}
    for i, (message_id, vendor_id) in enumerate(acks):
        owner = owners.setdefault(vendor_id, message_id)  # the first in the batch claims it
        if owner != message_id:
            results[i] = AckResult.DUPLICATE_ID
        else:
            wanted.setdefault(message_id, vendor_id)
    try:
        with transaction.atomic():
            _mark_sent(key.campaign_id, wanted, now)
    except IntegrityError:
        # Another request took one of these vendor ids meanwhile: one at a time, to say which.
        return [r or ack_message(key=key, message_id=m, vendor_message_id=v, now=now)
                for r, (m, v) in zip(results, acks, strict=True)]  # fmt: skip
    state = {
        pk: (status, vendor_id, sent_at)
        for pk, status, vendor_id, sent_at in SmsMessage.objects.filter(
            pk__in=list(wanted), campaign_id=key.campaign_id
        ).values_list("pk", "status", "vendor_message_id", "sent_at")
    }
    reported: set[int] = set()
    for i, (message_id, vendor_id) in enumerate(acks):
        if results[i] is None:
            results[i] = _ack_result(state.get(message_id), vendor_id, now, message_id in reported)
            reported.add(message_id)
    return results  # type: ignore[return-value]


def _mark_sent(campaign_id: int, wanted: dict[int, str], now: dt.datetime) -> int:
    """One UPDATE … FROM unnest(ids, vendor ids). The ORM's way, a CASE with one WHEN per text,
    took longer to build in Python than the database took to run it (the SMS bench: about
    120 ms of an ack of 500); the rows, statuses and unique vendor ids are the same."""
    if not wanted:
        return 0
    if connection.vendor != "postgresql":  # the embedded SQLite default: small, the ORM's way
        return SmsMessage.objects.filter(
            pk__in=list(wanted),
            campaign_id=campaign_id,
            status__in=(SmsStatus.LEASED, SmsStatus.DUE),
        ).update(
            status=SmsStatus.SENT,
            vendor_message_id=Case(*(When(pk=pk, then=Value(v)) for pk, v in wanted.items())),
            sent_at=now,
            lease_expires_at=None,
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {SmsMessage._meta.db_table} AS m
            SET status = %s, vendor_message_id = v.vendor_id, sent_at = %s, lease_expires_at = NULL
            FROM unnest(%s::bigint[], %s::text[]) AS v (id, vendor_id)
            WHERE m.id = v.id AND m.campaign_id = %s AND m.status IN (%s, %s)
            """,
            [SmsStatus.SENT, now, list(wanted), list(wanted.values()), campaign_id,
             SmsStatus.LEASED, SmsStatus.DUE],
        )  # fmt: skip
        return cursor.rowcount


def _ack_result(state: tuple | None, vendor_id: str, now: dt.datetime, reported: bool) -> str:
    if state is None:
        return AckResult.NOT_FOUND
    _, acked_as, sent_at = state
    if acked_as != vendor_id:
        return AckResult.REFUSED
    return AckResult.ACKED if sent_at == now and not reported else AckResult.ALREADY


def ack_message(
    *, key: VendorApiKey, message_id: int, vendor_message_id: str, now: dt.datetime
) -> str:
    """One ack (see `ack_messages`), with its own savepoint."""
    mine = SmsMessage.objects.filter(pk=message_id, campaign_id=key.campaign_id)
    taken = SmsMessage.objects.filter(
        campaign_id=key.campaign_id, vendor_message_id=vendor_message_id
    ).exclude(pk=message_id)
    if taken.exists():
        return AckResult.DUPLICATE_ID
    try:
        with transaction.atomic():
            changed = mine.filter(status__in=(SmsStatus.LEASED, SmsStatus.DUE)).update(
                status=SmsStatus.SENT,
                vendor_message_id=vendor_message_id,
                sent_at=now,
                lease_expires_at=None,
            )
    except IntegrityError:
        return AckResult.DUPLICATE_ID  # taken by a concurrent ack since the check above
    if changed:
        return AckResult.ACKED
    found = mine.values_list("status", "vendor_message_id").first()
    if found is None:
        return AckResult.NOT_FOUND
    _, acked_as = found
    if acked_as == vendor_message_id:
        return AckResult.ALREADY
    return AckResult.REFUSED


def move_status(*, message_id: int, status: str, now: dt.datetime, error_code: str = "") -> bool:
    """Moves a message forward to `status` (a receipt); False when it is already there or past
    it, which is how an out-of-order or repeated receipt changes nothing."""
    final = RANK[status] == RANK[SmsStatus.DELIVERED]
    fields: dict = {"status": status}
    if final:
        fields["finished_at"] = now
    if error_code:
        fields["error_code"] = error_code
    return bool(
        SmsMessage.objects.filter(pk=message_id, status__in=statuses_below(status)).update(**fields)
    )


def queue_answer(
    *, campaign: Campaign, kind: str, phone: str, body: str, reply_to_id: int
) -> SmsMessage:
    """An answer to a reply (a confirmation, the HELP text): due at once, one per reply."""
    size = sms_size(body)
    message, _ = SmsMessage.objects.get_or_create(
        reply_to_id=reply_to_id,
        defaults={
            "campaign": campaign,
            "kind": kind,
            "phone": phone,
            "profile_id": window_profile_for(zip5=None, phone=phone, state=None),
            "body": body,
            "encoding": size.encoding,
            "segments": size.segments,
            "status": SmsStatus.DUE,
        },
    )
    return message


def is_opted_out(*, campaign: Campaign, phone: str) -> bool:
    return bool(opted_out_addresses(campaign=campaign, channel=Channel.SMS, addresses=[phone]))
