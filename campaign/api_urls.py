"""The one API router (/api/v1/), the OpenAPI schema and its documentation page.

Each app's viewsets live in `<app>/api/`; they are registered here so every endpoint is in one
list. Paths have no trailing slash (`POST /api/v1/consent/check`).
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from messaging.api.views import ProgramViewSet, SmsViewSet, TwilioViewSet
from voters.api.views import ConsentViewSet, ContactAttemptViewSet, VoterViewSet

router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.register("voters", VoterViewSet, basename="voter")
router.register("contacts", ContactAttemptViewSet, basename="contact")
router.register("consent", ConsentViewSet, basename="consent")
router.register("programs", ProgramViewSet, basename="program")
router.register("sms", SmsViewSet, basename="sms")
router.register("sms/twilio", TwilioViewSet, basename="sms-twilio")

urlpatterns = [
    path("v1/", include((router.urls, "api"), namespace="api")),
    # The schema describes code that is public anyway; the data behind it is not.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
]
