"""The organizer's phone pages under /field/: sign in, my turfs, a turf (kept offline), results.

Session sign-in outside the admin (organizers need no admin), with the same second factor as the
admin when REQUIRE_2FA is on. Views translate requests and call `messaging.field`; a turf that
is not the user's, and a voter who is not one of its program's doors, is a 404.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from functools import wraps

from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_otp import devices_for_user, user_has_device
from django_otp.forms import OTPAuthenticationForm

from campaign.admin_site import is_verified, two_factor_required
from campaign.views import client_ip
from messaging.field import (
    MAX_ANSWERS,
    MAX_NOTE,
    DoorResult,
    FieldResultError,
    NotHeld,
    field_campaign_ids,
    organizer_turfs,
    record_field_result,
    turf_data,
)
from messaging.models import DoorOutcome, Turf

MAX_BODY = 16_384
ASSET_TYPES = {"app.js": "text/javascript", "app.css": "text/css", "sw.js": "text/javascript"}


# --------------------------------------------------------------------------------------------
# Signing in
# --------------------------------------------------------------------------------------------


class FieldLoginForm(OTPAuthenticationForm):
    """Password, and the six-digit code under REQUIRE_2FA for a user who has a device (one
    without is signed in unverified and sent to enrol one, as in the admin)."""

    def _chosen_device(self, user):
        # A phone form has no device list: a user with one device (the usual case) uses it. With
        # several, none is guessed (trying each would count failures against the others).
        chosen = super()._chosen_device(user)
        if chosen is None:
            devices = list(devices_for_user(user, confirmed=True))
            chosen = devices[0] if len(devices) == 1 else None
        return chosen

    def clean(self):
        self.cleaned_data = super(OTPAuthenticationForm, self).clean()
        user = self.get_user()
        if two_factor_required() and user is not None and user_has_device(user):
            self.clean_otp(user)
        return self.cleaned_data


class FieldLoginView(LoginView):
    form_class = FieldLoginForm
    template_name = "field/login.html"
    # Not True: a user signed in without their second factor must be able to sign in again here.
    redirect_authenticated_user = False

    def get_default_redirect_url(self) -> str:
        return reverse("field:home")

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "ask_code": two_factor_required()}


@require_POST
def field_logout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("field:login"))


def organizer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (with the second factor when required) as someone who may walk turfs.

    JSON callers get a JSON 401/403 (the phone keeps its queue and asks to sign in again); pages
    redirect to the sign-in page."""

    @wraps(view)
    def check(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        wants_json = request.path.endswith(".json") or request.method == "POST"
        user = request.user
        if not user.is_authenticated:
            if wants_json:
                return JsonResponse({"error": "sign in again to send results"}, status=401)
            return HttpResponseRedirect(f"{reverse('field:login')}?next={request.path}")
        if not is_verified(request):
            if wants_json:
                return JsonResponse({"error": "two-factor sign-in needed"}, status=401)
            # No device yet: set one up and come back; one unused this session: sign in with it.
            page = (
                reverse("two_factor_enrol") if not user_has_device(user) else reverse("field:login")
            )
            return HttpResponseRedirect(f"{page}?next={request.path}")
        if not field_campaign_ids(user):
            if wants_json:
                return JsonResponse({"error": "you are not an organizer"}, status=403)
            return render(request, "field/not_organizer.html", status=403)
        return view(request, *args, **kwargs)

    return check


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@never_cache
@require_GET
@organizer_required
def home(request: HttpRequest) -> HttpResponse:
    """My turfs, with when each was given (in the campaign's time zone, named)."""
    return render(request, "field/home.html", {"turfs": list(organizer_turfs(request.user))})


def _my_turf(request: HttpRequest, turf_id: int) -> Turf:
    return get_object_or_404(organizer_turfs(request.user), pk=turf_id)


@never_cache
@require_GET
@organizer_required
def turf_page(request: HttpRequest, turf_id: int) -> HttpResponse:
    """The app shell of one turf; its doors come from turf_json and stay on the phone."""
    turf = _my_turf(request, turf_id)
    return render(request, "field/turf.html", {"turf": turf})


@never_cache
@require_GET
@organizer_required
def turf_json(request: HttpRequest, turf_id: int) -> JsonResponse:
    turf = _my_turf(request, turf_id)
    return JsonResponse(turf_data(turf=turf, user=request.user, client_ip=client_ip(request)))


@require_GET
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """The app's script, style and service worker: ours, no CDN. The worker is served from
    /field/ so its scope covers the pages."""
    if name not in ASSET_TYPES:
        raise Http404
    response = HttpResponse(render_to_string(f"field/{name}"), content_type=ASSET_TYPES[name])
    # The worker checks for a new version on each visit; the others are cached by it.
    response["Cache-Control"] = "no-cache"
    return response


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@require_POST
@organizer_required
def post_result(request: HttpRequest) -> JsonResponse:
    """One door result (JSON); 201 when recorded, 200 with the first answer on a replay."""
    try:
        result = parse_result(request.body)
        answer, created = record_field_result(
            user=request.user, result=result, client_ip=client_ip(request)
        )
    except NotHeld:
        return JsonResponse({"error": "no such turf or door of yours"}, status=404)
    except FieldResultError as error:
        return JsonResponse({"error": _message(error), "fields": error.message_dict}, status=400)
    return JsonResponse(answer, status=201 if created else 200)


def _message(error: ValidationError) -> str:
    return "; ".join(f"{name}: {' '.join(texts)}" for name, texts in error.message_dict.items())


def parse_result(body: bytes) -> DoorResult:
    """The shape of a result; FieldResultError (a 400) says which field is wrong and why."""
    if len(body) > MAX_BODY:
        raise FieldResultError({"body": f"is over {MAX_BODY} bytes"})
    try:
        data = json.loads(body)
    except RecursionError as error:  # "[[[[…" past Python's stack: not a result, not a 500
        raise FieldResultError({"body": "is nested too deeply"}) from error
    except (ValueError, UnicodeDecodeError) as error:
        raise FieldResultError({"body": "is not JSON"}) from error
    if not isinstance(data, dict):
        raise FieldResultError({"body": "must be a JSON object"})
    if "\x00" in body.decode("utf-8", "replace") or "\\u0000" in body.decode("utf-8", "replace"):
        raise FieldResultError({"body": "NUL characters are not allowed"})
    answers = data.get("answers") or {}
    if not isinstance(answers, dict) or len(answers) > MAX_ANSWERS:
        raise FieldResultError({"answers": f"must be an object of at most {MAX_ANSWERS} answers"})
    return DoorResult(
        key=_uuid(data.get("key")),
        turf=_id(data.get("turf"), "turf"),
        program=_id(data.get("program"), "program"),
        voter=_text(data.get("voter"), "voter", 64, required=True),
        outcome=_choice(data.get("outcome")),
        recorded_at=_moment(data.get("recorded_at")),
        support=_support(data.get("support")),
        answers={_text(k, "answers", 64): _text(v, "answers", 64) for k, v in answers.items()},
        note=_text(data.get("note"), "note", MAX_NOTE),
    )


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise FieldResultError({"key": "must be a UUID"}) from error


def _id(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise FieldResultError({name: "must be a positive integer id"})
    return value


def _text(value: object, name: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise FieldResultError({name: "must be a string" + (" (not empty)" if required else "")})
    if len(value) > limit:
        raise FieldResultError({name: f"is longer than {limit} characters"})
    return value.strip()


def _choice(value: object) -> str:
    if value not in DoorOutcome.values:
        raise FieldResultError({"outcome": f"must be one of {', '.join(DoorOutcome.values)}"})
    return str(value)


def _support(value: object) -> str:
    if value in (None, ""):
        return ""
    if str(value) not in {"1", "2", "3", "4", "5"}:
        raise FieldResultError({"support": "must be 1 to 5"})
    return str(value)


def _moment(value: object) -> dt.datetime:
    try:
        moment = parse_datetime(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:  # well-formed but not a date (month 13)
        moment = None
    if moment is None or moment.tzinfo is None:
        raise FieldResultError({"recorded_at": "must be an ISO 8601 time with a zone"})
    return moment
