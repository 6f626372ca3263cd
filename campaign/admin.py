"""The operator's console for campaigns, elections and memberships, and the tenancy rules that
every admin page in the project shares (`CampaignScopedAdmin`).

Tenancy in the admin: a user's campaign memberships, not Django's model permissions, decide what
they see and change. Every queryset is cut to the user's campaigns, so another campaign's object is
a 404 and never appears in a list, a filter, a dropdown or an autocomplete.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from campaign.admin_search import (
    PrivateSearchChangeList,
    resolve_search_token,
    search_redirect,
    url_params,
)
from campaign.models import AuditEvent, Campaign, Election, Membership, Role, VendorApiKey
from campaign.services import (
    add_member,
    change_role,
    create_vendor_key,
    remove_member,
    revoke_vendor_key,
    vendor_signing_secret,
)
from campaign.views import client_ip

# Roles that use the admin at all. Organizers have no admin access, not even to read: they see
# only what is assigned to them, on the organizer pages.
ADMIN_SITE_ROLES: frozenset[str] = frozenset({Role.ADMIN, Role.STAFF, Role.VIEWER})
# Roles that may write in a campaign's admin pages (elections, uploads); viewers only read.
EDIT_ROLES: frozenset[str] = frozenset({Role.ADMIN, Role.STAFF})
# Memberships decide who sees a campaign's voters, so only the campaign's own admins manage them.
MEMBERSHIP_ROLES: frozenset[str] = frozenset({Role.ADMIN})


# --------------------------------------------------------------------------------------------
# Who may see what
# --------------------------------------------------------------------------------------------


def campaign_roles(request: HttpRequest) -> dict[int, str]:
    """{campaign id: role} of the requesting user in the admin, read once per request.

    Organizer memberships are left out, so an organizer's campaigns are invisible here.

    These are the same membership rows `Campaign.objects.for_user` consults; reading them once
    keeps every permission check and queryset of a page to one query, and gives the planner a
    literal list of campaign ids (`campaign_id IN (1)` uses the per-campaign indexes as `= 1`).
    """
    cached = getattr(request, "_campaign_roles", None)
    if cached is None:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            cached = {}
        else:
            visible = Campaign.objects.for_user(user).values("pk")
            cached = dict(
                Membership.objects.filter(
                    user=user, campaign__in=visible, role__in=ADMIN_SITE_ROLES
                ).values_list("campaign_id", "role")
            )
        request._campaign_roles = cached
    return cached


def is_superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


def campaign_ids(request: HttpRequest, roles: Collection[str] | None = None) -> list[int]:
    """Ids of the user's campaigns, optionally only those where they hold one of `roles`."""
    return sorted(
        cid for cid, role in campaign_roles(request).items() if roles is None or role in roles
    )


def scoped_related_queryset(
    model: type[models.Model], request: HttpRequest, roles: Collection[str] | None = None
) -> models.QuerySet | None:
    """The rows of `model` the user may pick (dropdowns, filters), or None if it is not scoped."""
    qs = model._default_manager.all()
    if model is Campaign:
        return qs if is_superuser(request) else qs.filter(pk__in=campaign_ids(request, roles))
    if any(f.name == "campaign" for f in model._meta.get_fields()):
        return qs if is_superuser(request) else qs.filter(campaign__in=campaign_ids(request, roles))
    return None


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A foreign-key filter whose choices are only the user's campaigns' rows (the stock filter
    lists every row of the related table, which would name other campaigns' elections)."""

    max_choices = 200

    def field_choices(self, field, request, model_admin):
        if field.related_model is Campaign and not is_superuser(request):
            ids = campaign_ids(request)
            if len(ids) < 2:  # a filter with one choice is not shown; skip its query
                return []
        qs = scoped_related_queryset(field.related_model, request)
        if qs is None:
            return super().field_choices(field, request, model_admin)
        return [(obj.pk, str(obj)) for obj in qs[: self.max_choices]]


# --------------------------------------------------------------------------------------------
# Big tables
# --------------------------------------------------------------------------------------------


class BoundedCountPaginator(Paginator):
    """Counts exactly up to `exact_limit` rows, then estimates.

    `COUNT(*)` over a campaign's 8 million voters reads them all on every page view. Past the limit
    PostgreSQL's planner estimate of the same query (a statistics look-up, no scan) is plenty for
    "page 3 of about 80,000"; the embedded SQLite demo is small enough to count.
    """

    exact_limit = 10_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if not isinstance(qs, models.QuerySet):
            return super().count
        capped = qs.order_by()[: self.exact_limit + 1].count()
        if capped <= self.exact_limit:
            return capped
        connection = connections[qs.db]
        if connection.vendor != "postgresql":
            return qs.count()
        return max(self.exact_limit + 1, _planner_rows(qs))


def _planner_rows(qs: models.QuerySet) -> int:
    sql, params = qs.order_by().values("pk").query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):  # psycopg decodes json; other drivers may hand back text
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def wrappable_time(value: dt.datetime | None) -> str:
    """A time as the admin writes it ("2026-12-06 11:30 EST"), for a list column that may wrap
    it onto two lines: Django keeps a date field's column on one line, which on a 1366 px
    laptop pushes the last columns of a wide list out of sight."""
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def html_table(headers: Iterable[str], rows: Iterable[Iterable], empty: str) -> SafeString:
    """A small read-only table for a change page (every cell escaped), or `empty` in words."""
    rows = list(rows)
    if not rows:
        return format_html("<p>{}</p>", empty)
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


# --------------------------------------------------------------------------------------------
# The mixin
# --------------------------------------------------------------------------------------------


class CampaignScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows belong to campaigns, reached from the model by `campaign_path`.

    - The queryset holds only the user's campaigns' rows (superusers see all), so a foreign
      object's change, delete and history pages are 404s.
    - Foreign-key dropdowns and autocompletes offer only the same campaigns' rows.
    - Viewing needs `is_staff` and a role in `view_roles`; Django model permissions are not
      consulted.
    - Writing needs a role in `edit_roles` in the object's campaign, and `editable = True`.
    """

    campaign_path: str = "campaign"  # "" when the model is Campaign itself
    editable: bool = True
    view_roles: frozenset[str] = ADMIN_SITE_ROLES
    edit_roles: frozenset[str] = EDIT_ROLES
    # Joined when one object is shown, so its read-only foreign keys cost no extra queries.
    object_select_related: tuple[str, ...] = ()
    # No second, unfiltered COUNT(*) for the "(N total)" beside the result count.
    show_full_result_count = False
    paginator = BoundedCountPaginator

    # Search terms (names, phones) stay out of URLs: see campaign.admin_search.
    private_search = True

    def get_changelist(self, request: HttpRequest, **kwargs):
        return PrivateSearchChangeList

    def changelist_view(self, request: HttpRequest, extra_context=None):
        redirect = search_redirect(request)
        if redirect is not None:
            return redirect
        resolve_search_token(request)
        return super().changelist_view(request, extra_context)

    def get_preserved_filters(self, request: HttpRequest) -> str:
        # The "back to the list" state on change links: the search token, not the term.
        match = request.resolver_match
        on_list = (
            match and match.url_name == f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        )
        if self.preserve_filters and on_list:
            params = url_params(request).urlencode()
            return urlencode({"_changelist_filters": params}) if params else ""
        return super().get_preserved_filters(request)

    # -- querysets ---------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        qs = super().get_queryset(request)
        counts = {c.annotation: c.expression() for c in count_columns(self.model)}
        if counts:
            qs = qs.annotate(**counts)
        if is_superuser(request):
            return qs
        lookup = f"{self.campaign_path}__in" if self.campaign_path else "pk__in"
        return qs.filter(**{lookup: campaign_ids(request, self.view_roles)})

    def get_list_display(self, request: HttpRequest) -> tuple:
        return with_count_columns(self.model, super().get_list_display(request))

    @admin.display(description="campaign", ordering="campaign__name")
    def campaign_name(self, obj: models.Model) -> str:
        """The row's campaign as a list column that wraps: Django keeps a foreign key's column on
        one line, and "Alder County, NC layout (demo)" then pushes a wide list off a laptop."""
        campaign = getattr(obj, "campaign", None)
        return str(campaign) if campaign is not None else ""

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        # The stock admin answers a missing object with a redirect and a message; a foreign
        # object must be indistinguishable from one that does not exist, and both are a 404.
        qs = self.get_queryset(request).select_related(*self.object_select_related)
        field = qs.model._meta.pk if from_field is None else qs.model._meta.get_field(from_field)
        try:
            return qs.get(**{field.name: field.to_python(object_id)})
        except (qs.model.DoesNotExist, ValidationError, ValueError):
            raise Http404 from None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            roles = self.edit_roles if db_field.related_model is Campaign else None
            qs = scoped_related_queryset(db_field.related_model, request, roles)
            if qs is not None:
                kwargs["queryset"] = qs
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # -- permissions --------------------------------------------------------------------------

    def campaign_id_of(self, obj: models.Model) -> int | None:
        if not self.campaign_path:
            return obj.pk
        *hops, last = self.campaign_path.split("__")
        for hop in hops:
            obj = getattr(obj, hop, None)
            if obj is None:
                return None
        return getattr(obj, f"{last}_id", None)

    def _role_in(self, request: HttpRequest, obj: models.Model | None, roles: Collection[str]):
        """Whether the user holds one of `roles` in obj's campaign (any campaign if obj is None)."""
        if not request.user.is_active or not request.user.is_staff:
            return False
        if is_superuser(request):
            return True
        memberships = campaign_roles(request)
        if obj is None:
            return any(role in roles for role in memberships.values())
        return memberships.get(self.campaign_id_of(obj)) in roles

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, self.view_roles)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._role_in(request, obj, self.view_roles)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.editable and self._role_in(request, None, self.edit_roles)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.editable and self._role_in(request, obj, self.edit_roles)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.editable and self._role_in(request, obj, self.edit_roles)


def count_of(model: type[models.Model], fk: str, **filters) -> Coalesce:
    """A correlated `COUNT(*)` of `model` rows pointing at the outer row through `fk`.

    Unlike `Count()` over a join, it runs only for the rows of the page being shown (after the
    LIMIT) and through the foreign key's index, instead of grouping the whole joined table.
    """
    counted = (
        model._default_manager.filter(**{fk: OuterRef("pk")}, **filters)
        .order_by()
        .values(fk)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


# --------------------------------------------------------------------------------------------
# Count columns that later apps add to these pages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountColumn:
    """A list column counting another app's rows per row of the page (voters per campaign).

    Imports flow one way (campaign <- voters <- ...), so the campaign pages cannot name the
    models they would count; the app that owns them registers a column here from its admin
    module, and every `CampaignScopedAdmin` of `model` annotates and shows it.
    """

    model: type[models.Model]
    annotation: str
    counted: type[models.Model]
    through: str
    filters: dict
    before: str | None
    display: Callable[[models.Model], str]

    def expression(self) -> Coalesce:
        return count_of(self.counted, self.through, **self.filters)


_count_columns: dict[tuple[type[models.Model], str], CountColumn] = {}


def register_count_column(
    model: type[models.Model],
    *,
    name: str,
    description: str,
    annotation: str,
    counted: type[models.Model],
    through: str,
    before: str | None = None,
    **filters,
) -> CountColumn:
    """Show on `model`'s list a column `name` counting `counted` rows whose `through` foreign key
    points at the row (and that match `filters`), kept on each row as `annotation`; placed
    before the column `before`, or last. Registering a name again replaces the column."""

    def display(obj: models.Model) -> str:
        return f"{getattr(obj, annotation):,}"

    display.__name__ = name  # the column's CSS class, as a method of that name would have
    display.short_description = description
    column = CountColumn(model, annotation, counted, through, filters, before, display)
    _count_columns[(model, name)] = column
    return column


def unregister_count_column(model: type[models.Model], name: str) -> None:
    _count_columns.pop((model, name), None)


def count_columns(model: type[models.Model]) -> list[CountColumn]:
    return [column for (owner, _), column in _count_columns.items() if owner is model]


def with_count_columns(model: type[models.Model], list_display: Sequence) -> tuple:
    shown = list(list_display)
    for column in count_columns(model):
        at = shown.index(column.before) if column.before in shown else len(shown)
        shown.insert(at, column.display)
    return tuple(shown)


# --------------------------------------------------------------------------------------------
# Registrations
# --------------------------------------------------------------------------------------------


@admin.register(Campaign)
class CampaignAdmin(CampaignScopedAdmin):
    campaign_path = ""
    # Changing a campaign's identity is for its admins; creating a tenant is for superusers
    # (a campaign created by a member would have no membership and vanish from their view).
    edit_roles = frozenset({Role.ADMIN})
    # The voters column is registered by voters' admin (`register_count_column`).
    list_display = ("name", "slug", "state", "time_zone", "election_count")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at",)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).annotate(election_total=count_of(Election, "campaign"))

    @admin.display(description="elections")
    def election_count(self, obj: Campaign) -> str:
        return f"{obj.election_total:,}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_superuser(request)


@admin.register(Election)
class ElectionAdmin(CampaignScopedAdmin):
    # The votes-cast column is registered by voters' admin (`register_count_column`).
    list_display = ("election_on", "election_type", "label", "campaign")
    list_filter = ("election_type", ("campaign", ScopedRelatedFieldListFilter))
    list_select_related = ("campaign",)
    search_fields = ("label",)
    object_select_related = ("campaign",)


@admin.register(Membership)
class MembershipAdmin(CampaignScopedAdmin):
    edit_roles = MEMBERSHIP_ROLES
    list_display = ("user", "campaign", "role", "created_at")
    list_filter = ("role", ("campaign", ScopedRelatedFieldListFilter))
    list_select_related = ("user", "campaign")
    object_select_related = ("user", "campaign")
    search_fields = ("user__username", "user__email")

    def get_readonly_fields(self, request, obj=None):
        # A membership changes role, never owner or campaign: that is a removal and an add.
        return ("user", "campaign", "created_at") if obj else ("created_at",)

    # Every add, role change and removal goes through campaign.services, which audits it.

    def save_model(self, request, obj, form, change):
        if change:
            saved = change_role(
                membership=obj, role=obj.role, by=request.user, client_ip=client_ip(request)
            )
        else:
            saved = add_member(
                campaign=obj.campaign,
                user=obj.user,
                role=obj.role,
                by=request.user,
                client_ip=client_ip(request),
            )
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        remove_member(membership=obj, by=request.user, client_ip=client_ip(request))

    def delete_queryset(self, request, queryset):
        for membership in queryset:  # a handful of rows; each removal is its own audit event
            remove_member(membership=membership, by=request.user, client_ip=client_ip(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not is_superuser(request):
            # A campaign admin picks among their campaigns' people and accounts not yet in any
            # campaign (new hires a superuser created); other tenants' staff stay unlisted.
            administered = campaign_ids(request, MEMBERSHIP_ROLES)
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(
                    Q(memberships__campaign__in=administered) | Q(memberships__isnull=True),
                    is_active=True,
                )
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --------------------------------------------------------------------------------------------
# Vendor API keys and the audit log: a campaign's admins only
# --------------------------------------------------------------------------------------------

ADMIN_ONLY: frozenset[str] = frozenset({Role.ADMIN})


@admin.register(VendorApiKey)
class VendorApiKeyAdmin(CampaignScopedAdmin):
    """Keys are created here (shown once, on the page after the form) and revoked, never
    edited or deleted: the audit log refers to them."""

    view_roles = ADMIN_ONLY
    edit_roles = ADMIN_ONLY
    list_display = ("name", "prefix", "campaign", "created_at", "last_used_at", "status")
    list_filter = (("campaign", ScopedRelatedFieldListFilter),)
    list_select_related = ("campaign",)
    object_select_related = ("campaign", "created_by", "revoked_by")
    search_fields = ("name", "prefix")
    actions = ("revoke_selected",)
    readonly_fields = (
        "campaign", "prefix", "created_by", "created_at", "last_used_at", "revoked_at",
        "revoked_by", "status",
    )  # fmt: skip

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("campaign", "name")
        return ("name", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if change:  # only the name is editable
            obj.save(update_fields=["name"])
            return
        key, full_key = create_vendor_key(
            campaign=obj.campaign,
            name=obj.name,
            user=request.user,
            client_ip=client_ip(request),
        )
        obj.pk = key.pk
        obj._state.adding = False
        # Kept on the request only, for response_add to show once; never stored.
        request._vendor_key_shown_once = (key, full_key)

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        key, full_key = request._vendor_key_shown_once
        response = TemplateResponse(
            request,
            "admin/campaign/vendorapikey/created.html",
            {
                **self.admin_site.each_context(request),
                "title": "Vendor API key created",
                "opts": self.opts,
                "key": key,
                "full_key": full_key,
                "signing_secret": vendor_signing_secret(key),
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.display(description="status")
    def status(self, obj: VendorApiKey) -> str:
        if obj.revoked_at:
            return "revoked"
        if obj.pk is None:
            return "active"
        url = reverse("admin:campaign_vendorapikey_revoke", args=[obj.pk])
        # A second submit button of the change form, posted to the revoke view instead.
        return format_html(
            'active <button type="submit" formaction="{}" class="button">Revoke now</button>', url
        )

    @admin.action(description="Revoke the selected keys")
    def revoke_selected(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            if not self.has_change_permission(request, key):
                raise PermissionDenied
            revoked += revoke_vendor_key(key=key, user=request.user, client_ip=client_ip(request))
        self.message_user(request, f"{revoked} key(s) revoked.", messages.SUCCESS)

    def get_urls(self):
        revoke = self.admin_site.admin_view(require_POST(self.revoke_view))
        return [
            path("<path:object_id>/revoke/", revoke, name="campaign_vendorapikey_revoke"),
            *super().get_urls(),
        ]

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        key = self.get_object(request, object_id)
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        if revoke_vendor_key(key=key, user=request.user, client_ip=client_ip(request)):
            self.message_user(request, f"{key} revoked.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaign_vendorapikey_change", args=[key.pk]))


@admin.register(AuditEvent)
class AuditEventAdmin(CampaignScopedAdmin):
    """Read-only for everyone, superusers included: the log is append-only."""

    view_roles = ADMIN_ONLY
    editable = False
    # Six narrow columns, so a 1366 px laptop shows the object and its rows beside the sidebar
    # and the filters: who is the user or, failing one, the vendor key or command that acted;
    # the client's address is on the event's page.
    list_display = ("at", "action", "who", "object", "rows", "campaign_name")
    fields = (
        "at", "action", "campaign", "who", "object", "rows", "client_ip", "detail",
    )  # fmt: skip
    readonly_fields = ("who", "object", "rows")
    list_filter = ("action", "at", ("campaign", ScopedRelatedFieldListFilter))
    list_select_related = ("campaign", "user")
    object_select_related = ("campaign", "user")
    date_hierarchy = "at"
    sortable_by = ("at",)
    search_fields = ("object_id",)
    search_help_text = "Exact object id."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(object_id=term) if term else queryset), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="who")
    def who(self, obj: AuditEvent) -> str:
        return str(obj.user) if obj.user_id else obj.actor

    @admin.display(description="object")
    def object(self, obj: AuditEvent) -> str:
        return obj.object_shown

    @admin.display(description="rows", ordering="row_count")
    def rows(self, obj: AuditEvent) -> str:
        return "" if obj.row_count is None else f"{obj.row_count:,}"
