"""Voters (read), contact history (read; staff record contacts) and consent (check; vendors
report opt-outs). Every queryset is cut to the caller's campaigns in get_queryset()."""

from __future__ import annotations

import hashlib
from collections import Counter

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from campaign.api.access import (
    READ_ROLES,
    WRITE_ROLES,
    campaign_ids,
    resolve_campaign,
    user_roles,
    vendor_key,
)
from campaign.api.pagination import IdCursorPagination, NewestFirstCursorPagination
from campaign.api.permissions import (
    CanWriteInObjectCampaign,
    IsSignedInUser,
    IsVendor,
    IsVendorOrSignedInUser,
)
from campaign.models import AuditAction, Campaign
from campaign.services import record_audit_event
from campaign.views import client_ip
from voters.api.serializers import (
    ConsentCheckInputSerializer,
    ConsentCheckSerializer,
    ContactAttemptInputSerializer,
    ContactAttemptSerializer,
    VendorOptOutsInputSerializer,
    VendorOptOutsSerializer,
    VoterSerializer,
)
from voters.consent import OptOut, normalize_address, opted_out_addresses, record_opt_outs
from voters.contacts import record_contact
from voters.models import Channel, ConsentEvent, ContactAttempt, ContactSource, Voter
from voters.phones import phone_exact

CAMPAIGN_PARAMETER = OpenApiParameter("campaign", str, description="Only this campaign (its slug).")


def readable(request: Request, qs: QuerySet) -> QuerySet:
    """`qs` cut to the campaigns the caller reads, and to `?campaign=<slug>` if given.

    Organizers read nothing here yet: walk lists (a later issue) will give them their voters.
    """
    ids = campaign_ids(request, READ_ROLES)
    slug = request.query_params.get("campaign")
    if slug:
        wanted = Campaign.objects.filter(slug=slug, pk__in=ids).values_list("pk", flat=True)
        ids = list(wanted)
    return qs.filter(campaign_id__in=ids)


@extend_schema(parameters=[CAMPAIGN_PARAMETER])
class VoterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Voters of your campaigns; viewers get them without phone and email."""

    serializer_class = VoterSerializer
    permission_classes = [IsSignedInUser]
    pagination_class = IdCursorPagination

    def get_queryset(self) -> QuerySet[Voter]:
        return readable(self.request, Voter.objects.select_related("campaign"))

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "roles": user_roles(self.request)}

    # Reading voters through the API is a download of voter data: audited per page and campaign,
    # like the admin's export, so a token paging through a voter file leaves a trace.
    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        _audit_download(request, page)
        return response

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        voter = self.get_object()
        response = Response(self.get_serializer(voter).data)
        _audit_download(request, [voter])
        return response


def _audit_download(request: Request, voters: list[Voter]) -> None:
    per_campaign = Counter(v.campaign_id for v in voters)
    for campaign_id, rows in sorted(per_campaign.items()):
        record_audit_event(
            action=AuditAction.DOWNLOAD,
            campaign=campaign_id,
            user=request.user,
            object_type="voters.voter",
            row_count=rows,
            client_ip=client_ip(request),
            detail={"via": "api", "path": request.path},
        )


@extend_schema(
    parameters=[
        CAMPAIGN_PARAMETER,
        OpenApiParameter("voter", int, description="Only this voter's contacts (their `id`)."),
    ]
)
class ContactAttemptViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Contact history, newest recorded first. Staff and admins record contacts; a retry of the
    same contact (voter, channel, time, result) returns the first one."""

    serializer_class = ContactAttemptSerializer
    permission_classes = [IsSignedInUser, CanWriteInObjectCampaign]
    pagination_class = NewestFirstCursorPagination

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "roles": user_roles(self.request)}

    def get_queryset(self) -> QuerySet[ContactAttempt]:
        qs = readable(
            self.request,
            ContactAttempt.objects.select_related("campaign", "program", "arm"),
        )
        voter = self.request.query_params.get("voter")
        if voter:
            # isascii: str.isdigit() is true of "¹" and "٣", which int() refuses (a 500).
            qs = qs.filter(voter_id=voter) if voter.isascii() and voter.isdigit() else qs.none()
        return qs

    @extend_schema(request=ContactAttemptInputSerializer, responses={201: ContactAttemptSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = ContactAttemptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        # A voter the caller cannot read is a 404; one they only read is a 403.
        voter = get_object_or_404(
            readable(request, Voter.objects.select_related("campaign")), pk=fields.pop("voter")
        )
        self.check_object_permissions(request, voter)
        attempt, created = record_contact(
            voter=voter,
            source=ContactSource.STAFF,
            user=request.user,
            client_ip=client_ip(request),
            **fields,
        )
        return Response(
            ContactAttemptSerializer(attempt).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConsentViewSet(viewsets.GenericViewSet):
    """The opt-out ledger as vendors and staff use it."""

    pagination_class = None

    def get_permissions(self):
        if self.action == "opt_outs":
            return [IsVendor()]
        return [IsVendorOrSignedInUser()]

    def get_queryset(self) -> QuerySet[ConsentEvent]:
        key = vendor_key(self.request)
        if key is not None:
            return ConsentEvent.objects.filter(campaign_id=key.campaign_id)
        return ConsentEvent.objects.filter(campaign_id__in=campaign_ids(self.request, WRITE_ROLES))

    # serializer_class on each action: OPTIONS describes the action's input with it (without,
    # an OPTIONS request was a 500).
    @extend_schema(request=ConsentCheckInputSerializer, responses=ConsentCheckSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="check",
        serializer_class=ConsentCheckInputSerializer,
    )
    def check(self, request: Request) -> Response:
        """Which of up to 1,000 addresses are opted out of the channel (one query)."""
        data = ConsentCheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = resolve_campaign(request, data.validated_data.get("campaign"), WRITE_ROLES)
        channel = data.validated_data["channel"]
        given = data.validated_data["addresses"]
        normalized = _ledger_addresses(channel, given)
        opted_out = opted_out_addresses(
            campaign=campaign, channel=channel, addresses=set(normalized)
        )
        hits = [raw for raw, address in zip(given, normalized, strict=True) if address in opted_out]
        return Response(ConsentCheckSerializer({"channel": channel, "opted_out": hits}).data)

    @extend_schema(request=VendorOptOutsInputSerializer, responses=VendorOptOutsSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="opt-outs",
        serializer_class=VendorOptOutsInputSerializer,
    )
    def opt_outs(self, request: Request) -> Response:
        """Opt-outs a vendor saw (STOP replies, carrier blocks); a retried event id is a no-op."""
        data = VendorOptOutsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = vendor_key(request)
        campaign = resolve_campaign(request, data.validated_data.get("campaign"), WRITE_ROLES)
        events = data.validated_data["events"]
        addresses, unreadable = _ledger_addresses_of_events(events)
        by_source: dict[str, list[OptOut]] = {}
        for event, address in zip(events, addresses, strict=True):
            by_source.setdefault(event["source"], []).append(
                OptOut(
                    channel=event["channel"],
                    address=address,
                    occurred_at=event["occurred_at"],
                    dedupe_key=_vendor_dedupe_key(key.pk, event["event_id"]),
                )
            )
        recorded = sum(
            record_opt_outs(campaign=campaign, source=source, events=batch, actor=str(key))
            for source, batch in by_source.items()
        )
        body = {"received": len(events), "recorded": recorded, "unreadable": unreadable}
        return Response(VendorOptOutsSerializer(body).data)


def _ledger_address(channel: str, raw: str) -> str | None:
    """The address as the ledger keys it: E.164 for phones, lower-case for email."""
    if channel in (Channel.SMS, Channel.PHONE):
        return phone_exact(raw)
    address = raw.strip().lower()
    return address if "@" in address else None


def _ledger_addresses(channel: str, given: list[str]) -> list[str]:
    normalized = [_ledger_address(channel, raw) for raw in given]
    bad = [i for i, address in enumerate(normalized) if address is None]
    if bad:
        # Refused rather than answered "contactable": a number we cannot read is not consent.
        # Positions, not values, so no address is echoed into logs.
        raise ValidationError({"addresses": f"not a {channel} address at positions {bad[:20]}"})
    return normalized  # type: ignore[return-value]


def _ledger_addresses_of_events(events: list[dict]) -> tuple[list[str], list[int]]:
    """Ledger addresses of a vendor's events, and the positions of those we could not read.

    An opt-out is never refused for the shape of its address: an unreadable one is kept as the
    vendor sent it (the ledger then holds it verbatim), and its position is reported back.
    """
    addresses, unreadable = [], []
    for i, event in enumerate(events):
        address = _ledger_address(event["channel"], event["address"])
        if address is None:
            unreadable.append(i)
            address = normalize_address(event["channel"], event["address"])
        addresses.append(address)
    return addresses, unreadable


def _vendor_dedupe_key(key_pk: int, event_id: str) -> str:
    # Per key: two vendors may use the same event ids.
    return hashlib.sha256(f"vendor:{key_pk}:{event_id}".encode()).hexdigest()
