"""Turfs in the admin: the list (filters by program, organizer and precinct), cutting a program,
assigning and re-cutting turfs, and each turf's walk list as PDF, CSV or a page.

Registered from `MessagingConfig.ready` (this module is not `admin.py`, which programs' pages
own). Every write goes through `messaging.canvassing`; every walk list through
`messaging.walklists`, which audits it. Each turf's page maps its doors, marked by their
results (`messaging.canvass_admin.turf_map`).

Who may do what, by the roles of DESIGN §5 and `campaign.admin`:
- viewers see the turfs, their doors and the walk list on screen (names, ages, party; never a
  phone or an email, which a walk list does not hold);
- staff and admins also cut, re-cut and assign turfs and download walk lists as files: a file
  leaves the system, so it is an export, which is for the roles that may export voters;
- organizers have no admin access; they will see their turfs on the organizer pages.
"""

from __future__ import annotations

import math

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from campaign.admin import CampaignScopedAdmin, campaign_ids, html_table, is_superuser
from campaign.lib.ids import as_id
from campaign.views import client_ip
from messaging.canvass_admin import turf_map
from messaging.canvassing import (
    CUTTABLE,
    TurfError,
    assign_turfs,
    assignable_users,
    cut_program_turfs,
    recut_turf,
)
from messaging.field_progress import local_time
from messaging.models import ProgramDesign, Turf
from messaging.turfs import parse_address_key
from messaging.walklists import (
    audit_walk_list,
    build_walk_list,
    download_walk_list,
    download_walk_list_zip,
    html_context,
)
from voters.models import Channel

MAX_ZIP_TURFS = 200


def _id(value: str) -> int:
    """A filter's id parameter; anything else is the admin's "bad filter" redirect, not a 500."""
    pk = as_id(value)
    if pk is None:
        raise IncorrectLookupParameters(f"not an id: {value[:20]!r}")
    return pk


class ProgramFilter(admin.SimpleListFilter):
    """The user's campaigns' door programs that have turfs (one query, names included)."""

    title = "program"
    parameter_name = "design"

    def lookups(self, request, model_admin):
        designs = ProgramDesign.objects.filter(channel=Channel.DOOR, turfs__isnull=False)
        if not is_superuser(request):
            designs = designs.filter(campaign__in=campaign_ids(request))
        rows = designs.distinct().order_by("program__name").values_list("pk", "program__name")
        return [(str(pk), name) for pk, name in rows]

    def queryset(self, request, queryset):
        return queryset.filter(design_id=_id(self.value())) if self.value() else queryset


class OrganizerFilter(admin.SimpleListFilter):
    """Organizers holding one of the user's campaigns' turfs (never another campaign's users)."""

    title = "organizer"
    parameter_name = "organizer"

    def lookups(self, request, model_admin):
        rows = (
            model_admin.get_queryset(request)
            .filter(organizer__isnull=False)
            .order_by("organizer__username")
            .values_list("organizer_id", "organizer__username")
            .distinct()
        )
        return [("none", "not assigned"), *((str(pk), name) for pk, name in rows)]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(organizer__isnull=True)
        return queryset.filter(organizer_id=_id(self.value())) if self.value() else queryset


class PrecinctFilter(admin.SimpleListFilter):
    """The precincts of the user's campaigns' turfs (the stock filter lists every campaign's)."""

    title = "precinct"
    parameter_name = "precinct"

    def lookups(self, request, model_admin):
        rows = model_admin.get_queryset(request).order_by("precinct").values_list("precinct")
        return [(p, p or "(none)") for (p,) in rows.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(precinct=self.value()) if self.value() is not None else queryset


class CutForm(forms.Form):
    design = forms.ModelChoiceField(queryset=ProgramDesign.objects.none(), label="program")
    min_doors = forms.IntegerField(min_value=1, max_value=10_000, initial=40, label="min doors")
    max_doors = forms.IntegerField(min_value=1, max_value=10_000, initial=80, label="max doors")

    def __init__(self, *args, designs: QuerySet, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["design"].queryset = designs
        self.fields["design"].label_from_instance = lambda d: d.program.name

    def clean(self) -> dict:
        data = super().clean()
        if (
            data.get("min_doors")
            and data.get("max_doors")
            and data["min_doors"] > data["max_doors"]
        ):
            raise forms.ValidationError("The minimum must not be above the maximum.")
        return data


class AssignForm(forms.Form):
    organizer = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, users: QuerySet, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organizer"].queryset = users


class RecutForm(forms.Form):
    min_doors = forms.IntegerField(min_value=1, max_value=10_000, required=False)
    max_doors = forms.IntegerField(min_value=1, max_value=10_000, required=False)


@admin.register(Turf)
class TurfAdmin(CampaignScopedAdmin):
    change_list_template = "admin/messaging/turf/change_list.html"
    list_display = (
        "name", "rank", "program_name", "precinct", "doors", "voters", "metres",
        "net_votes_per_door_column", "organizer",
    )  # fmt: skip
    list_filter = (ProgramFilter, OrganizerFilter, PrecinctFilter)
    list_select_related = ("design__program", "organizer")
    ordering = ("design", "rank")
    object_select_related = ("design__program", "campaign", "organizer", "assigned_by", "cut_by")
    search_fields = ("name",)
    actions = ("assign_to_organizer", "recut_selected", "download_pdfs")
    fields = (
        "campaign", "program_name", "name", "precinct", "method", "rank", ("doors", "voters"),
        "metres", ("net_votes", "net_votes_per_door_column"), ("min_doors", "max_doors"),
        "size_check", "status", ("organizer", "assigned_at_local", "assigned_by"),
        ("cut_by", "cut_at_local"),
        "walk_list_links", "door_map", "door_table",
    )  # fmt: skip
    readonly_fields = tuple(
        f for group in fields for f in (group if isinstance(group, tuple) else (group,))
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # turfs are cut from a program (the "Cut turfs" page)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # re-cut instead: deleting would leave the doors of a program unwalked

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: the page shows the turf; changes go through the actions.
        extra = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def may_export(self, request: HttpRequest, obj: Turf | None = None) -> bool:
        return self._role_in(request, obj, self.edit_roles)

    # -- URLs ---------------------------------------------------------------------------------

    def get_urls(self):
        def view(function, name: str):
            return self.admin_site.admin_view(function), f"messaging_turf_{name}"

        pdf, pdf_name = view(self.pdf_view, "pdf")
        csv, csv_name = view(self.csv_view, "csv")
        page, page_name = view(self.walk_list_view, "walk_list")
        cut, cut_name = view(self.cut_view, "cut")
        # Before the stock URLs, whose "<object_id>/" catch-all would swallow them.
        return [
            path("cut/", cut, name=cut_name),
            path("<path:object_id>/walk-list.pdf", pdf, name=pdf_name),
            path("<path:object_id>/walk-list.csv", csv, name=csv_name),
            path("<path:object_id>/walk-list/", page, name=page_name),
            *super().get_urls(),
        ]

    def pdf_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._file(request, object_id, "pdf")

    def csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._file(request, object_id, "csv")

    def _file(self, request: HttpRequest, object_id: str, fmt: str) -> HttpResponse:
        turf = self.get_object(request, object_id)  # another campaign's turf: 404
        if not self.may_export(request, turf):
            raise PermissionDenied
        content, kind, name = download_walk_list(
            turf=turf, fmt=fmt, by=request.user, client_ip=client_ip(request)
        )
        response = HttpResponse(content, content_type=kind)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def walk_list_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        turf = self.get_object(request, object_id)
        walk_list = build_walk_list(turf)
        audit_walk_list(
            turf=turf,
            walk_list=walk_list,
            fmt="html",
            by=request.user,
            client_ip=client_ip(request),
        )
        return TemplateResponse(request, "walklists/walk_list.html", html_context(walk_list))

    def cut_view(self, request: HttpRequest) -> HttpResponse:
        if not self.may_export(request):
            raise PermissionDenied
        designs = ProgramDesign.objects.filter(
            channel=Channel.DOOR, status__in=CUTTABLE
        ).select_related("program")
        if not is_superuser(request):
            designs = designs.filter(campaign__in=campaign_ids(request, self.edit_roles))
        form = CutForm(request.POST or None, designs=designs.order_by("program__name"))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                turfs = cut_program_turfs(
                    design=data["design"],
                    min_doors=data["min_doors"],
                    max_doors=data["max_doors"],
                    by=request.user,
                    client_ip=client_ip(request),
                )
            except TurfError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request, f"{data['design'].program.name}: cut into {len(turfs)} turfs."
                )
                changelist = reverse("admin:messaging_turf_changelist")
                return HttpResponseRedirect(f"{changelist}?design={data['design'].pk}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Cut a door program into turfs",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/messaging/turf/cut.html", context)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = {"may_cut": self.may_export(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    # -- actions ------------------------------------------------------------------------------

    @admin.action(description="Assign selected turfs to an organizer", permissions=["change"])
    def assign_to_organizer(self, request: HttpRequest, queryset: QuerySet[Turf]):
        turfs = list(self._writable(request, queryset))
        campaigns = {t.campaign_id for t in turfs}
        if len(campaigns) != 1:
            self.message_user(
                request, "Select turfs of one campaign you may change.", messages.WARNING
            )
            return None
        users = assignable_users(campaigns.pop())
        form = AssignForm(request.POST if "apply" in request.POST else None, users=users)
        if form.is_bound and form.is_valid():
            try:
                changed = assign_turfs(
                    turfs=turfs,
                    organizer=form.cleaned_data["organizer"],
                    by=request.user,
                    client_ip=client_ip(request),
                )
            except TurfError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                who = form.cleaned_data["organizer"].get_username()
                self.message_user(request, f"{changed} turfs assigned to {who}.")
            return None
        return self._intermediate(request, "assign.html", "Assign turfs", turfs, form)

    @admin.action(description="Re-cut selected turfs to fit their size", permissions=["change"])
    def recut_selected(self, request: HttpRequest, queryset: QuerySet[Turf]):
        turfs = list(self._writable(request, queryset))
        form = RecutForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._recut(request, turfs, form.cleaned_data)
            return None
        return self._intermediate(request, "recut.html", "Re-cut turfs", turfs, form)

    def _recut(self, request: HttpRequest, turfs: list[Turf], bounds: dict) -> None:
        changed = unchanged = 0
        for turf in turfs:
            current = Turf.objects.filter(pk=turf.pk).select_related("design__program").first()
            if current is None:  # merged away by an earlier turf of the selection
                continue
            try:
                result = recut_turf(
                    turf=current,
                    min_doors=bounds.get("min_doors"),
                    max_doors=bounds.get("max_doors"),
                    by=request.user,
                    client_ip=client_ip(request),
                )
            except TurfError as exc:
                self.message_user(request, f"{current.name}: {exc}", messages.ERROR)
                continue
            changed += bool(result)
            unchanged += not result
        self.message_user(
            request, f"{changed} turfs re-cut; {unchanged} already fitted (or could not merge)."
        )

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.may_export(request)

    @admin.action(
        description="Download walk lists of selected turfs (PDFs in a zip)", permissions=["export"]
    )
    def download_pdfs(self, request: HttpRequest, queryset: QuerySet[Turf]):
        turfs = list(self._writable(request, queryset).order_by("design", "rank"))
        if not turfs:
            self.message_user(
                request, "None of the selected turfs may be downloaded by you.", messages.WARNING
            )
            return None
        if len(turfs) > MAX_ZIP_TURFS:
            self.message_user(
                request, f"Select at most {MAX_ZIP_TURFS} turfs at a time.", messages.WARNING
            )
            return None
        content = download_walk_list_zip(turfs=turfs, by=request.user, client_ip=client_ip(request))
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="walk-lists-{len(turfs)}.zip"'
        return response

    def _writable(self, request: HttpRequest, queryset: QuerySet[Turf]) -> QuerySet[Turf]:
        queryset = queryset.select_related("design__program", "campaign", "organizer")
        if is_superuser(request):
            return queryset
        return queryset.filter(campaign__in=campaign_ids(request, self.edit_roles))

    def _intermediate(
        self, request: HttpRequest, template: str, title: str, turfs: list[Turf], form
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "turfs": turfs,
            "form": form,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, f"admin/messaging/turf/{template}", context)

    # -- columns and fields -------------------------------------------------------------------

    @admin.display(description="program", ordering="design__program__name")
    def program_name(self, obj: Turf) -> str:
        return obj.design.program.name

    @admin.display(description="metres", ordering="walking_m")
    def metres(self, obj: Turf) -> str:
        return "—" if obj.walking_m is None else f"{obj.walking_m:,.0f}"

    @admin.display(description="net votes per door")
    def net_votes_per_door_column(self, obj: Turf) -> str:
        value = obj.net_votes_per_door
        return "unknown" if value is None or math.isnan(value) else f"{value:.4f}"

    @admin.display(description="size")
    def size_check(self, obj: Turf) -> str:
        if obj.is_undersized:
            return f"Smaller than {obj.min_doors} doors: re-cut to merge it with a neighbour."
        if obj.is_oversized:
            return f"Bigger than {obj.max_doors} doors: re-cut to split it."
        return "Within bounds."

    @admin.display(description="walk list")
    def walk_list_links(self, obj: Turf) -> SafeString:
        page = reverse("admin:messaging_turf_walk_list", args=[obj.pk])
        pdf = reverse("admin:messaging_turf_pdf", args=[obj.pk])
        csv = reverse("admin:messaging_turf_csv", args=[obj.pk])
        return format_html(
            '<a href="{}">on screen</a> · <a href="{}">PDF</a> · <a href="{}">CSV</a> '
            '<span class="help">(files: staff and admins; every view is audited)</span>',
            page,
            pdf,
            csv,
        )

    # Times on the campaign's clock, saying their zone (the admin's own are the server's UTC).
    @admin.display(description="assigned at")
    def assigned_at_local(self, obj: Turf) -> str:
        return local_time(obj.assigned_at, obj.campaign.time_zone)

    @admin.display(description="cut at")
    def cut_at_local(self, obj: Turf) -> str:
        return local_time(obj.cut_at, obj.campaign.time_zone)

    @admin.display(description="map")
    def door_map(self, obj: Turf) -> SafeString:
        return turf_map(obj)

    @admin.display(description="doors in walking order")
    def door_table(self, obj: Turf) -> SafeString:
        rows = obj.stops.order_by("position").values_list(
            "position", "household__address", "household__address_key", "voters", "arm__name",
            "net_votes", "is_position_imputed",
        )  # fmt: skip
        return html_table(
            ("stop", "address", "unit", "voters", "arm", "net votes", "placed by street"),
            (
                (
                    position,
                    address or parse_address_key(key).street,
                    parse_address_key(key).unit,
                    voters,
                    arm,
                    "—" if net is None else f"{net:.4f}",
                    "yes" if imputed else "",
                )
                for position, address, key, voters, arm, net, imputed in rows
            ),
            "No doors.",
        )
