"""Admin search that keeps what staff type out of URLs.

A search term in a voter list is a name, an address or a phone: personal data that a GET form
would put in the URL, and from there in access logs, browser history and Referer headers (DESIGN
§5: no PII in URLs). The search form therefore POSTs; the term is kept in the user's session under
a random token, and the list's URL carries only `?qs=<token>`, in its own links too.
"""

from __future__ import annotations

import secrets

from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.http import HttpRequest, HttpResponseRedirect, QueryDict

TOKEN_VAR = "qs"
SESSION_KEY = "admin_private_search"
KEPT_SEARCHES = 20  # per session; older tokens fall back to an empty search


class PrivateSearchChangeList(ChangeList):
    """A ChangeList whose links carry the search token instead of the search term."""

    def __init__(self, request: HttpRequest, *args, **kwargs):
        self.search_token = getattr(request, "_private_search_token", "")
        super().__init__(request, *args, **kwargs)

    def get_query_string(self, new_params=None, remove=None) -> str:
        if not self.search_token:
            return super().get_query_string(new_params, remove)
        kept = self.filter_params
        self.filter_params = {k: v for k, v in kept.items() if k != SEARCH_VAR}
        self.filter_params[TOKEN_VAR] = [self.search_token]
        try:
            return super().get_query_string(new_params, remove)
        finally:
            self.filter_params = kept


def search_redirect(request: HttpRequest) -> HttpResponseRedirect | None:
    """The redirect that moves a search term out of the URL, or None when there is none to move.

    A POSTed search (the form) or a `?q=` typed into the address bar becomes `?qs=<token>`.
    """
    if request.method == "POST" and SEARCH_VAR in request.POST and "action" not in request.POST:
        term, params = request.POST.get(SEARCH_VAR, ""), request.POST.copy()
        params.pop("csrfmiddlewaretoken", None)
    elif request.method == "GET" and SEARCH_VAR in request.GET:
        term, params = request.GET.get(SEARCH_VAR, ""), request.GET.copy()
    else:
        return None
    params.pop(SEARCH_VAR, None)
    params.pop(TOKEN_VAR, None)
    params.pop("p", None)  # a new search starts on its first page
    if term.strip():
        params[TOKEN_VAR] = _remember(request, term.strip())
    return HttpResponseRedirect(f"{request.path}?{params.urlencode()}" if params else request.path)


def resolve_search_token(request: HttpRequest) -> None:
    """Put the remembered term back as `q` for the ChangeList, and note the token for its links."""
    token = request.GET.get(TOKEN_VAR)
    if token is None:
        return
    params: QueryDict = request.GET.copy()
    del params[TOKEN_VAR]
    term = request.session.get(SESSION_KEY, {}).get(token, "")
    if term:
        params[SEARCH_VAR] = term
        request._private_search_token = token  # type: ignore[attr-defined]
    request.GET = params


def url_params(request: HttpRequest) -> QueryDict:
    """The list's query parameters as its links must carry them: the token, never the term."""
    params = request.GET.copy()
    token = getattr(request, "_private_search_token", "")
    if token:
        params.pop(SEARCH_VAR, None)
        params[TOKEN_VAR] = token
    return params


def _remember(request: HttpRequest, term: str) -> str:
    searches = dict(request.session.get(SESSION_KEY, {}))
    for token, remembered in searches.items():
        if remembered == term:
            return token
    token = secrets.token_urlsafe(9)
    searches[token] = term
    request.session[SESSION_KEY] = dict(list(searches.items())[-KEPT_SEARCHES:])
    return token
