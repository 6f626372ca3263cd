"""Twilio-compatible callbacks: POST /api/v1/sms/twilio/{campaign}/status and .../inbound.

Form-encoded, signed with X-Twilio-Signature under the campaign's Twilio auth token, over the
URL Twilio called: TWILIO_PUBLIC_URL plus the request's path and query. A request with no
signature, a wrong one, or for a campaign without a token is a 403 before anything is read or
written; no setting turns the check off. Receipts and replies are idempotent by Twilio's
MessageSid (and status), as Twilio retries a callback that failed.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from campaign.models import Campaign
from messaging.api import sms_views
from messaging.api.sms_serializers import TwilioInboundSerializer, TwilioStatusSerializer
from messaging.models import SmsSettings, SmsStatus
from messaging.sms_inbound import Inbound, Receipt, record_inbound, record_receipts
from messaging.twilio import is_valid_signature

PROVIDER = "twilio"
# Twilio's message statuses we act on; the rest (queued, sending, accepted...) are steps on
# its side that say nothing new to us.
STATUSES = {
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.UNDELIVERED,
    "failed": SmsStatus.FAILED,
}
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
REFUSED = "invalid or missing X-Twilio-Signature"
TWIML = OpenApiResponse(OpenApiTypes.STR, description="Empty TwiML: nothing to send back.")
SIGNATURE = OpenApiParameter(
    "X-Twilio-Signature",
    str,
    location=OpenApiParameter.HEADER,
    required=True,
    description="Twilio's signature of the request under the campaign's auth token.",
)


def _schema(serializer, summary: str):
    return extend_schema(
        request={"application/x-www-form-urlencoded": serializer},
        responses={(200, "text/xml"): TWIML, 403: OpenApiResponse(description=REFUSED)},
        parameters=[SIGNATURE],
        summary=summary,
    )


class TwilioViewSet(viewsets.GenericViewSet):
    """Callbacks from a Twilio account; the signature is the authentication."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser]
    pagination_class = None
    lookup_field = "slug"
    lookup_url_kwarg = "campaign"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    queryset = Campaign.objects.all()

    @_schema(TwilioStatusSerializer, "Twilio status callback")
    @action(
        detail=True, methods=["post"], url_path="status", serializer_class=TwilioStatusSerializer
    )
    def status(self, request: Request, campaign: str) -> HttpResponse:
        found = _signed_campaign(request, campaign)
        data = _valid(TwilioStatusSerializer, request)
        status = STATUSES.get(data["MessageStatus"].strip().lower())
        if status is not None:
            record_receipts(
                campaign=found,
                receipts=[
                    Receipt(data["MessageSid"], status, sms_views.clock(), data["ErrorCode"])
                ],
                provider=PROVIDER,
                now=sms_views.clock(),
            )
        return _twiml()

    @_schema(TwilioInboundSerializer, "Twilio incoming message")
    @action(
        detail=True, methods=["post"], url_path="inbound", serializer_class=TwilioInboundSerializer
    )
    def inbound(self, request: Request, campaign: str) -> HttpResponse:
        found = _signed_campaign(request, campaign)
        data = _valid(TwilioInboundSerializer, request)
        record_inbound(
            campaign=found,
            inbound=Inbound(
                vendor_message_id=data["MessageSid"],
                phone=data["From"],
                body=data["Body"],
                received_at=sms_views.clock(),
                is_vendor_confirmed=bool(data["OptOutType"].strip()),
            ),
        )
        return _twiml()


def _signed_campaign(request: Request, slug: str) -> Campaign:
    """The campaign whose token signed this request; a 403 otherwise (an unknown campaign too,
    so the answer does not say which campaigns exist)."""
    campaign = Campaign.objects.filter(slug=slug).first()
    token = (
        SmsSettings.objects.filter(campaign=campaign).values_list("twilio_auth_token", flat=True)
        .first()
        if campaign is not None
        else None
    )  # fmt: skip
    base = settings.TWILIO_PUBLIC_URL.rstrip("/")
    raw = request._request
    params = {name: raw.POST.getlist(name) for name in raw.POST}
    signature = raw.headers.get("X-Twilio-Signature", "")
    url = base + raw.get_full_path()
    if campaign is None or not base or not is_valid_signature(token or "", url, params, signature):
        raise PermissionDenied(REFUSED)
    return campaign


def _valid(serializer_class, request: Request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _twiml() -> HttpResponse:
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
