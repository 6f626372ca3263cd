"""Per-client throttling of vendor requests (429 with Retry-After, from DRF)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from campaign.api.access import vendor_key


class VendorKeyThrottle(SimpleRateThrottle):
    """`VENDOR_THROTTLE_RATE` requests per vendor key (counted in the cache: Redis in
    production, so every web process shares the count). Read per request, so tests and
    operators can change it without a restart of DRF's settings."""

    scope = "vendor"

    def get_rate(self) -> str:
        return settings.VENDOR_THROTTLE_RATE

    def get_cache_key(self, request: Request, view) -> str | None:
        key = vendor_key(request)
        return None if key is None else f"throttle:vendor:{key.prefix}"
