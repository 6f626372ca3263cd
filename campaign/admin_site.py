"""The admin site: Django's, plus a second factor when `REQUIRE_2FA` is on.

Installed through `campaign.admin_apps.AdminConfig` (INSTALLED_APPS), so `admin.site` everywhere
is this site. The setting is read per request rather than at import, so a test can switch it on
with `override_settings`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp import user_has_device
from django_otp.admin import OTPAdminAuthenticationForm


class TwoFactorLoginForm(OTPAdminAuthenticationForm):
    """Password and TOTP token; a user with no device yet signs in with the password alone, is
    not verified, and is sent to enrol one (the admin stays closed to them until they do)."""

    def clean(self):
        self.cleaned_data = AdminAuthenticationForm.clean(self)
        user = self.get_user()
        if user is not None and user_has_device(user):
            self.clean_otp(user)
        return self.cleaned_data


def two_factor_required() -> bool:
    return bool(getattr(settings, "REQUIRE_2FA", False))


def is_verified(request: HttpRequest) -> bool:
    """Whether the user passed the second factor, or none is required."""
    if not two_factor_required():
        return True
    check = getattr(request.user, "is_verified", None)
    return bool(check and check())


class SegmentOneAdminSite(admin.AdminSite):
    site_header = "Segment One"
    site_title = "Segment One"
    index_title = "Campaign console"

    @property
    def login_form(self):  # type: ignore[override]
        return TwoFactorLoginForm if two_factor_required() else None

    @property
    def login_template(self):  # type: ignore[override]
        return "otp/admin111/login.html" if two_factor_required() else None

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and is_verified(request)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        user = request.user
        if (
            two_factor_required()
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and not user_has_device(user)
        ):
            return HttpResponseRedirect(reverse("two_factor_enrol"))
        return super().login(request, extra_context)
