"""Each role, each campaign-scoped admin page and API endpoint, own and foreign campaign.

The admin half walks `admin.site._registry` when the tests are collected, so a page added later
is covered without touching this file; its model needs a factory in tests/factories.py (or rows
every campaign starts with). Expected: a role in the admin's `view_roles` gets 200 and sees its
own campaign's object only; any other role gets 403 on lists and autocompletes and 404 on object
pages; another campaign's object is a 404 for everyone.
"""

from __future__ import annotations

import datetime as dt
import inspect
import itertools
import json
from urllib.parse import urlencode

import factory
import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse
from rest_framework.test import APIClient

from campaign.admin import CampaignScopedAdmin
from campaign.api.authentication import signed_headers
from campaign.models import Campaign, Role, VendorApiKey
from campaign.services import create_vendor_key, vendor_signing_secret
from tests import factories
from tests.factories import (
    CampaignFactory,
    ContactAttemptFactory,
    ImportRunFactory,
    MembershipFactory,
    UserFactory,
    VoterFactory,
)
from voters.models import RejectedRow

pytestmark = pytest.mark.django_db

ROLES = (Role.ADMIN, Role.STAFF, Role.ORGANIZER, Role.VIEWER, "none")
SIDES = ("own", "foreign")


# -- objects for any scoped model --------------------------------------------------------------


def _factories() -> dict[type[models.Model], type[factory.django.DjangoModelFactory]]:
    found = {}
    for _, obj in inspect.getmembers(factories, inspect.isclass):
        if issubclass(obj, factory.django.DjangoModelFactory) and obj._meta.model is not None:
            found.setdefault(obj._meta.model, obj)
    return found


FACTORIES = _factories()


def _has_campaign(model: type[models.Model]) -> bool:
    return any(f.name == "campaign" for f in model._meta.get_fields())


def _factory_kwargs(factory_class, campaign: Campaign) -> dict:
    """Tie every sub-object of the factory to `campaign` (voter__campaign=…, and so on)."""
    kwargs = {"campaign": campaign} if _has_campaign(factory_class._meta.model) else {}
    for name, declaration in factory_class._meta.declarations.items():
        if isinstance(declaration, factory.SubFactory):
            target = declaration.get_factory()._meta.model
            if target is Campaign:
                kwargs[name] = campaign
            elif _has_campaign(target):
                kwargs[f"{name}__campaign"] = campaign
    return kwargs


def _build_without_factory(model, campaign: Campaign, model_admin) -> models.Model | None:
    if model is VendorApiKey:
        return create_vendor_key(campaign=campaign, name="Vendor", user=None)[0]
    if model is RejectedRow:
        run = ImportRunFactory(campaign=campaign)
        return RejectedRow.objects.create(
            import_run=run, file_name="f.csv", line_number=2, raw="x", errors=[]
        )
    # Rows every campaign starts with (the support question, the VAN code table).
    return model._default_manager.filter(**{model_admin.campaign_path: campaign}).first()


def object_in(model, campaign: Campaign, model_admin: CampaignScopedAdmin) -> models.Model:
    if not model_admin.campaign_path:
        return campaign
    if model in FACTORIES:
        factory_class = FACTORIES[model]
        return factory_class(**_factory_kwargs(factory_class, campaign))
    obj = _build_without_factory(model, campaign, model_admin)
    if obj is None:
        pytest.fail(f"no way to build a {model._meta.label}: add a factory to tests/factories.py")
    return obj


def campaign_of(model_admin: CampaignScopedAdmin, obj: models.Model) -> int | None:
    return model_admin.campaign_id_of(obj)


# -- the admin ---------------------------------------------------------------------------------

SCOPED = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, CampaignScopedAdmin)
    ),
    key=lambda pair: pair[0]._meta.label_lower,
)


def _autocomplete_source(target: type[models.Model]) -> tuple[str, str, str] | None:
    """Some foreign key pointing at `target` (the autocomplete view needs one to be asked)."""
    from django.apps import apps

    for model in sorted(apps.get_models(), key=lambda m: m._meta.label_lower):
        for field in model._meta.get_fields():
            if field.many_to_one and field.concrete and field.related_model is target:
                return model._meta.app_label, model._meta.model_name, field.name
    return None


PAGES = []
for _model, _admin in SCOPED:
    PAGES.append(pytest.param(_model, "changelist", id=f"{_model._meta.label_lower}-changelist"))
    PAGES.append(pytest.param(_model, "change", id=f"{_model._meta.label_lower}-change"))
    if _admin.search_fields and _autocomplete_source(_model):
        PAGES.append(
            pytest.param(_model, "autocomplete", id=f"{_model._meta.label_lower}-autocomplete")
        )


@pytest.fixture
def world(db):
    """Two campaigns, one user per role in the first ('own'), one object per side."""
    own = CampaignFactory(slug="own", name="Own")
    foreign = CampaignFactory(slug="foreign", name="Foreign")
    users = {}
    for role in ROLES:
        user = UserFactory(username=f"m-{role}", is_staff=True)
        if role != "none":
            MembershipFactory(user=user, campaign=own, role=role)
        users[role] = user
    return {"campaigns": {"own": own, "foreign": foreign}, "users": users}


def _admin_status(client, model, model_admin, page, objects, side) -> str:
    obj = objects[side]
    opts = model._meta
    if page == "change":
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        return str(client.get(url).status_code)
    if page == "changelist":
        response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        if response.status_code != 200:
            return str(response.status_code)
        shown = {o.pk for o in response.context["cl"].result_list}
        return "200 listed" if obj.pk in shown else "200 absent"
    app_label, model_name, field_name = _autocomplete_source(model)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": ""},
    )
    if response.status_code != 200:
        return str(response.status_code)
    shown = {r["id"] for r in response.json()["results"]}
    return "200 listed" if str(obj.pk) in shown else "200 absent"


def _admin_expected(role: str, view_roles: frozenset[str], page: str, side: str) -> str:
    may_view = role in view_roles
    if page == "change":
        return "200" if may_view and side == "own" else "404"
    if not may_view:
        return "403"
    return "200 listed" if side == "own" else "200 absent"


@pytest.mark.parametrize(("model", "page"), PAGES)
def test_admin_page_by_role_and_campaign(client, world, model, page):
    model_admin = admin.site._registry[model]
    objects = {side: object_in(model, world["campaigns"][side], model_admin) for side in SIDES}
    assert campaign_of(model_admin, objects["own"]) == world["campaigns"]["own"].pk

    observed, expected = {}, {}
    for role in ROLES:
        client.force_login(world["users"][role])
        for side in SIDES:
            observed[role, side] = _admin_status(client, model, model_admin, page, objects, side)
            expected[role, side] = _admin_expected(role, model_admin.view_roles, page, side)

    assert observed == expected


def test_every_scoped_admin_is_in_the_matrix():
    assert {m._meta.label_lower for m, _ in SCOPED} >= {
        "campaign.campaign", "campaign.election", "campaign.membership", "campaign.auditevent",
        "campaign.vendorapikey", "voters.voter", "voters.household", "voters.voterecord",
        "voters.importrun", "messaging.messagevariant", "messaging.turf", "messaging.fieldresult",
    }  # fmt: skip


def test_no_scoped_admin_lets_organizers_in():
    assert [type(a).__name__ for _, a in SCOPED if Role.ORGANIZER in a.view_roles] == []


def test_unscoped_admins_are_closed_to_campaign_members(client, world):
    """Admins that are not campaign-scoped (users, tokens, devices, lockouts) go by Django's
    model permissions, which campaign members do not have."""
    client.force_login(world["users"][Role.ADMIN])
    open_pages = []
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, CampaignScopedAdmin):
            continue
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        if client.get(url).status_code != 403:
            open_pages.append(opts.label_lower)

    assert open_pages == []


# -- the API -----------------------------------------------------------------------------------

AT = "2024-10-05T15:00:00Z"
# Each recorded contact at its own minute, so no request is a retry of an earlier one.
_MINUTES = itertools.count()
READERS = {Role.ADMIN, Role.STAFF, Role.VIEWER}
WRITERS = {Role.ADMIN, Role.STAFF}


@pytest.fixture
def api_world(world):
    data = {}
    for side in SIDES:
        campaign = world["campaigns"][side]
        voter = VoterFactory(campaign=campaign)
        data[side] = {
            "campaign": campaign,
            "voter": voter,
            "contact": ContactAttemptFactory(voter=voter),
        }
    key = create_vendor_key(campaign=world["campaigns"]["own"], name="Vendor", user=None)
    return {**world, "objects": data, "vendor": key}


def _list_status(response, obj_pk: int) -> str:
    if response.status_code != 200:
        return str(response.status_code)
    listed = {row["id"] for row in response.json()["results"]}
    return "200 listed" if obj_pk in listed else "200 empty"


def _call(api: APIClient, endpoint: str, objects: dict, vendor=None) -> str:
    """One request to `endpoint` about the objects of one side; returns what it answered."""
    slug = objects["campaign"].slug
    voter, contact = objects["voter"], objects["contact"]
    requests = {
        "voters-list": ("GET", "/api/v1/voters", {"campaign": slug}),
        "voters-detail": ("GET", f"/api/v1/voters/{voter.pk}", None),
        "contacts-list": ("GET", "/api/v1/contacts", {"campaign": slug}),
        "contacts-detail": ("GET", f"/api/v1/contacts/{contact.pk}", None),
        "contacts-create": (
            "POST",
            "/api/v1/contacts",
            {
                "voter": voter.pk,
                "channel": "door",
                "result": "refused",
                "occurred_at": _next_minute(),
            },
        ),
        "consent-check": (
            "POST",
            "/api/v1/consent/check",
            {"campaign": slug, "channel": "sms", "addresses": ["+19195550123"]},
        ),
        "consent-opt-outs": (
            "POST",
            "/api/v1/consent/opt-outs",
            {
                "campaign": slug,
                "events": [
                    {
                        "event_id": "e1",
                        "channel": "sms",
                        "address": "+19195550123",
                        "source": "stop_reply",
                        "occurred_at": AT,
                    }
                ],
            },
        ),
    }
    method, path, data = requests[endpoint]
    if vendor is not None:
        response = _vendor_request(api, vendor, method, path, data)
    elif method == "GET":
        response = api.get(path, data)
    else:
        response = api.post(path, data, format="json")
    if endpoint.endswith("-list"):
        target = voter if endpoint.startswith("voters") else contact
        return _list_status(response, target.pk)
    return str(response.status_code)


def _next_minute() -> str:
    at = dt.datetime(2024, 10, 5, 15, tzinfo=dt.UTC) + dt.timedelta(minutes=next(_MINUTES))
    return at.isoformat()


def _vendor_request(api: APIClient, vendor, method: str, path: str, data):
    key, full_key = vendor
    body = json.dumps(data).encode() if method == "POST" else b""
    query = urlencode(data or {}) if method == "GET" else ""
    headers = signed_headers(
        full_key, vendor_signing_secret(key), method=method, path=path, query=query, body=body
    )
    if method == "GET":
        return api.get(path, data, headers=headers)
    return api.generic("POST", path, body, content_type="application/json", headers=headers)


def _expected_api(endpoint: str, role: str, side: str) -> str:
    own = side == "own"
    if role == "vendor":
        if not endpoint.startswith("consent"):
            return "403"
        return "200" if own else "404"
    if endpoint.endswith("-list"):
        return "200 listed" if own and role in READERS else "200 empty"
    if endpoint.endswith("-detail"):
        return "200" if own and role in READERS else "404"
    if endpoint == "contacts-create":
        if not own or role not in READERS:
            return "404"
        return "201" if role in WRITERS else "403"
    if endpoint == "consent-check":
        if not own or role == "none":
            return "404"
        return "200" if role in WRITERS else "403"
    return "403"  # consent-opt-outs: vendors only


ENDPOINTS = (
    "voters-list", "voters-detail", "contacts-list", "contacts-detail", "contacts-create",
    "consent-check", "consent-opt-outs",
)  # fmt: skip


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_api_endpoint_by_role_and_campaign(api_world, endpoint):
    observed, expected = {}, {}
    for role in (*ROLES, "vendor"):
        for side in SIDES:
            api = APIClient()
            vendor = api_world["vendor"] if role == "vendor" else None
            if vendor is None:
                api.force_authenticate(api_world["users"][role])
            observed[role, side] = _call(api, endpoint, api_world["objects"][side], vendor)
            expected[role, side] = _expected_api(endpoint, role, side)

    assert observed == expected
