"""Writes to campaigns, memberships and vendor keys, and the audit log they leave."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from campaign.lib.states import default_time_zone, is_state
from campaign.models import AuditAction, AuditEvent, Campaign, Membership, Role, VendorApiKey


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


def add_member(
    *,
    campaign: Campaign,
    user: AbstractBaseUser,
    role: str = Role.STAFF,
    by: AbstractBaseUser | None = None,
    client_ip: str | None = None,
) -> Membership:
    """Give the user a role in the campaign (changes the role if they are already a member).

    Audited as membership_add, or membership_change when an existing role changes; giving a
    member the role they already hold writes nothing.
    """
    _check_role(role)
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(campaign=campaign, user=user).first()
        )
        if membership is not None:
            return _set_role(membership, role, by, client_ip)
        membership = Membership.objects.create(campaign=campaign, user=user, role=role)
        _audit_membership(AuditAction.MEMBERSHIP_ADD, membership, by, client_ip, {"role": role})
    return membership


def change_role(
    *,
    membership: Membership,
    role: str,
    by: AbstractBaseUser | None = None,
    client_ip: str | None = None,
) -> Membership:
    """Change a member's role (audited as membership_change; the same role writes nothing)."""
    _check_role(role)
    with transaction.atomic():
        current = Membership.objects.select_for_update().get(pk=membership.pk)
        return _set_role(current, role, by, client_ip)


def remove_member(
    *, membership: Membership, by: AbstractBaseUser | None = None, client_ip: str | None = None
) -> None:
    """Take the user out of the campaign (audited as membership_remove)."""
    with transaction.atomic():
        _audit_membership(
            AuditAction.MEMBERSHIP_REMOVE, membership, by, client_ip, {"role": membership.role}
        )
        Membership.objects.filter(pk=membership.pk).delete()


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError(f"unknown role {role!r}")


def _set_role(
    membership: Membership, role: str, by: AbstractBaseUser | None, client_ip: str | None
) -> Membership:
    if membership.role == role:
        return membership
    detail = {"from": membership.role, "to": role}
    membership.role = role
    membership.save(update_fields=["role"])
    _audit_membership(AuditAction.MEMBERSHIP_CHANGE, membership, by, client_ip, detail)
    return membership


def _audit_membership(
    action: str,
    membership: Membership,
    by: AbstractBaseUser | None,
    client_ip: str | None,
    detail: dict,
) -> None:
    # The member is named by id; `user` is whoever made the change.
    record_audit_event(
        action=action,
        campaign=membership.campaign_id,
        user=by,
        actor="" if by is not None else "system",
        obj=membership,
        client_ip=client_ip,
        detail={"member": membership.user_id, **detail},
    )


# --------------------------------------------------------------------------------------------
# Vendor API keys
# --------------------------------------------------------------------------------------------

VENDOR_KEY_PREFIX = "s1"
# Why derived, not stored: a database dump alone then cannot forge a vendor's signed requests.
_SIGNING_SALT = "campaign.vendor-signing-secret"


def vendor_key_digest(full_key: str) -> str:
    """What is stored of a key: its SHA-256 (keys are 256-bit random; no stretching needed)."""
    return hashlib.sha256(full_key.encode()).hexdigest()


def vendor_signing_secret(key: VendorApiKey) -> str:
    """The key's HMAC signing secret, derived from SECRET_KEY and the key's salt.

    Rotating SECRET_KEY therefore changes every vendor's signing secret.
    """
    return salted_hmac(_SIGNING_SALT, key.secret_salt, algorithm="sha256").hexdigest()


def parse_vendor_key(full_key: str) -> str | None:
    """The public prefix of a key shaped `s1_<prefix>_<secret>`, or None if it is not one."""
    parts = full_key.split("_", 2)
    if len(parts) != 3 or parts[0] != VENDOR_KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def create_vendor_key(
    *,
    campaign: Campaign,
    name: str,
    user: AbstractBaseUser | None,
    client_ip: str | None = None,
) -> tuple[VendorApiKey, str]:
    """Create a vendor key for one campaign; returns it with the full key, shown this once.

    Only the key's digest is stored. The signing secret is `vendor_signing_secret(key)`.
    """
    if not name.strip():
        raise ValidationError("a vendor key needs a name")
    prefix = secrets.token_hex(6)
    full_key = f"{VENDOR_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = VendorApiKey.objects.create(
            campaign=campaign,
            name=name.strip(),
            prefix=prefix,
            key_digest=vendor_key_digest(full_key),
            secret_salt=secrets.token_hex(16),
            created_by=user if user is not None and user.is_authenticated else None,
        )
        record_audit_event(
            action=AuditAction.VENDOR_KEY_CREATE,
            campaign=campaign,
            user=user,
            obj=key,
            client_ip=client_ip,
            detail={"prefix": prefix},
        )
    return key, full_key


def revoke_vendor_key(
    *, key: VendorApiKey, user: AbstractBaseUser | None, client_ip: str | None = None
) -> bool:
    """Revoke the key at once (audited). Returns False if it was already revoked."""
    with transaction.atomic():
        # A conditional UPDATE, so two admins revoking at once audit one revocation.
        revoked = VendorApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(),
            revoked_by=user if user is not None and user.is_authenticated else None,
        )
        if revoked:
            record_audit_event(
                action=AuditAction.VENDOR_KEY_REVOKE,
                campaign=key.campaign_id,
                user=user,
                obj=key,
                client_ip=client_ip,
                detail={"prefix": key.prefix},
            )
    key.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(revoked)


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
