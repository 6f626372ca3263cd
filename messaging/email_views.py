"""/email/: the recipient's unsubscribe page and one-click endpoint, and the inbound endpoint of
the List-Unsubscribe mailto (messaging.email_unsubscribe does the work).

Both are reached without a session or cookie: a mail provider's one-click POST carries none, so
these views alone are CSRF-exempt; the signed token (or the inbound secret) is the credential.
A GET never changes anything: mail scanners follow every link in a message.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from campaign.models import Campaign
from campaign.views import client_ip
from messaging.email_events import DeliveryEvent, record_events
from messaging.email_tokens import BadToken
from messaging.email_unsubscribe import resubscribe, subscription_of, unsubscribe
from messaging.models import EmailSettings
from messaging.sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadEvent,
    is_valid_signature,
    parse_event,
)

ONE_CLICK = "One-Click"
# A signed request older (or newer) than this is a replay and refused (DESIGN §4.3).
WEBHOOK_TOLERANCE = dt.timedelta(minutes=5)
_TOKEN_IN_SUBJECT = re.compile(r"unsubscribe\s+([A-Za-z0-9_\-:]+)", re.IGNORECASE)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    try:
        subscription = subscription_of(token, now=now)
    except BadToken:
        return _page(request, "invalid", status=404)
    if request.method == "GET":
        state = "confirm" if subscription.is_subscribed else "unsubscribed"
        return _page(request, state, campaign=subscription.campaign)
    ip = client_ip(request)
    if request.POST.get("List-Unsubscribe") == ONE_CLICK:
        via = "page" if request.POST.get("from_page") else "one-click"
        unsubscribe(token=token, now=now, via=via, client_ip=ip)
        return _page(request, "unsubscribed", campaign=subscription.campaign)
    if request.POST.get("action") == "resubscribe":
        resubscribe(token=token, now=now, client_ip=ip)
        return _page(request, "resubscribed", campaign=subscription.campaign)
    return _page(request, "confirm", campaign=subscription.campaign, status=400)


def _page(request: HttpRequest, state: str, *, campaign=None, status: int = 200) -> HttpResponse:
    response = render(
        request, "email/unsubscribe.html", {"state": state, "campaign": campaign}, status=status
    )
    # The token is in the URL: keep it out of other sites' Referer headers.
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt
@require_POST
def inbound_unsubscribe(request: HttpRequest) -> HttpResponse:
    """A provider's inbound parse of mail to EMAIL_UNSUBSCRIBE_MAILBOX (SendGrid Inbound Parse,
    Mailgun routes, SES through a small forwarder: a form with `subject`), authenticated by HTTP
    Basic with EMAIL_INBOUND_SECRET as the password. Any mail that is not a valid unsubscribe is
    answered 200 and ignored, so the provider does not retry it."""
    if not _inbound_authorized(request):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Basic realm="email-inbound"'
        return response
    found = _TOKEN_IN_SUBJECT.search(request.POST.get("subject", ""))
    if found is None:
        return HttpResponse("ignored: no token\n", content_type="text/plain")
    try:
        unsubscribe(token=found.group(1), now=timezone.now(), via="mailto")
    except BadToken:
        return HttpResponse("ignored: invalid token\n", content_type="text/plain")
    return HttpResponse("unsubscribed\n", content_type="text/plain")


def _inbound_authorized(request: HttpRequest) -> bool:
    secret = settings.EMAIL_INBOUND_SECRET
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if not secret or scheme.lower() != "basic":
        return False
    try:
        _, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(password.encode(), secret.encode())


@csrf_exempt
@require_POST
def sendgrid_events(request: HttpRequest, campaign_slug: str) -> HttpResponse:
    """SendGrid's signed Event Webhook for one campaign. A request that is unsigned, badly
    signed, stale, or for a campaign without a verification key is a 403 before anything is
    read or written; no setting turns the check off."""
    now = timezone.now()
    campaign = Campaign.objects.filter(slug=campaign_slug).first()
    key = (
        EmailSettings.objects.filter(campaign=campaign)
        .values_list("sendgrid_public_key", flat=True)
        .first()
        if campaign is not None
        else None
    )
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signed = key and is_valid_signature(
        public_key=key,
        signature=request.headers.get(SIGNATURE_HEADER, ""),
        timestamp=timestamp,
        payload=request.body,
    )
    if not signed or not _is_fresh(timestamp, now):
        return HttpResponse("invalid or missing signature\n", status=403)
    try:
        events = [found for e in json.loads(request.body) if (found := parse_event(e))]
    except (ValueError, TypeError, BadEvent):
        return HttpResponse("not a list of SendGrid events\n", status=400)
    summary = record_events(
        campaign=campaign,
        events=[
            DeliveryEvent(event_id, kind, message_id, dt.datetime.fromtimestamp(at, tz=dt.UTC))
            for event_id, kind, message_id, at in events
        ],
        now=now,
    )
    return JsonResponse(
        {
            "recorded": summary.recorded,
            "duplicate": summary.duplicate,
            "unmatched": summary.unmatched,
            "opted_out": summary.opted_out,
            "paused": summary.paused,
        }
    )


def _is_fresh(timestamp: str, now: dt.datetime) -> bool:
    try:
        signed_at = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return False
    return abs(now - signed_at) <= WEBHOOK_TOLERANCE
