"""Which campaigns an API caller reaches, and in which role.

Reading rules (DESIGN §5): every queryset is cut to the caller's campaigns, so another
campaign's object is a 404. Organizers see nothing through these endpoints yet (they will see
what is assigned to them); viewers read; staff and admins also write.
"""

from __future__ import annotations

from collections.abc import Collection

from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from campaign.models import Campaign, Membership, Role, VendorApiKey

READ_ROLES: frozenset[str] = frozenset({Role.ADMIN, Role.STAFF, Role.VIEWER})
WRITE_ROLES: frozenset[str] = frozenset({Role.ADMIN, Role.STAFF})


def vendor_key(request: Request) -> VendorApiKey | None:
    """The vendor key that authenticated the request, if a vendor made it."""
    return request.auth if isinstance(request.auth, VendorApiKey) else None


def user_roles(request: Request) -> dict[int, str]:
    """{campaign id: role} of the signed-in user (superusers: admin everywhere), read once."""
    cached = getattr(request, "_api_campaign_roles", None)
    if cached is not None:
        return cached
    user = request.user
    if not user.is_authenticated or not user.is_active:
        cached = {}
    elif user.is_superuser:
        cached = dict.fromkeys(Campaign.objects.values_list("pk", flat=True), Role.ADMIN)
    else:
        cached = dict(Membership.objects.filter(user=user).values_list("campaign_id", "role"))
    request._api_campaign_roles = cached
    return cached


def campaign_ids(request: Request, roles: Collection[str]) -> list[int]:
    """Ids of the campaigns where the user holds one of `roles`."""
    return sorted(cid for cid, role in user_roles(request).items() if role in roles)


def has_role(request: Request, campaign_id: int, roles: Collection[str]) -> bool:
    return user_roles(request).get(campaign_id) in roles


def resolve_campaign(request: Request, slug: str | None, roles: Collection[str]) -> Campaign:
    """The campaign a campaign-wide action applies to.

    A vendor acts on its key's campaign (naming another is a 404). A user names one by slug:
    a campaign they are not a member of is a 404, one where their role is not in `roles` a 403.
    """
    key = vendor_key(request)
    if key is not None:
        if slug and slug != key.campaign.slug:
            raise Http404
        return key.campaign
    if not slug:
        raise PermissionDenied("name the campaign (its slug) in `campaign`")
    campaign = Campaign.objects.filter(slug=slug, pk__in=list(user_roles(request))).first()
    if campaign is None:
        raise Http404
    if not has_role(request, campaign.pk, roles):
        raise PermissionDenied("your role in this campaign does not allow this")
    return campaign
