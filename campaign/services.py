"""Writes to campaigns and memberships."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from campaign.lib.states import default_time_zone, is_state
from campaign.models import AuditAction, AuditEvent, Campaign, Membership, Role


def create_campaign(
    *, slug: str, name: str, state: str, time_zone: str | None = None
) -> tuple[Campaign, bool]:
    """Create the campaign, or return the existing one with that slug (idempotent).

    An existing campaign whose name, state or time zone differ is left as it is and reported as a
    ValidationError, so a script cannot silently retarget a campaign at another state.
    """
    state = state.upper()
    if not is_state(state):
        raise ValidationError(f"unknown state {state!r}: use a two-letter postal code")
    zone = time_zone or default_time_zone(state)
    if zone not in zoneinfo.available_timezones():
        raise ValidationError(f"unknown time zone {zone!r}")
    with transaction.atomic():
        campaign, created = Campaign.objects.get_or_create(
            slug=slug, defaults={"name": name, "state": state, "time_zone": zone}
        )
    if not created and (campaign.state != state or (time_zone and campaign.time_zone != zone)):
        raise ValidationError(
            f"campaign {slug!r} exists with state {campaign.state} and time zone "
            f"{campaign.time_zone}; not changed"
        )
    return campaign, created


def add_member(*, campaign: Campaign, user: AbstractBaseUser, role: str = Role.STAFF) -> Membership:
    """Give the user a role in the campaign (updates the role if they are already a member)."""
    membership, _ = Membership.objects.update_or_create(
        campaign=campaign, user=user, defaults={"role": role}
    )
    return membership


def record_audit_event(
    *,
    action: str,
    campaign: Campaign | int | None,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    obj: object | None = None,
    object_type: str = "",
    object_id: str | int = "",
    row_count: int | None = None,
    client_ip: str | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one audit event. `obj` (a model instance) fills object type and id; never pass PII."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower  # type: ignore[attr-defined]
        object_id = object_id or obj.pk  # type: ignore[attr-defined]
    campaign_id = campaign.pk if isinstance(campaign, Campaign) else campaign
    user_id = user.pk if user is not None and user.is_authenticated else None
    return AuditEvent.objects.create(
        action=action,
        campaign_id=campaign_id,
        user_id=user_id,
        actor=actor,
        object_type=object_type,
        object_id=str(object_id),
        row_count=row_count,
        client_ip=client_ip,
        detail=detail or {},
    )
