"""API authentication: users by token or session, SMS vendors by a signed key.

A vendor request carries
    Authorization: Bearer s1_<prefix>_<secret>      (or X-Api-Key: s1_<prefix>_<secret>)
    X-Timestamp: <unix seconds>
    X-Nonce: <16 to 64 letters, digits, - or _; new for every request>
    X-Signature: hex(HMAC-SHA256(signing_secret, canonical request))
where the canonical request is these six lines joined by newline characters:
    timestamp, nonce, METHOD, path, canonical query, hex(SHA-256(raw body))
and the canonical query is the query's name=value pairs, percent-decoded, sorted, each side
percent-encoded again (RFC 3986 unreserved characters kept) and joined by "&" (empty when there
is none). A request is refused when the timestamp is more than five minutes away from now, its
nonce was already seen within the window (a replay: the nonce is remembered in the cache, Redis
in production), the signature or key does not match, or the key is revoked. The request is then
anonymous as a user (`request.user`), with `request.auth` the key: it reaches its own campaign
and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from urllib.parse import parse_qsl, quote

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django_otp import user_has_device
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from campaign.admin_site import two_factor_required
from campaign.models import VendorApiKey
from campaign.services import parse_vendor_key, vendor_key_digest, vendor_signing_secret

MAX_CLOCK_SKEW_SECONDS = 300
MAX_TIMESTAMP_CHARS = 12  # unix seconds have 10 digits until the year 2286
# A nonce is remembered as long as a request carrying it could pass the clock check: its
# timestamp may lie up to the skew behind or ahead of now.
NONCE_MEMORY_SECONDS = 2 * MAX_CLOCK_SKEW_SECONDS
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# `last_used_at` is for operators ("is this key still in use?"); a write per request is waste.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
BAD_CREDENTIALS = "invalid API key or signature"
REPLAYED = "this request was already received (X-Nonce seen within 5 minutes)"


def canonical_query(query: str) -> str:
    """The query string as signed: pairs decoded, sorted, re-encoded, so the order and escaping
    a vendor's HTTP library chooses do not matter."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def sign(
    secret: str,
    *,
    timestamp: int | str,
    nonce: str,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
) -> str:
    """The X-Signature of a request (what vendors compute, too)."""
    canonical = "\n".join(
        (
            str(timestamp),
            nonce,
            method.upper(),
            path,
            canonical_query(query),
            hashlib.sha256(body).hexdigest(),
        )
    )
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    full_key: str,
    secret: str,
    *,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of a signed vendor request: a Python client's (and the tests') one way to
    sign, so every caller signs the same canonical request."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_hex(16)
    signature = sign(
        secret, timestamp=timestamp, nonce=nonce, method=method, path=path, query=query, body=body
    )
    return {
        "Authorization": f"Bearer {full_key}",
        "X-Timestamp": str(timestamp),
        "X-Nonce": nonce,
        "X-Signature": signature,
    }


class VendorKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple | None:
        full_key = _presented_key(request)
        if full_key is None:
            return None  # not a vendor request: let token or session authentication try
        timestamp = _fresh_timestamp(request.META.get("HTTP_X_TIMESTAMP", ""))
        nonce = _well_formed_nonce(request.META.get("HTTP_X_NONCE", ""))
        key = _matching_key(full_key)
        signature = request.META.get("HTTP_X_SIGNATURE", "").strip().lower()
        expected = sign(
            vendor_signing_secret(key),
            timestamp=timestamp,
            nonce=nonce,
            method=request.method,
            path=request._request.path,
            query=request.META.get("QUERY_STRING", ""),
            body=request._request.body,
        )
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise exceptions.AuthenticationFailed(BAD_CREDENTIALS)
        _first_use_of(key, nonce)
        _touch(key)
        return (AnonymousUser(), key)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def _presented_key(request: Request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    api_key = request.META.get("HTTP_X_API_KEY", "").strip()
    return api_key or None


def _fresh_timestamp(raw: str) -> int:
    raw = raw.strip()
    try:
        # Bounded before int(): a thousand-digit number parses, then overflows the float
        # comparison below (a 500).
        timestamp = int(raw) if len(raw) <= MAX_TIMESTAMP_CHARS else None
    except ValueError:
        timestamp = None
    if timestamp is None:
        raise exceptions.AuthenticationFailed("X-Timestamp (unix seconds) is required")
    if abs(time.time() - timestamp) > MAX_CLOCK_SKEW_SECONDS:
        raise exceptions.AuthenticationFailed("X-Timestamp is more than 5 minutes from now")
    return timestamp


def _well_formed_nonce(raw: str) -> str:
    nonce = raw.strip()
    if not _NONCE.match(nonce):
        raise exceptions.AuthenticationFailed(
            "X-Nonce (16 to 64 letters, digits, - or _, new for every request) is required"
        )
    return nonce


def _first_use_of(key: VendorApiKey, nonce: str) -> None:
    """Refuses a nonce this key already used within the window: a captured request sent again.

    Checked after the signature, so only the key's holder can spend its nonces. `cache.add` is
    atomic in Redis (SET NX), so two copies racing through two web processes pass once. Keyed
    by the key's random prefix, so keys never share nonces.
    """
    if not cache.add(f"vendor-nonce:{key.prefix}:{nonce}", 1, timeout=NONCE_MEMORY_SECONDS):
        raise exceptions.AuthenticationFailed(REPLAYED)


def _matching_key(full_key: str) -> VendorApiKey:
    prefix = parse_vendor_key(full_key)
    key = (
        VendorApiKey.objects.select_related("campaign").filter(prefix=prefix).first()
        if prefix
        else None
    )
    digest = vendor_key_digest(full_key)
    # Compared in constant time even when no key has the prefix, so timing tells nothing.
    stored = key.key_digest if key is not None else "0" * len(digest)
    if not hmac.compare_digest(digest.encode(), stored.encode()) or key is None:
        raise exceptions.AuthenticationFailed(BAD_CREDENTIALS)
    if key.revoked_at is not None:
        raise exceptions.AuthenticationFailed("this API key has been revoked")
    return key


def _touch(key: VendorApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional, so concurrent requests of one key write it once a minute between them.
    VendorApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The admin's session, counted only once its second factor is verified when REQUIRE_2FA
    is on (else a password alone would open the API the admin keeps closed)."""

    def authenticate(self, request: Request) -> tuple | None:
        result = super().authenticate(request)
        if result is None or not getattr(settings, "REQUIRE_2FA", False):
            return result
        user = request._request.user
        is_verified = getattr(user, "is_verified", None)
        return result if is_verified is not None and is_verified() else None


class TwoFactorTokenAuthentication(authentication.TokenAuthentication):
    """DRF tokens, refused while two-factor sign-in is required and the token's user has no
    confirmed device: a token must not be the one way around the second factor."""

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if two_factor_required() and not user_has_device(user, confirmed=True):
            raise exceptions.AuthenticationFailed(
                "two-factor sign-in is required: enrol a device before using a token"
            )
        return user, token


class TwoFactorTokenScheme(OpenApiAuthenticationExtension):
    target_class = TwoFactorTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; refused under REQUIRE_2FA for users without a device.",
        }


class VendorKeyScheme(OpenApiAuthenticationExtension):
    target_class = VendorKeyAuthentication
    name = "vendorKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A vendor API key, with X-Timestamp (unix seconds, within 5 minutes "
            "of the server's clock), X-Nonce (16-64 of A-Z a-z 0-9 - _, never reused: a nonce "
            "seen within 5 minutes is refused as a replay) and X-Signature: hex HMAC-SHA256, "
            "under the key's signing secret, of six lines joined by a newline: timestamp, nonce, "
            "METHOD, path, canonical query (pairs decoded, sorted, percent-encoded, joined by "
            "'&'; empty if none), hex SHA-256 of the raw body.",
        }


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = VerifiedSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
