"""Programs under /api/v1/programs: list, read, create from a spec, preview, commit once, pause,
resume, cancel, and the assignments as CSV. Querysets are cut to the caller's campaigns, so
another campaign's program is a 404; writing needs the admin or staff role in its campaign."""

from __future__ import annotations

import io

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from campaign.api.access import WRITE_ROLES, has_role, resolve_campaign
from campaign.api.pagination import NewestFirstCursorPagination
from campaign.api.permissions import CanWriteInObjectCampaign, IsSignedInUser
from campaign.views import client_ip
from messaging.api.serializers import (
    ProgramCreateSerializer,
    ProgramPreviewSerializer,
    ProgramSerializer,
)

# Registered by campaign.api_urls, which imports each app's viewsets from its api.views only.
from messaging.api.sms_views import SmsViewSet  # noqa: F401
from messaging.api.twilio_views import TwilioViewSet  # noqa: F401
from messaging.models import ProgramDesign
from messaging.program_specs import SpecError
from messaging.programs import (
    ProgramStateError,
    cancel_program,
    create_program,
    export_assignments,
    pause_program,
    preview_program,
    request_commit,
    resume_program,
)
from voters.api.views import CAMPAIGN_PARAMETER, readable

CONFLICT = OpenApiResponse(description="The program's status does not allow this.")


@extend_schema(parameters=[CAMPAIGN_PARAMETER])
class ProgramViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Programs of your campaigns, newest first. Staff and admins create, commit, pause, resume
    and cancel; a program is committed once (a second commit is a 409)."""

    serializer_class = ProgramSerializer
    permission_classes = [IsSignedInUser, CanWriteInObjectCampaign]
    pagination_class = NewestFirstCursorPagination
    lookup_field = "program_id"
    lookup_url_kwarg = "pk"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[ProgramDesign]:
        qs = ProgramDesign.objects.select_related("campaign", "program").prefetch_related(
            "arm_variants__arm", "arm_variants__variant"
        )
        return readable(self.request, qs)

    @extend_schema(request=ProgramCreateSerializer, responses={201: ProgramSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = ProgramCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = resolve_campaign(request, data.validated_data["campaign"], WRITE_ROLES)
        try:
            design = create_program(
                campaign=campaign, spec=data.validated_data["spec"], by=request.user
            )
        except SpecError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        design = self.get_queryset().get(pk=design.pk)
        return Response(ProgramSerializer(design).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ProgramPreviewSerializer)
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """Counts in the universe and per arm after the draw, and expected net votes."""
        design = self.get_object()
        try:
            return Response(preview_program(design=design))
        except SpecError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None

    @extend_schema(request=None, responses={202: ProgramSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def commit(self, request: Request, pk: str | None = None) -> Response:
        """Draw and write the assignments, once, in the background: 202 with the program, whose
        status is `committing` until a worker is done (`committed`), or back to `draft` with
        `commit_error` saying why the commit could not happen."""
        response = self._write(request_commit)
        if response.status_code == status.HTTP_200_OK:
            response.status_code = status.HTTP_202_ACCEPTED
        return response

    @extend_schema(request=None, responses={200: ProgramSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._write(pause_program)

    @extend_schema(request=None, responses={200: ProgramSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._write(resume_program)

    @extend_schema(request=None, responses={200: ProgramSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Stop for good: what has not gone out stays unsent."""
        return self._write(cancel_program)

    @extend_schema(
        request=None,
        responses={(200, "text/csv"): OpenApiTypes.STR, 409: CONFLICT},
    )
    @action(detail=True, methods=["get"], url_path="assignments.csv")
    def assignments(self, request: Request, pk: str | None = None) -> HttpResponse:
        """voter_id, household, arm, variant, propensity: for vendors delivering elsewhere."""
        design = self.get_object()
        if not has_role(request, design.campaign_id, WRITE_ROLES):
            self.permission_denied(request, message="exporting needs the staff or admin role")
        if design.committed_at is None:
            return Response({"detail": "not committed: nothing is assigned yet"}, status=409)
        out = io.StringIO()
        export_assignments(design=design, out=out, by=request.user, client_ip=client_ip(request))
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="program-{pk}.csv"'
        return response

    def _write(self, service) -> Response:
        design = self.get_object()
        try:
            design = service(design=design, by=self.request.user, client_ip=client_ip(self.request))
        except ProgramStateError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except SpecError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(ProgramSerializer(self.get_queryset().get(pk=design.pk)).data)
