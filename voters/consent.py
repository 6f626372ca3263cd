"""The consent ledger: one opt-out ledger per campaign, channel and address (DESIGN §5).

Every write goes through `record_opt_out` or `record_opt_in` (or `record_opt_outs` for a batch),
so the rules live in one place:
- anyone and anything may opt an address out (a STOP reply, an unsubscribe link, a canvasser's
  "do not contact", a vendor's block error, staff, an imported contact history);
- only the person (a START/YES/UNSTOP reply, re-subscribing) or staff with a recorded reason may
  opt it back in;
- events are appended, never changed; the state of an address is its latest event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaign.models import AuditAction, Campaign
from campaign.services import record_audit_event
from voters.models import Channel, ConsentEvent, ConsentKind, ConsentSource, Voter

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


class ConsentError(ValidationError):
    """A consent change the rules do not allow (nothing was recorded)."""


def voter_address(voter: Voter, channel: str) -> str | None:
    """The ledger address of `voter` on `channel`, or None when the voter has none there."""
    if channel in (Channel.SMS, Channel.PHONE):
        return voter.phone or None
    if channel == Channel.EMAIL:
        return voter.email.strip().lower() if voter.email else None
    if channel in (Channel.DOOR, Channel.MAIL):
        return voter_key(voter.pk)
    raise ValueError(f"unknown channel {channel!r}")


def voter_key(voter_pk: int) -> str:
    """The address of door and mail consent: the voter record itself."""
    return f"voter:{voter_pk}"


def normalize_address(channel: str, address: str) -> str:
    address = address.strip()
    if channel == Channel.EMAIL:
        return address.lower()
    return address


def is_contactable(*, campaign: Campaign, channel: str, address: str) -> bool:
    """May we contact this address on this channel now? (One indexed query.)"""
    return not (
        ConsentEvent.objects.in_force_opt_outs()
        .filter(campaign=campaign, channel=channel, address=normalize_address(channel, address))
        .exists()
    )


def opted_out_addresses(*, campaign: Campaign, channel: str, addresses: Iterable[str]) -> set[str]:
    """Which of `addresses` are opted out on `channel` (one query for the whole batch)."""
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
class OptOut:
    """One opt-out of a batch (an import, a vendor's report)."""

    channel: str
    address: str
    occurred_at: dt.datetime
    voter_id: int | None = None
    dedupe_key: str | None = None


def record_opt_out(
    *,
    campaign: Campaign,
    channel: str,
    address: str,
    source: str,
    occurred_at: dt.datetime | None = None,
    voter: Voter | None = None,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    reason: str = "",
    dedupe_key: str | None = None,
    client_ip: str | None = None,
) -> ConsentEvent | None:
    """Opt the address out of the channel. Returns None when `dedupe_key` was already recorded."""
    _check(channel, address)
    if source not in OPT_OUT_SOURCES:
        raise ConsentError(f"{source!r} cannot opt an address out")
    return _append(
        campaign=campaign,
        channel=channel,
        address=address,
        kind=ConsentKind.OPT_OUT,
        source=source,
        occurred_at=occurred_at,
        voter=voter,
        user=user,
        actor=actor,
        reason=reason,
        dedupe_key=dedupe_key,
        client_ip=client_ip,
    )


def record_opt_in(
    *,
    campaign: Campaign,
    channel: str,
    address: str,
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
    _check(channel, address)
    if source not in OPT_IN_SOURCES:
        raise ConsentError(
            f"{source!r} cannot opt an address back in: only the person (a START reply, "
            "re-subscribing) or staff with a reason can"
        )
    if source == ConsentSource.STAFF and (user is None or not reason.strip()):
        raise ConsentError("staff opting an address back in must be signed in and give a reason")
    return _append(
        campaign=campaign,
        channel=channel,
        address=address,
        kind=ConsentKind.OPT_IN,
        source=source,
        occurred_at=occurred_at,
        voter=voter,
        user=user,
        actor=actor,
        reason=reason,
        dedupe_key=dedupe_key,
        client_ip=client_ip,
    )


def record_opt_outs(
    *, campaign: Campaign, source: str, events: Iterable[OptOut], actor: str = ""
) -> int:
    """Append a batch of opt-outs (set-based); events whose dedupe key exists are skipped.

    Returns how many were recorded. Runs inside the caller's transaction (an import's merge).
    """
    if source not in OPT_OUT_SOURCES:
        raise ConsentError(f"{source!r} cannot opt an address out")
    rows = [
        ConsentEvent(
            campaign=campaign,
            channel=event.channel,
            address=_batch_address(event),
            kind=ConsentKind.OPT_OUT,
            source=source,
            voter_id=event.voter_id,
            actor=actor,
            occurred_at=event.occurred_at,
            dedupe_key=event.dedupe_key,
        )
        for event in events
    ]
    for row in rows:
        _check(row.channel, row.address)
    before = ConsentEvent.objects.filter(campaign=campaign).count()
    ConsentEvent.objects.bulk_create(rows, batch_size=5_000, ignore_conflicts=True)
    return ConsentEvent.objects.filter(campaign=campaign).count() - before


def _batch_address(event: OptOut) -> str:
    if event.channel in (Channel.DOOR, Channel.MAIL):
        if event.voter_id is None:
            raise ConsentError(f"a {event.channel} opt-out needs the voter")
        return voter_key(event.voter_id)
    return normalize_address(event.channel, event.address)


def _check(channel: str, address: str) -> None:
    if channel not in Channel.values:
        raise ConsentError(f"unknown channel {channel!r}")
    if not address or not address.strip():
        raise ConsentError(f"a {channel} consent change needs an address")


def _append(*, campaign, channel, address, kind, source, occurred_at, voter, user, actor, reason,
            dedupe_key, client_ip) -> ConsentEvent | None:  # fmt: skip
    if channel in (Channel.DOOR, Channel.MAIL):
        # Keyed to the voter record; the `voter` link is what the contactable() anti-join reads.
        if voter is None:
            raise ConsentError(f"a {channel} consent change needs the voter")
        address = voter_key(voter.pk)
    address = normalize_address(channel, address)
    event = ConsentEvent(
        campaign=campaign,
        channel=channel,
        address=address,
        kind=kind,
        source=source,
        occurred_at=occurred_at or timezone.now(),
        voter=voter,
        user=user if user is not None and user.is_authenticated else None,
        actor=actor,
        reason=reason.strip(),
        dedupe_key=dedupe_key,
    )
    try:
        with transaction.atomic():
            event.save()
            if source == ConsentSource.STAFF:
                record_audit_event(
                    action=AuditAction.CONSENT_CHANGE,
                    campaign=campaign,
                    user=user,
                    obj=event,
                    client_ip=client_ip,
                    detail={"channel": channel, "kind": kind, "voter": voter.pk if voter else None},
                )
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None  # the same event delivered twice: already on record
    return event
