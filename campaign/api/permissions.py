"""Permission classes, each named after its rule (the querysets do the tenancy)."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from campaign.api.access import WRITE_ROLES, has_role, vendor_key


class IsSignedInUser(BasePermission):
    """A person signed in by token or session; vendor keys are refused."""

    def has_permission(self, request: Request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_active)


class IsVendor(BasePermission):
    """A request signed with a vendor API key."""

    def has_permission(self, request: Request, view) -> bool:
        return vendor_key(request) is not None


class IsVendorOrSignedInUser(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        return IsVendor().has_permission(request, view) or IsSignedInUser().has_permission(
            request, view
        )


class CanWriteInObjectCampaign(BasePermission):
    """Writing needs the admin or staff role in the campaign of the object written to."""

    def has_permission(self, request: Request, view) -> bool:
        return True

    def has_object_permission(self, request: Request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True  # reading is decided by the queryset
        return has_role(request, obj.campaign_id, WRITE_ROLES)
