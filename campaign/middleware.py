"""Request checks that hold for every page and endpoint before any view runs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

NUL_REFUSED = "NUL characters are not allowed in a request"
API_PREFIX = "/api/v1/"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefuseNulMiddleware:
    """A NUL in the path, the query string or a posted form is a 400.

    PostgreSQL cannot store or even compare a text value holding NUL, so one in an admin filter
    or an API parameter reached the database as an error (a 500). No form field, filter or id of
    ours has a use for it. JSON bodies are checked by campaign.api.parsers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            if request.path.startswith(API_PREFIX):
                # API clients parse JSON; the schema promises it for every answer.
                return JsonResponse({"detail": NUL_REFUSED}, status=400)
            return HttpResponseBadRequest(NUL_REFUSED)
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in request.path or "%00" in query or "\x00" in query:
        return True
    if request.method != "POST" or not request.content_type.startswith(_FORM_TYPES):
        return False
    if request.path.startswith(API_PREFIX):
        # Read the raw body before parsing the form: a vendor's signature covers those bytes,
        # and a multipart form parsed from the stream would leave none to check (a 500).
        request.body  # noqa: B018
    # The form is parsed here once; views then read the same parsed request.POST.
    return any("\x00" in key or "\x00" in value for key, value in _items(request.POST))


def _items(form) -> list[tuple[str, str]]:
    return [(key, value) for key, values in form.lists() for value in values]
