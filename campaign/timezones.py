"""Staff see times on their campaign's clock.

At sign-in the user's zone is written into the session: the time zone of their campaigns when
they share one (a state campaign's staff all do), otherwise the server's (`TIME_ZONE`, UTC by
default). Each request then activates it, with no query of its own. Every time shown also names
its zone (campaign/formats), so a user of campaigns in two zones is never misled. A membership
added later takes effect at the next sign-in.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from campaign.models import Campaign

SESSION_KEY = "time_zone"


def zone_of(user) -> str:
    """The one time zone of the user's campaigns, or the server's when there is not one."""
    campaigns = Campaign.objects.all()
    if not user.is_superuser:
        campaigns = campaigns.filter(memberships__user=user)
    zones = set(campaigns.values_list("time_zone", flat=True).distinct()[:2])
    return zones.pop() if len(zones) == 1 else settings.TIME_ZONE


@receiver(user_logged_in)
def remember_zone(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = zone_of(user)


class CampaignTimeZoneMiddleware:
    """Activate the zone the session holds (after the session and auth middleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
