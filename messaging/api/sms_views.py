"""The SMS vendor API under /api/v1/sms/: lease due texts, acknowledge sends, report receipts,
forward replies. Vendors only (a signed API key), each reaching its own campaign; every POST
carries an Idempotency-Key (campaign.api.idempotency) and is throttled per key."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from campaign.api.access import vendor_key
from campaign.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from campaign.api.permissions import IsVendor
from campaign.api.throttling import VendorKeyThrottle
from messaging.api.sms_serializers import (
    AckInputSerializer,
    AckResultsSerializer,
    InboundInputSerializer,
    InboundResultsSerializer,
    LeaseInputSerializer,
    LeaseSerializer,
    StatusInputSerializer,
    StatusSerializer,
)
from messaging.models import SmsMessage
from messaging.sms import Lease, ack_messages, lease_messages
from messaging.sms_inbound import Inbound, Receipt, record_inbound, record_receipts

IDEMPOTENCY_RESPONSES = {
    409: OpenApiResponse(description="The same Idempotency-Key is being processed: retry."),
    422: OpenApiResponse(description="The Idempotency-Key was used with another request."),
    429: OpenApiResponse(description="Too many requests for this key: see Retry-After."),
}


def clock() -> dt.datetime:
    """Now, for the services (the tests set it to fixed instants)."""
    return timezone.now()


def _schema(request, response, summary: str):
    return extend_schema(
        request=request,
        responses={200: response, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
        summary=summary,
    )


class SmsViewSet(viewsets.GenericViewSet):
    """What SMS vendors do: lease, acknowledge, report receipts, forward replies."""

    permission_classes = [IsVendor]
    throttle_classes = [VendorKeyThrottle]
    pagination_class = None

    def get_queryset(self):
        # Every action works on the key's own campaign; nothing else is reachable.
        return SmsMessage.objects.filter(campaign_id=vendor_key(self.request).campaign_id)

    @_schema(LeaseInputSerializer, LeaseSerializer, "Lease due texts")
    @action(detail=False, methods=["post"], url_path="lease", serializer_class=LeaseInputSerializer)
    def lease(self, request: Request) -> Response:
        """Up to `limit` texts to send now: each recipient's quiet-hours window is open and stays
        open for the whole lease. Send each and acknowledge it before `expires_at`."""
        data = _valid(LeaseInputSerializer, request)

        def run() -> Response:
            lease = lease_messages(
                key=vendor_key(request),
                limit=data["limit"],
                lease_seconds=data["lease_seconds"],
                now=clock(),
            )
            return Response(lease_data(lease))

        return idempotent(request, run)

    @_schema(AckInputSerializer, AckResultsSerializer, "Acknowledge sent texts")
    @action(detail=False, methods=["post"], url_path="ack", serializer_class=AckInputSerializer)
    def ack(self, request: Request) -> Response:
        """Texts you sent, with your id for each: they are never leased again."""
        data = _valid(AckInputSerializer, request)

        def run() -> Response:
            acks = [(item["id"], item["vendor_message_id"]) for item in data["acks"]]
            outcomes = ack_messages(key=vendor_key(request), acks=acks, now=clock())
            # Plain dicts, the shape of AckResultsSerializer (which documents it): its fields
            # have nothing to convert, and running them per row was a tenth of an ack's time.
            results = [
                {"id": message_id, "result": outcome}
                for (message_id, _), outcome in zip(acks, outcomes, strict=True)
            ]
            return Response({"results": results})

        return idempotent(request, run)

    @_schema(StatusInputSerializer, StatusSerializer, "Report delivery receipts")
    @action(
        detail=False, methods=["post"], url_path="status", serializer_class=StatusInputSerializer
    )
    def status(self, request: Request) -> Response:
        """Receipts by your message id, in any order and any number of times: a text's status
        only moves forward, and the same (id, status) counts once. Unknown ids are listed back."""
        data = _valid(StatusInputSerializer, request)

        def run() -> Response:
            outcome = record_receipts(
                campaign=vendor_key(request).campaign,
                receipts=[Receipt(**receipt) for receipt in data["receipts"]],
                provider=data["provider"],
                now=clock(),
            )
            return Response(StatusSerializer(outcome).data)

        return idempotent(request, run)

    @_schema(InboundInputSerializer, InboundResultsSerializer, "Forward replies")
    @action(
        detail=False, methods=["post"], url_path="inbound", serializer_class=InboundInputSerializer
    )
    def inbound(self, request: Request) -> Response:
        """Texts voters sent. STOP and its family opt the number out at once (one confirmation
        queued for you to lease); HELP gets the help text; START opts back in. A reply forwarded
        again (same vendor id) changes nothing."""
        data = _valid(InboundInputSerializer, request)

        def run() -> Response:
            key = vendor_key(request)
            results = [_inbound(key, item) for item in data["messages"]]
            return Response(InboundResultsSerializer({"results": results}).data)

        return idempotent(request, run)


def lease_data(lease: Lease) -> dict:
    """LeaseSerializer's output, its envelope by the serializer and each text as a plain dict:
    the texts' fields have nothing to convert, and serializing 500 of them field by field was a
    tenth of a lease's time (a test holds the two equal)."""
    data = LeaseSerializer(replace(lease, messages=[])).data
    data["messages"] = [
        {"id": t.pk, "to": t.phone, "body": t.body, "encoding": t.encoding,
         "segments": t.segments, "kind": t.kind}
        for t in lease.messages
    ]  # fmt: skip
    return data


def _valid(serializer_class, request: Request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _inbound(key, item: dict) -> dict:
    row, is_new = record_inbound(
        campaign=key.campaign,
        key=key,
        inbound=Inbound(
            vendor_message_id=item["vendor_message_id"],
            phone=item["phone"],
            body=item["body"],
            received_at=item["received_at"],
            is_vendor_confirmed=item["vendor_confirmed"],
        ),
    )
    return {
        "vendor_message_id": row.vendor_message_id,
        "is_new": is_new,
        "kind": row.kind,
        "recorded": row.recorded,
        "answered": SmsMessage.objects.filter(reply_to=row).exists(),
    }
