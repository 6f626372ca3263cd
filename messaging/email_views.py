"""/email/: the recipient's unsubscribe page and one-click endpoint, and the inbound endpoint of
the List-Unsubscribe mailto (messaging.email_unsubscribe does the work).

Both are reached without a session or cookie: a mail provider's one-click POST carries none, so
these views alone are CSRF-exempt; the signed token (or the inbound secret) is the credential.
A GET never changes anything: mail scanners follow every link in a message.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from campaign.views import client_ip
from messaging.email_tokens import BadToken
from messaging.email_unsubscribe import resubscribe, subscription_of, unsubscribe

ONE_CLICK = "One-Click"
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
