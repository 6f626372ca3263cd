"""Writes to message variants (create, revise, mark used, delete) and the context they render in.

A used version is never edited: `revise_variant` edits a version in place only while nothing has
pinned it, and otherwise writes the next version. `mark_variant_used` is how a pin (a program's
arm, later) claims a version; from then the database refuses edits to it (migration 0001).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaign.models import AuditAction, Campaign
from campaign.services import record_audit_event
from messaging.models import MessageVariant
from messaging.rendering import RenderedMessage, message_context
from scoring.models import VoterScore
from scoring.reasons import by_model
from voters.models import Voter

# The content of a version: what a pin freezes. Tags are labels for staff and stay editable.
CONTENT_FIELDS = ("channel", "subject", "body", "html_body", "is_first_message")


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------


def create_variant(
    *,
    campaign: Campaign,
    name: str,
    channel: str,
    body: str,
    subject: str = "",
    html_body: str = "",
    is_first_message: bool = True,
    tags: Iterable[str] = (),
    by: AbstractBaseUser | None = None,
) -> MessageVariant:
    """Version 1 of a new variant (ValidationError if the name is taken or a template is bad)."""
    name = name.strip()
    variant = MessageVariant(
        campaign=campaign,
        name=name,
        channel=channel,
        body=body,
        subject=subject,
        html_body=html_body,
        is_first_message=is_first_message,
        tags=clean_tags(tags),
        created_by=_user(by),
    )
    variant.full_clean(validate_constraints=False)
    taken = ValidationError({"name": f"This campaign already has a variant named {name!r}."})
    try:
        with transaction.atomic():
            if MessageVariant.objects.filter(campaign=campaign, name=name).exists():
                raise taken
            variant.save()
            _audit(AuditAction.VARIANT_CREATE, variant, by)
    except IntegrityError:
        # Two saves of one new name at once both pass the check above; the unique index lets one
        # through, and the other hears why rather than failing with a server error.
        raise taken from None
    return variant


def revise_variant(
    *,
    variant: MessageVariant,
    body: str,
    subject: str = "",
    html_body: str = "",
    is_first_message: bool = True,
    channel: str | None = None,
    tags: Iterable[str] | None = None,
    by: AbstractBaseUser | None = None,
) -> MessageVariant:
    """Edit a variant: in place while its current version is unused, else as the next version.

    Returns the version that now holds the words (the same row, or a new one that is now
    current). The channel may change only while no version has been used. Nothing is written
    when the content is unchanged. ValidationError if `variant` is not the current version or a
    template is bad.
    """
    with transaction.atomic():
        # The lock orders this edit against `mark_variant_used`: the version is either still
        # unused (and edited in place) or used (and left alone), never edited after its pin.
        current = MessageVariant.objects.select_for_update().get(pk=variant.pk)
        if not current.is_current:
            raise ValidationError(
                f"{current} is an old version; edit the current one of {current.name!r}."
            )
        proposed = _with_content(current, body, subject, html_body, is_first_message, channel)
        proposed.tags = current.tags if tags is None else clean_tags(tags)
        proposed.full_clean(validate_constraints=False)
        if _content(proposed) == _content(current):
            return _retag(current, proposed.tags)
        if not current.is_used:
            proposed.save(update_fields=[*CONTENT_FIELDS, "tags"])
            _audit(AuditAction.VARIANT_REVISE, proposed, by, in_place=True)
            return proposed
        revised = _next_version(current, proposed, by)
        _audit(AuditAction.VARIANT_REVISE, revised, by, in_place=False)
        return revised


def mark_variant_used(*, variant: MessageVariant) -> MessageVariant:
    """Claim a version for a pin (idempotent): from now on it is never edited or deleted.

    Call it in the transaction that writes the pin, so a version is used exactly when something
    refers to it. Returns the version with `used_at` set (the first use's time).
    """
    MessageVariant.objects.filter(pk=variant.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    variant.refresh_from_db(fields=["used_at"])
    return variant


def delete_variant(*, variant: MessageVariant, by: AbstractBaseUser | None = None) -> None:
    """Delete an unused current version; the version before it, if any, becomes current again."""
    with transaction.atomic():
        current = MessageVariant.objects.select_for_update().get(pk=variant.pk)
        if current.is_used or not current.is_current:
            raise ValidationError(f"{current} has been used or replaced; it is kept.")
        _audit(AuditAction.VARIANT_DELETE, current, by)
        current.delete()
        MessageVariant.objects.filter(
            campaign_id=current.campaign_id, name=current.name, version=current.version - 1
        ).update(is_current=True)


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags stripped, empty ones dropped, each once, in the order given."""
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


def _audit(action: str, variant: MessageVariant, by: AbstractBaseUser | None, **detail) -> None:
    # Ids and version numbers only: a variant's words are the campaign's, not a voter's, but the
    # audit log holds no free text.
    record_audit_event(
        action=action,
        campaign=variant.campaign_id,
        user=_user(by),
        obj=variant,
        detail={"version": variant.version, **detail},
    )


def _user(by: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return by if by is not None and by.is_authenticated else None


def _with_content(
    current: MessageVariant,
    body: str,
    subject: str,
    html_body: str,
    is_first_message: bool,
    channel: str | None,
) -> MessageVariant:
    proposed = MessageVariant.objects.get(pk=current.pk)  # a copy; `current` stays as stored
    proposed.body, proposed.subject, proposed.html_body = body, subject, html_body
    proposed.is_first_message = is_first_message
    if channel is not None and channel != current.channel:
        used = MessageVariant.objects.filter(
            campaign_id=current.campaign_id, name=current.name, used_at__isnull=False
        )
        if used.exists():
            raise ValidationError(
                {"channel": "A variant that has been used keeps its channel; make a new one."}
            )
        proposed.channel = channel
    return proposed


def _content(variant: MessageVariant) -> tuple:
    return tuple(getattr(variant, f) for f in CONTENT_FIELDS)


def _retag(current: MessageVariant, tags: list[str]) -> MessageVariant:
    if tags != current.tags:
        current.tags = tags
        current.save(update_fields=["tags"])
    return current


def _next_version(
    current: MessageVariant, proposed: MessageVariant, by: AbstractBaseUser | None
) -> MessageVariant:
    # Retire the current version first: one current version per name is a unique index.
    MessageVariant.objects.filter(pk=current.pk).update(is_current=False)
    return MessageVariant.objects.create(
        campaign_id=current.campaign_id,
        name=current.name,
        version=current.version + 1,
        is_current=True,
        **{f: getattr(proposed, f) for f in CONTENT_FIELDS},
        tags=proposed.tags,
        created_by=_user(by),
    )


# --------------------------------------------------------------------------------------------
# The context a variant renders in
# --------------------------------------------------------------------------------------------

# Voter-file columns (kept in `extra`, lower-cased) that name the polling place.
POLLING_PLACE_KEYS = ("polling_place", "polling_location", "polling_place_name")
TALKING_POINTS = 3


def sender_of(campaign: Campaign) -> str:
    """Who a campaign's messages are from."""
    return campaign.name


def display_first_name(first_name: str | None) -> str:
    """The first name as a message writes it: voter files often shout ('MARY' -> 'Mary')."""
    name = (first_name or "").strip()
    return name.title() if name.isupper() else name


def polling_place_of(extra: dict) -> str:
    for key in POLLING_PLACE_KEYS:
        value = extra.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def talking_points(reasons: dict | list, limit: int = TALKING_POINTS) -> list[str]:
    """The voter's largest reasons in words, across models, each once."""
    ranked = sorted(
        (item for items in by_model(reasons).values() for item in items),
        key=lambda item: -abs(item[1]),
    )
    return list(dict.fromkeys(text for text, _ in ranked))[:limit]


EXAMPLE_CONTEXT_VALUES = {
    "first_name": "Alex",
    "polling_place": "Lincoln Elementary School, 200 Oak St",
    "talking_points": ("voted in 3 of the last 4 general elections", "age 34"),
}


def example_context(*, campaign: Campaign) -> dict:
    """A made-up voter with every value known, to preview what a full message looks like."""
    return message_context(**EXAMPLE_CONTEXT_VALUES, sender=sender_of(campaign))


def sample_voters(*, campaign: Campaign, limit: int = 3) -> list[tuple[str, dict]]:
    """(voter id, message context) of a few of the campaign's active voters with a first name.

    Talking points come from the campaign's latest complete scoring run (none if unscored).
    Two queries whatever `limit` is.
    """
    voters = list(
        Voter.objects.for_campaign(campaign)
        .active()
        .exclude(first_name__isnull=True)
        .exclude(first_name="")
        .order_by("pk")
        .values("pk", "voter_id", "first_name", "extra")[:limit]
    )
    reasons = dict(
        VoterScore.objects.latest_complete(campaign)
        .filter(voter_id__in=[v["pk"] for v in voters])
        .values_list("voter_id", "reasons")
    )
    sender = sender_of(campaign)
    return [
        (v["voter_id"], _context_of(v["first_name"], v["extra"], reasons.get(v["pk"], {}), sender))
        for v in voters
    ]


def _context_of(first_name: str, extra: dict, reasons: dict | list, sender: str) -> dict:
    return message_context(
        first_name=display_first_name(first_name),
        polling_place=polling_place_of(extra or {}),
        talking_points=talking_points(reasons),
        sender=sender,
    )


def render_samples(
    *, variant: MessageVariant, samples: Sequence[tuple[str, dict]]
) -> list[tuple[str, RenderedMessage]]:
    """(who, message) for each (who, context), parsing the variant once."""
    compiled = variant.compiled()
    return [(who, compiled.render(context)) for who, context in samples]
