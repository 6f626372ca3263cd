"""The consent ledger: one opt-out ledger per campaign, channel and address (DESIGN §5).

Every write goes through `record_opt_out` or `record_opt_in` (or `record_opt_outs` for a batch),
so the rules live in one place (`check_consent_change`):
- anyone and anything may opt an address out (a STOP reply, an unsubscribe link, a canvasser's
  "do not contact", a vendor's block error, staff, an imported contact history);
- only the person (a START/YES/UNSTOP reply, re-subscribing) or signed-in staff with a recorded
  reason may opt it back in; an import, a vendor or a canvasser never can;
- events are appended, never changed; the state of an address is its latest event (ties on the
  timestamp go to the later-recorded one), so re-importing a voter file cannot reset consent.

Addresses: an E.164 phone (sms, phone), a lower-cased email (email), or `voter:<pk>` (door, mail).
A phone's opt-out therefore follows the number, whichever voter record carries it. Error messages
never echo an address.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from campaign.models import AuditAction, Campaign
from campaign.services import record_audit_event
from voters.models import Channel, ConsentEvent, ConsentKind, ConsentSource, Voter
from voters.phones import phone_exact

OPT_OUT_SOURCES = frozenset(
    {
        ConsentSource.STOP_REPLY,
        ConsentSource.UNSUBSCRIBE,
        ConsentSource.CANVASS_DNC,
        ConsentSource.VENDOR_BLOCK,
        ConsentSource.STAFF,
        ConsentSource.IMPORT,
    }
)
# The person themselves, or staff who must say why.
OPT_IN_SOURCES = frozenset(
    {ConsentSource.START_REPLY, ConsentSource.RESUBSCRIBE, ConsentSource.STAFF}
)
PHONE_CHANNELS = frozenset({Channel.SMS, Channel.PHONE})
VOTER_CHANNELS = frozenset({Channel.DOOR, Channel.MAIL})
_E164_US = re.compile(r"^\+1\d{10}$")


# Which ledgers an "opted out" contact closes. A named request closes its own channel whatever
# channel it was made on (a "Do Not Text" said on the phone stops texts, not calls); a canvasser's
# "do not contact" closes every channel; otherwise the channel the person answered on.
NAMED_OPT_OUTS: dict[str, tuple[str, ...]] = {
    "do not text": (Channel.SMS,),
    "do not call": (Channel.PHONE,),
    "do not email": (Channel.EMAIL,),
    "do not mail": (Channel.MAIL,),
    "do not walk": (Channel.DOOR,),
    "do not contact": tuple(Channel.values),
}


def not_after_now(moment: dt.datetime) -> dt.datetime:
    """An event's time, but never in the future: the latest event decides an address's state,
    so a mistyped 2099 opt-out would otherwise outlive every opt-in until then."""
    now = timezone.now()
    return now if moment > now else moment


def opt_out_channels(channel: str, result_name: str | None = None) -> tuple[str, ...]:
    """The channels an opted-out contact on `channel` (its result as the source named it) closes."""
    named = NAMED_OPT_OUTS.get((result_name or "").strip().lower())
    if named:
        return named
    if channel == Channel.DOOR:
        return tuple(Channel.values)  # said at the door: do not contact at all
    return (channel,)


class ConsentError(ValidationError):
    """A consent change the rules do not allow (nothing was recorded)."""


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def voter_address(voter: Voter, channel: str) -> str | None:
    """The ledger address of `voter` on `channel`, or None when the voter has none there."""
    if channel in PHONE_CHANNELS:
        return normalize_address(channel, voter.phone) if voter.phone else None
    if channel == Channel.EMAIL:
        return normalize_address(channel, voter.email) if voter.email else None
    if channel in VOTER_CHANNELS:
        return voter_key(voter.pk)
    raise ValueError(f"unknown channel {channel!r}")


def voter_key(voter_pk: int) -> str:
    """The address of door and mail consent: the voter record itself."""
    return f"voter:{voter_pk}"


def normalize_address(channel: str, address: str) -> str:
    """The form the ledger stores: E.164 phones, lower-cased emails.

    A phone that does not parse is kept as given (trimmed): an opt-out must never be refused for
    the shape of its number, and such a number matches nothing on the voter file anyway.
    """
    address = address.strip()
    if channel == Channel.EMAIL:
        return address.lower()
    if channel in PHONE_CHANNELS and address and not _E164_US.match(address):
        return phone_exact(address) or address
    return address


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------


def is_contactable(*, campaign: Campaign, channel: str, address: str) -> bool:
    """May we contact this address on this channel now? (One indexed query.)"""
    return not (
        ConsentEvent.objects.in_force_opt_outs()
        .filter(campaign=campaign, channel=channel, address=normalize_address(channel, address))
        .exists()
    )


def opted_out_addresses(*, campaign: Campaign, channel: str, addresses: Iterable[str]) -> set[str]:
    """Which of `addresses` (normalized) are opted out on `channel` (one query for the batch)."""
    wanted = {normalize_address(channel, a) for a in addresses if a}
    if not wanted:
        return set()
    rows = (
        ConsentEvent.objects.in_force_opt_outs()
        .filter(campaign=campaign, channel=channel, address__in=wanted)
        .values_list("address", flat=True)
    )
    return set(rows)


@dataclass(frozen=True)
class ChannelConsent:
    """A voter's standing on one channel: whether they have an address there and the opt-out
    in force, if any."""

    channel: str
    has_address: bool
    opt_out: ConsentEvent | None

    @property
    def is_contactable(self) -> bool:
        return self.has_address and self.opt_out is None


def voter_consent(voter: Voter) -> list[ChannelConsent]:
    """The voter's standing on every channel, in one query (the voter page shows it)."""
    addresses = {channel: voter_address(voter, channel) for channel in Channel.values}
    # Door and mail always have an address (the voter), so the OR is never empty.
    wanted = reduce(
        operator.or_,
        (models.Q(channel=c, address=a) for c, a in addresses.items() if a),
    )
    in_force = {
        (event.channel, event.address): event
        for event in ConsentEvent.objects.in_force_opt_outs().filter(
            wanted, campaign_id=voter.campaign_id
        )
    }
    return [
        ChannelConsent(channel, address is not None, in_force.get((channel, address)))
        for channel, address in addresses.items()
    ]


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------


def check_consent_change(
    *,
    kind: str,
    channel: str,
    address: str | None,
    source: str,
    user: AbstractBaseUser | None = None,
    reason: str = "",
    voter: Voter | None = None,
) -> None:
    """Raise ConsentError if the rules refuse this change; forms call it to validate early."""
    if kind not in ConsentKind.values:
        raise ConsentError(f"unknown consent change {kind!r}")
    if channel not in Channel.values:
        raise ConsentError(f"unknown channel {channel!r}")
    if channel in VOTER_CHANNELS:
        if voter is None:
            raise ConsentError(f"a {channel} consent change needs the voter")
    elif not address or not address.strip():
        raise ConsentError(f"a {channel} consent change needs an address")
    if kind == ConsentKind.OPT_OUT and source not in OPT_OUT_SOURCES:
        raise ConsentError(f"{source!r} cannot opt an address out")
    if kind == ConsentKind.OPT_IN and source not in OPT_IN_SOURCES:
        raise ConsentError(
            f"{source!r} cannot opt an address back in: only the person (a START reply, "
            "re-subscribing) or staff with a reason can"
        )
    if source == ConsentSource.STAFF and kind == ConsentKind.OPT_IN:
        # The audit event must name who undid an opt-out, and why. An opt-out is never refused
        # for want of either: honouring "stop" matters more than its paperwork.
        if user is None or not user.is_authenticated:
            raise ConsentError("staff opting an address back in must be signed in")
        if not reason.strip():
            raise ConsentError("staff opting an address back in must give a reason")


def record_opt_out(
    *,
    campaign: Campaign,
    channel: str,
    address: str | None,
    source: str,
    occurred_at: dt.datetime | None = None,
    voter: Voter | None = None,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    reason: str = "",
    dedupe_key: str | None = None,
    client_ip: str | None = None,
) -> ConsentEvent | None:
    """Opt the address out of the channel. Returns None when `dedupe_key` was already recorded.

    Door and mail are keyed to `voter` (pass address=None).
    """
    return _record(
        _Change(
            campaign=campaign, channel=channel, address=address, kind=ConsentKind.OPT_OUT,
            source=source, occurred_at=occurred_at, voter=voter, user=user, actor=actor,
            reason=reason, dedupe_key=dedupe_key,
        ),
        client_ip=client_ip,
    )  # fmt: skip


def record_opt_in(
    *,
    campaign: Campaign,
    channel: str,
    address: str | None,
    source: str,
    occurred_at: dt.datetime | None = None,
    voter: Voter | None = None,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    reason: str = "",
    dedupe_key: str | None = None,
    client_ip: str | None = None,
) -> ConsentEvent | None:
    """Opt the address back in: only the person, or staff with a recorded reason."""
    return _record(
        _Change(
            campaign=campaign, channel=channel, address=address, kind=ConsentKind.OPT_IN,
            source=source, occurred_at=occurred_at, voter=voter, user=user, actor=actor,
            reason=reason, dedupe_key=dedupe_key,
        ),
        client_ip=client_ip,
    )  # fmt: skip


@dataclass(frozen=True)
class OptOut:
    """One opt-out of a batch (an import, a vendor's report)."""

    channel: str
    address: str
    occurred_at: dt.datetime
    voter_id: int | None = None
    dedupe_key: str | None = None


def record_opt_outs(
    *, campaign: Campaign, source: str, events: Iterable[OptOut], actor: str = ""
) -> int:
    """Append a batch of opt-outs (set-based); events whose dedupe key exists are skipped.

    Returns how many were recorded. Runs inside the caller's transaction (an import's merge).
    Not for staff: their changes are audited one by one through `record_opt_out`.
    """
    if source not in OPT_OUT_SOURCES or source == ConsentSource.STAFF:
        raise ConsentError(f"{source!r} cannot record a batch of opt-outs")
    rows = [_batch_row(campaign, source, actor, event) for event in events]
    keys = {row.dedupe_key for row in rows if row.dedupe_key is not None}
    keyed = ConsentEvent.objects.filter(campaign=campaign, dedupe_key__in=keys)
    # Counted through the dedupe index, so other writers' rows elsewhere in the ledger do not
    # skew the figure (a whole-ledger count before and after would).
    before = keyed.count() if keys else 0
    ConsentEvent.objects.bulk_create(rows, batch_size=5_000, ignore_conflicts=True)
    after = keyed.count() if keys else 0
    return sum(1 for row in rows if row.dedupe_key is None) + after - before


def _batch_row(campaign: Campaign, source: str, actor: str, event: OptOut) -> ConsentEvent:
    if event.channel in VOTER_CHANNELS:
        if event.voter_id is None:
            raise ConsentError(f"a {event.channel} opt-out needs the voter")
        address = voter_key(event.voter_id)
    else:
        if event.channel not in Channel.values:
            raise ConsentError(f"unknown channel {event.channel!r}")
        if not event.address or not event.address.strip():
            raise ConsentError(f"a {event.channel} opt-out needs an address")
        address = normalize_address(event.channel, event.address)
    return ConsentEvent(
        campaign=campaign,
        channel=event.channel,
        address=address,
        kind=ConsentKind.OPT_OUT,
        source=source,
        voter_id=event.voter_id,
        actor=actor,
        occurred_at=not_after_now(event.occurred_at),
        dedupe_key=event.dedupe_key,
    )


@dataclass(frozen=True)
class _Change:
    campaign: Campaign
    channel: str
    address: str | None
    kind: str
    source: str
    occurred_at: dt.datetime | None
    voter: Voter | None
    user: AbstractBaseUser | None
    actor: str
    reason: str
    dedupe_key: str | None


def _record(change: _Change, *, client_ip: str | None) -> ConsentEvent | None:
    check_consent_change(
        kind=change.kind, channel=change.channel, address=change.address, source=change.source,
        user=change.user, reason=change.reason, voter=change.voter,
    )  # fmt: skip
    if change.voter is not None and change.voter.campaign_id != change.campaign.pk:
        raise ConsentError("the voter belongs to another campaign")
    if change.channel in VOTER_CHANNELS:
        # Keyed to the voter record; the `voter` link is what the contactable() anti-join reads.
        address = voter_key(change.voter.pk)
    else:
        address = normalize_address(change.channel, change.address)
    event = ConsentEvent(
        campaign=change.campaign,
        channel=change.channel,
        address=address,
        kind=change.kind,
        source=change.source,
        occurred_at=not_after_now(change.occurred_at or timezone.now()),
        voter=change.voter,
        user=change.user if change.user is not None and change.user.is_authenticated else None,
        actor=change.actor,
        reason=change.reason.strip(),
        dedupe_key=change.dedupe_key,
    )
    try:
        with transaction.atomic():
            event.save()
            if change.source == ConsentSource.STAFF:
                _audit(event, change, client_ip)
    except IntegrityError:
        if change.dedupe_key is None:
            raise
        return None  # the same event delivered twice: already on record
    return event


def _audit(event: ConsentEvent, change: _Change, client_ip: str | None) -> None:
    # Ids and codes only: the address is personal data and stays out of the audit log.
    record_audit_event(
        action=AuditAction.CONSENT_CHANGE,
        campaign=change.campaign,
        user=change.user,
        obj=event,
        client_ip=client_ip,
        detail={
            "channel": change.channel,
            "kind": change.kind,
            "voter": change.voter.pk if change.voter else None,
        },
    )
