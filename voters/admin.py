"""The operator's console for voters, households, vote history, contact history, surveys,
programs, the consent ledger and imports.

Voters and their history are written only by imports, so their pages are read-only. The writes
here go through services: the upload form (`voters.services.queue_uploaded_import`), staff consent
changes (`voters.consent`), and the audited voter export (`voters.exports`). What the pages show is
read by `voters.selectors`; this module decides who sees it and how it looks.
Survey questions, programs and VAN code mappings are small per-campaign tables edited in place.
Changelists run on tables of millions of rows: searches are prefix or exact matches that an index
serves, counts are bounded (`BoundedCountPaginator`), and per-row columns never query. Phones and
emails never go into a URL: nothing here searches or links by them.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst

from campaign.admin import (
    EDIT_ROLES,
    CampaignScopedAdmin,
    ScopedRelatedFieldListFilter,
    campaign_ids,
    campaign_roles,
    count_of,
    html_table,
    is_superuser,
    register_count_column,
    scoped_related_queryset,
    wrappable_time,
)
from campaign.lib.ids import as_id
from campaign.lib.masking import mask_contact_details
from campaign.lib.timestamps import shown
from campaign.models import Campaign, Election, Role
from campaign.views import client_ip
from voters import consent, layouts
from voters.admin_panels import voter_list_columns, voter_list_filters, voter_panels, with_panels
from voters.exports import CONTACT_EXPORT_ROLES, export_voters
from voters.importers import PHASES
from voters.models import (
    IMPORT_COUNTS,
    Assignment,
    Channel,
    CodeMapping,
    CodeMappingKind,
    ConsentEvent,
    ConsentKind,
    ConsentSource,
    ContactAttempt,
    ContactResult,
    Household,
    ImportKind,
    ImportRun,
    ImportStatus,
    Party,
    Program,
    ProgramArm,
    RejectedRow,
    SurveyOption,
    SurveyQuestion,
    SurveyResponse,
    Voter,
    VoteRecord,
)
from voters.phones import phone_exact
from voters.selectors import (
    AGE_BANDS,
    TIMELINE_LIMIT,
    age_between,
    household_members,
    households_at,
    of_voter_id,
    precincts,
    rejected_rows,
    search_voters,
    user_name,
    vote_history,
    voted_in,
    voter_assignments,
    voter_timeline,
)
from voters.services import import_progress, queue_uploaded_import

# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


class AgeBandFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [(band, band) for band in AGE_BANDS]

    def queryset(self, request, queryset):
        if self.value() not in AGE_BANDS:
            return queryset
        low, high = AGE_BANDS[self.value()]
        return queryset.filter(age_between(low, high, timezone.localdate()))


class PrecinctFilter(admin.SimpleListFilter):
    title = "precinct"
    parameter_name = "precinct"
    # A statewide file has a few thousand precincts; a sidebar that long helps nobody, and the
    # DISTINCT reads the (campaign, precinct) index once per page view.
    max_choices = 500

    def lookups(self, request, model_admin):
        return [(p, p) for p in precincts(model_admin.get_queryset(request), self.max_choices)]

    def queryset(self, request, queryset):
        # Not checked against the capped list: a precinct past the cap is still a valid filter.
        return queryset.filter(precinct=self.value()) if self.value() else queryset


class VotedInElectionFilter(admin.SimpleListFilter):
    """Voted (or not) in one of the user's elections. Elections belong to a campaign, so two
    campaigns that vote in the same county election each have a row: each is listed once, named
    with its campaign when the user sees several (only the chosen campaign's, once one is)."""

    title = "voted in election"
    parameter_name = "voted_in"
    max_elections = 100

    def lookups(self, request, model_admin):
        elections = scoped_related_queryset(Election, request)
        chosen = as_id(request.GET.get("campaign__id__exact"))
        if chosen is not None:
            elections = elections.filter(campaign_id=chosen)
        elections = elections.select_related("campaign").order_by(
            "-election_on", "election_type", "campaign__name", "pk"
        )[: self.max_elections]
        several = len({e.campaign_id for e in elections}) > 1
        choices = []
        for election in elections:
            name = f"{election} ({election.campaign.name})" if several else str(election)
            choices.append((f"{election.pk}:yes", f"{name}: voted"))
            choices.append((f"{election.pk}:no", f"{name}: did not vote"))
        return choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # The choices are exactly the user's elections: another campaign's election id in the
        # URL is refused rather than answered with "nobody voted".
        if self.value() not in {value for value, _ in self.lookup_choices}:
            return queryset.none()
        election_id, answer = self.value().split(":")
        voted = voted_in(election_id)
        return queryset.filter(voted if answer == "yes" else ~voted)


# --------------------------------------------------------------------------------------------
# Rendered tables (bounded, one query each)
# --------------------------------------------------------------------------------------------


def _voter_link(voter: Voter) -> SafeString:
    url = reverse("admin:voters_voter_change", args=[voter.pk])
    return format_html('<a href="{}">{}</a>', url, voter.voter_id)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def ballot_party(code: str | None) -> str:
    """A primary ballot's party in words ("REP" is Republican); a code we do not know, as is."""
    if not code:
        return ""
    try:
        return Party(code.strip().lower()).label
    except ValueError:
        return code


def _members_table(
    campaign_id: int, household_id: int, exclude_pk: int | None, limit: int
) -> SafeString:
    members = household_members(campaign_id, household_id, exclude_pk, limit)
    table = html_table(
        ("voter id", "name", "age", "party", "status"),
        (
            (
                _voter_link(v),
                v.full_name,
                v.age_on(timezone.localdate()) or "",
                v.get_party_display() or "",
                v.get_status_display() or "",
            )
            for v in members[:limit]
        ),
        "No other voters live here.",
    )
    if len(members) > limit:
        url = reverse("admin:voters_voter_changelist") + f"?household__id__exact={household_id}"
        table += format_html('<p><a href="{}">All members</a></p>', url)
    return table


# --------------------------------------------------------------------------------------------
# The voter page: timeline, consent, programs (a fixed number of queries, however long the history)
# --------------------------------------------------------------------------------------------


def _local(at: dt.datetime, zone: str) -> str:
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = None
    # Never fails on a stored year-1 time: history rows cannot be fixed, the page must show them.
    return shown(at, tz or timezone.get_current_timezone())


@admin.display(description="occurred at", ordering="occurred_at")
def occurred(obj: ContactAttempt | ConsentEvent) -> str:
    """When it happened, on the reader's clock, or as stored when that clock cannot show it
    (a year-1 time stored before the rule on plausible years: one hour west of UTC, it is no
    longer a date Python can write)."""
    return shown(obj.occurred_at, timezone.get_current_timezone())


def _timeline_table(voter: Voter, show: Callable[[str], str] = str) -> SafeString:
    items, more = voter_timeline(voter)
    zone = voter.campaign.time_zone
    table = html_table(
        ("when", "what", "channel", "detail", "by", "source"),
        (
            (_local(i.at, zone), i.what, i.channel, show(i.detail), show(i.by), i.source)
            for i in items
        ),
        "No contacts, answers or consent changes on record.",
    )
    if more:
        url = reverse("admin:voters_contactattempt_changelist") + f"?voter__id__exact={voter.pk}"
        table += format_html(
            '<p>Newest {} shown. <a href="{}">All contacts of this voter</a></p>',
            TIMELINE_LIMIT,
            url,
        )
    return table


def _consent_table(voter: Voter) -> SafeString:
    zone = voter.campaign.time_zone

    def status(state: consent.ChannelConsent) -> str:
        if not state.has_address:
            return "no address on file"
        if state.opt_out is None:
            return "contactable"
        since = _local(state.opt_out.occurred_at, zone)
        return f"opted out since {since} ({state.opt_out.get_source_display()})"

    return html_table(
        ("channel", "may we contact?", "status"),
        (
            (Channel(s.channel).label, _yes_no(s.is_contactable), status(s))
            for s in consent.voter_consent(voter)
        ),
        "",
    )


def _assignments_table(voter: Voter) -> SafeString:
    rows = voter_assignments(voter)
    return html_table(
        ("program", "arm", "control", "assigned"),
        (
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:voters_program_change", args=[a.program_id]),
                    a.program.name,
                ),
                a.arm.label,
                _yes_no(a.arm.is_control),
                _local(a.assigned_at, voter.campaign.time_zone),
            )
            for a in rows
        ),
        "Not assigned in any program.",
    )


class VoterConsentForm(forms.Form):
    """A staff consent change from the voter page; the address comes from the voter record, so
    no phone or email is ever typed into (or sent back in) a URL."""

    channel = forms.ChoiceField(choices=Channel.choices)
    kind = forms.ChoiceField(
        label="Change",
        choices=[(ConsentKind.OPT_OUT, "Opt out"), (ConsentKind.OPT_IN, "Opt back in")],
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text="Required to opt back in (what the voter asked for, and when).",
    )

    # The id of the empty form after the voter page's own, which these fields belong to.
    html_id = "voter-consent"

    def __init__(self, *args, voter: Voter, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.voter = voter
        self.user = user
        for field in self.fields.values():
            field.widget.attrs["form"] = self.html_id

    def clean(self) -> dict:
        data = super().clean()
        channel, kind = data.get("channel"), data.get("kind")
        if not channel or not kind:
            return data
        address = consent.voter_address(self.voter, channel)
        if address is None:
            raise forms.ValidationError(f"This voter has no {Channel(channel).label} address.")
        try:
            consent.check_consent_change(
                kind=kind, channel=channel, address=address, source=ConsentSource.STAFF,
                user=self.user, reason=data.get("reason", ""), voter=self.voter,
            )  # fmt: skip
        except consent.ConsentError as error:
            raise forms.ValidationError(error.messages) from None
        data["address"] = address
        return data

    def record(self, ip: str | None) -> ConsentEvent | None:
        data = self.cleaned_data
        record = (
            consent.record_opt_in if data["kind"] == ConsentKind.OPT_IN else consent.record_opt_out
        )
        return record(
            campaign=self.voter.campaign, channel=data["channel"], address=data["address"],
            source=ConsentSource.STAFF, voter=self.voter, user=self.user, reason=data["reason"],
            client_ip=ip,
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# The audited voter export
# --------------------------------------------------------------------------------------------


def export_response(
    request: HttpRequest, queryset: QuerySet[Voter]
) -> StreamingHttpResponse | None:
    """The selected voters the user may export as a CSV download (audited by
    `voters.exports.export_voters`), or None if they may export none of them.

    Staff and admins export their campaigns' voters; the phone and email columns only where they
    are admins of every campaign in the selection.
    """
    if not is_superuser(request):
        queryset = queryset.filter(campaign__in=campaign_ids(request, EDIT_ROLES))
    lines = export_voters(
        queryset=queryset,
        user=request.user,
        client_ip=client_ip(request),
        contact_campaign_ids=(
            None if is_superuser(request) else campaign_ids(request, CONTACT_EXPORT_ROLES)
        ),
    )
    if lines is None:
        return None
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    name = f"voters-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --------------------------------------------------------------------------------------------
# Voters, households, history
# --------------------------------------------------------------------------------------------

# Columns of campaign's pages that count voters' rows (campaign may not import voters).
register_count_column(
    Campaign, name="voter_count", description="voters", annotation="voter_total",
    counted=Voter, through="campaign", before="election_count",
)  # fmt: skip
register_count_column(
    Election, name="votes_cast", description="votes cast", annotation="votes",
    counted=VoteRecord, through="election", voted=True,
)  # fmt: skip


def sees_contact_details(request: HttpRequest, obj: Voter | ConsentEvent | None = None) -> bool:
    """Whether phones and emails are shown: not to a viewer (of obj's campaign, or of any)."""
    if is_superuser(request):
        return True
    roles = campaign_roles(request)
    if obj is not None:
        return roles.get(obj.campaign_id) != Role.VIEWER
    return Role.VIEWER not in roles.values()


_column_fields: dict[str, Callable] = {}


def _column_field(column) -> Callable:
    """A registered list column as an admin display function named after it (kept per name: the
    changelist matches sort parameters to columns by the function's name)."""
    field = _column_fields.get(column.name)
    if field is None or field.column is not column:

        def field(voter: Voter) -> str:
            return column.display(voter)

        field.__name__ = column.name
        field.short_description = column.description
        field.admin_order_field = column.ordering
        field.column = column
        _column_fields[column.name] = field
    return field


@admin.register(Voter)
class VoterAdmin(CampaignScopedAdmin):
    editable = False
    # By primary key: stable pages for lists and autocompletes, and free on a million rows.
    ordering = ("pk",)
    # With later apps' score columns this fits 1366 pixels beside both sidebars. The city and
    # phone are on the voter's page (a search by phone still finds them): the precinct says where
    # they live closely enough for a list, and a page of phones is what a leaked screen costs most.
    list_display = ("voter_id", "name", "age", "party", "status", "precinct")
    list_select_related = ("campaign",)
    list_filter = (
        "status",
        "party",
        PrecinctFilter,
        AgeBandFilter,
        VotedInElectionFilter,
        ("campaign", ScopedRelatedFieldListFilter),
    )
    # Columns an index can sort a campaign's voters by; sorting by name would sort millions.
    # Later apps' columns (scoring's latest scores) are sortable too: see get_sortable_by.
    sortable_by = ("voter_id", "precinct", "status")
    # Only so the admin shows its search box; `get_search_results` does the matching.
    search_fields = ("voter_id",)
    search_help_text = (
        "Last name prefix (smith, or smith john), exact voter id, phone, or house number and "
        "street (123 main)."
    )
    viewer_search_help_text = (
        "Last name prefix (smith, or smith john), exact voter id, or house number and street "
        "(123 main)."
    )
    object_select_related = ("campaign", "household")
    readonly_fields = (
        "age", "extra_pretty", "household_members", "vote_history", "consent_state", "timeline",
        "timeline_masked", "program_assignments",
    )  # fmt: skip
    actions = ("export_csv",)
    fieldsets = (
        (
            "Identity",
            {
                "fields": (
                    ("voter_id", "campaign"),
                    ("first_name", "middle_name", "last_name", "suffix"),
                    ("birth_date", "birth_year", "age"),
                    ("gender", "gender_raw"),
                    ("race", "race_raw"),
                    ("ethnicity", "ethnicity_raw"),
                )
            },
        ),
        (
            "Registration",
            {
                "fields": (
                    ("party", "party_raw"),
                    "registered_on",
                    ("status", "status_raw"),
                    "removed_at",
                )
            },
        ),
        (
            "Residence",
            {
                "fields": (
                    "address",
                    ("house_number", "street", "unit"),
                    ("city", "state", "zip5"),
                    ("latitude", "longitude"),
                    "household",
                )
            },
        ),
        ("Contact", {"fields": ("phone", "email")}),
        (
            "Districts",
            {
                "fields": (
                    ("county", "precinct"),
                    ("congressional_district", "state_senate_district", "state_house_district"),
                    ("municipality", "ward"),
                )
            },
        ),
        # Later apps' sections (scoring's "Scores", after "Consent") come from voters.admin_panels.
        ("Consent", {"fields": ("consent_state",)}),
        ("Timeline", {"fields": ("timeline",)}),
        ("Programs", {"fields": ("program_assignments",)}),
        ("Household members", {"fields": ("household_members",)}),
        ("Vote history", {"fields": ("vote_history",)}),
        ("Other columns from the file", {"fields": ("extra_pretty",)}),
        ("Record", {"fields": (("created_at", "updated_at"),)}),
    )

    # Viewers read the file without contact details, as the API serves it to them: a phone or
    # an email is what a leaked screen would cost most.
    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = with_panels(super().get_fieldsets(request, obj))
        if sees_contact_details(request, obj):
            return fieldsets
        # Free text on the timeline (notes, consent reasons) may hold a number: masked for viewers.
        masked = {"Timeline": ("Timeline", {"fields": ("timeline_masked",)})}
        return [masked.get(name, (name, opts)) for name, opts in fieldsets if name != "Contact"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> tuple:
        return (*super().get_readonly_fields(request, obj), *(p.field for p in voter_panels()))

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        by_phone = sees_contact_details(request)
        return search_voters(queryset, search_term, by_phone=by_phone), False

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        if not sees_contact_details(request):
            changelist.search_help_text = self.viewer_search_help_text
        return changelist

    @admin.display(description="name")
    def name(self, obj: Voter) -> str:
        return obj.full_name

    @admin.display(description="age")
    def age(self, obj: Voter) -> int | None:
        return obj.age_on(timezone.localdate())

    @admin.display(description="other columns")
    def extra_pretty(self, obj: Voter) -> SafeString:
        if not obj.extra:
            return format_html("<p>{}</p>", "None")
        text = json.dumps(obj.extra, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)

    @admin.display(description="other voters at this address")
    def household_members(self, obj: Voter) -> SafeString:
        if obj.household_id is None:
            return format_html("<p>{}</p>", "No household.")
        return _members_table(obj.campaign_id, obj.household_id, exclude_pk=obj.pk, limit=50)

    @admin.display(description="elections, newest first")
    def vote_history(self, obj: Voter) -> SafeString:
        # The election's own name on every row ("2024-11-05 General" when it has no label).
        return html_table(
            ("election", "voted", "method", "ballot party"),
            (
                (
                    str(r.election),
                    _yes_no(r.voted),
                    r.get_method_display() or "",
                    ballot_party(r.party),
                )
                for r in vote_history(obj)
            ),
            "No vote history on record.",
        )

    @admin.display(description="current consent per channel")
    def consent_state(self, obj: Voter) -> SafeString:
        return _consent_table(obj)

    @admin.display(description="contacts, answers and consent changes, newest first")
    def timeline(self, obj: Voter) -> SafeString:
        return _timeline_table(obj)

    @admin.display(description="contacts, answers and consent changes, newest first")
    def timeline_masked(self, obj: Voter) -> SafeString:
        return _timeline_table(obj, show=mask_contact_details)

    @admin.display(description="program assignments")
    def program_assignments(self, obj: Voter) -> SafeString:
        return _assignments_table(obj)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        request._voter_list_columns = True  # the list's rows carry the columns' annotations
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        # Only the list shows later apps' columns; the voter's page reads its own panels.
        if getattr(request, "_voter_list_columns", False):
            for column in voter_list_columns():
                queryset = column.annotate(request, queryset)
        return queryset

    def get_list_filter(self, request: HttpRequest):
        # Later apps' filters (scoring's score bands) right after party: above the long
        # precinct and election lists, where staff look first.
        at = self.list_filter.index("party") + 1
        return (*self.list_filter[:at], *voter_list_filters(), *self.list_filter[at:])

    def get_sortable_by(self, request: HttpRequest):
        # The admin matches display functions (not names) against this list.
        return (*self.sortable_by, *(_column_field(c) for c in voter_list_columns()))

    def get_list_display(self, request):
        shown = (*self.list_display, *(_column_field(c) for c in voter_list_columns()))
        # The campaign column only means something to people who see more than one.
        if is_superuser(request) or len(campaign_ids(request)) > 1:
            return (*shown, "campaign")
        return shown

    # -- the export ---------------------------------------------------------------------------

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, EDIT_ROLES)

    @admin.action(description="Export selected voters (CSV)", permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Voter]):
        response = export_response(request, queryset)
        if response is None:
            self.message_user(
                request, "None of the selected voters may be exported by you.", messages.WARNING
            )
        return response

    # -- staff consent changes ----------------------------------------------------------------

    def get_urls(self):
        consent_url = path(
            "<path:object_id>/consent/",
            self.admin_site.admin_view(self.consent_view),
            name="voters_voter_consent",
        )
        # Before the stock URLs, whose "<object_id>/" catch-all would swallow it.
        return [consent_url, *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # The person first: staff look for "Ann Lee", the voter id tells two of them apart.
            context["title"] = obj.full_name or f"Voter {obj.voter_id}"
            context["subtitle"] = f"Voter {obj.voter_id}, {obj.campaign.name}"
        if obj is not None and self._role_in(request, obj, EDIT_ROLES):
            context["consent_form"] = VoterConsentForm(voter=obj, user=request.user)
            context["consent_url"] = reverse("admin:voters_voter_consent", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def consent_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        voter = self.get_object(request, object_id)  # 404 for another campaign's voter
        if not self._role_in(request, voter, EDIT_ROLES):
            raise PermissionDenied
        form = VoterConsentForm(request.POST, voter=voter, user=request.user)
        if form.is_valid():
            form.record(client_ip(request))
            change = form.cleaned_data["kind"]
            label = Channel(form.cleaned_data["channel"]).label
            verb = "opted back in to" if change == ConsentKind.OPT_IN else "opted out of"
            self.message_user(request, f"{voter} {verb} {label}.", messages.SUCCESS)
        else:
            for error in form.errors.values():
                self.message_user(request, " ".join(error), messages.ERROR)
        change_url = reverse("admin:voters_voter_change", args=[voter.pk])
        return HttpResponseRedirect(change_url)


@admin.register(Household)
class HouseholdAdmin(CampaignScopedAdmin):
    editable = False
    ordering = ("pk",)
    list_display = ("address", "city", "zip5", "member_count")
    list_filter = (("campaign", ScopedRelatedFieldListFilter),)
    sortable_by = ("zip5",)
    search_fields = ("address",)
    search_help_text = "House number and street (123 main)."
    object_select_related = ("campaign",)
    readonly_fields = ("member_count", "members")
    fields = (
        "campaign",
        "address",
        ("city", "zip5"),
        ("latitude", "longitude"),
        "address_key",
        "member_count",
        "members",
        "created_at",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=count_of(Voter, "household"))

    def get_search_results(self, request, queryset, search_term):
        if not search_term.split():
            return queryset, False
        return households_at(queryset, search_term), False

    @admin.display(description="members")
    def member_count(self, obj: Household) -> int:
        return obj.member_total

    @admin.display(description="voters living here")
    def members(self, obj: Household) -> SafeString:
        return _members_table(obj.campaign_id, obj.pk, exclude_pk=None, limit=200)


@admin.register(VoteRecord)
class VoteRecordAdmin(CampaignScopedAdmin):
    editable = False
    list_display = ("voter", "election", "voted", "method", "party", "import_run")
    list_select_related = ("voter", "election", "import_run")
    list_filter = ("voted", "method", ("election", ScopedRelatedFieldListFilter))
    sortable_by = ()
    search_fields = ("voter__voter_id",)
    search_help_text = "Exact voter id."
    object_select_related = ("voter", "election", "import_run", "campaign")

    def get_search_results(self, request, queryset, search_term):
        return _search_by_voter_id(queryset, search_term)


# --------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------

STATUS_COLOURS = {
    ImportStatus.QUEUED: "#777",
    ImportStatus.RUNNING: "#1f6fb2",
    ImportStatus.SUCCEEDED: "#2e7d32",
    ImportStatus.FAILED: "#c62828",
}
IN_PROGRESS = (ImportStatus.QUEUED, ImportStatus.RUNNING)
REJECTS_SHOWN = 200
REFRESH_SECONDS = 3


# The layouts each kind of upload reads. Contact history comes as the generic CSV (DESIGN §4.2) or
# as VAN report exports; assignments need a program name, so they are imported by command only.
UPLOAD_LAYOUTS: dict[str, tuple[str, ...]] = {
    ImportKind.VOTERS: tuple(layouts.LAYOUTS),
    ImportKind.HISTORY: tuple(layouts.LAYOUTS),
    ImportKind.CONTACTS: tuple(layouts.CONTACT_LAYOUTS),
}


class ImportUploadForm(forms.ModelForm):
    kind = forms.ChoiceField(
        choices=[(k, label) for k, label in ImportKind.choices if k in UPLOAD_LAYOUTS]
    )
    layout = forms.ChoiceField(
        choices=[
            (name, name)
            for name in dict.fromkeys(n for names in UPLOAD_LAYOUTS.values() for n in names)
        ],
        help_text="Contact history: generic or van (VAN contact-history and survey-response "
        "exports).",
    )
    file = forms.FileField(help_text="CSV or TSV with a header row (or the state's own layout).")

    class Meta:
        model = ImportRun
        fields = ("campaign", "kind", "layout", "mode", "is_full")

    def clean(self) -> dict:
        data = super().clean()
        kind, layout = data.get("kind"), data.get("layout")
        if kind and layout and layout not in UPLOAD_LAYOUTS[kind]:
            allowed = ", ".join(UPLOAD_LAYOUTS[kind])
            self.add_error("layout", f"A {kind} import reads one of: {allowed}.")
        return data


def _duration(value: dt.timedelta | None) -> str:
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


# The counts of a run's page, line by line; `change_fieldsets` keeps those of the run's kind.
COUNT_LINES = (
    ("rows_read", "created", "updated", "unchanged", "removed"),
    ("rejected", "orphaned", "duplicates", "invalid_phones"),
    ("households_created", "elections_created"),
)


def _count_display(name: str) -> Callable[[admin.ModelAdmin, ImportRun], str]:
    """A read-only field showing the count `name` with thousands separators ("124,485"), which
    Django's own display of an integer field leaves out."""

    @admin.display(description=ImportRun._meta.get_field(name).verbose_name)
    def shown(self: admin.ModelAdmin, obj: ImportRun) -> str:
        return f"{getattr(obj, name):,}"

    return shown


def change_fieldsets(kind: str, *, masked: bool = False) -> tuple:
    """A run's page: the settings and the counts its kind of import keeps, nothing else (a vote
    history run has no "full file", households or invalid phones; a voter file no orphans)."""
    kept = IMPORT_COUNTS.get(kind, ())
    options = ("campaign", "kind", "layout", "mode", *(("is_full",) if "removed" in kept else ()))
    rows = [tuple(f"{f}_count" for f in line if f in kept) for line in COUNT_LINES]
    # A count is shown through a method (for its thousands separators), which has no help text.
    notes = [
        f"{capfirst(field.verbose_name)}: {field.help_text}"
        for field in (ImportRun._meta.get_field(f) for f in kept)
        if field.help_text
    ]
    rejected = "rejected_rows_masked" if masked else "rejected_rows_table"
    return (
        (
            None,
            {
                "fields": (
                    options,
                    "files",
                    "status_badge",
                    "progress",
                    ("created_by", "created_at"),
                    ("started_at", "finished_at", "duration_shown"),
                )
            },
        ),
        (
            "What changed",
            {
                "fields": (
                    "summary",
                    "field_summary",
                    "warnings_text",
                    *(row for row in rows if row),
                    "phase_timings",
                ),
                "description": " ".join(notes),
            },
        ),
        ("Error", {"fields": ("error",)}),
        ("Rejected rows", {"fields": (rejected,)}),
    )


@admin.register(ImportRun)
class ImportRunAdmin(CampaignScopedAdmin):
    editable = False  # a run is a record of what happened; only the upload form writes
    # Eight columns with short headings (Django never wraps a heading) that fit a 1366 px laptop
    # beside the sidebar and the filters: the status and the counts first, the campaign's long
    # name last; the files, layout, mode, duration and every count the kind keeps are on the
    # run's page.
    list_display = (
        "run", "status_badge", "kind", "rows_read_shown", "changes", "rejected_shown", "started",
        "campaign_name",
    )  # fmt: skip
    list_display_links = ("run",)
    list_select_related = ("campaign",)
    list_filter = ("status", "kind", ("campaign", ScopedRelatedFieldListFilter))
    object_select_related = ("campaign", "created_by")
    readonly_fields = (
        *(f"{name}_count" for line in COUNT_LINES for name in line),
        "files", "status_badge", "duration_shown", "summary", "progress", "rejected_rows_table",
        "rejected_rows_masked", "phase_timings", "field_summary", "warnings_text",
    )  # fmt: skip
    add_fieldsets = ((None, {"fields": ("campaign", "kind", "layout", "mode", "is_full", "file")}),)

    # -- the upload form ----------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, EDIT_ROLES)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        # A rejected line is raw voter data: a viewer reads it with phones and emails masked.
        masked = not sees_contact_details(request, obj)
        return change_fieldsets(obj.kind, masked=masked)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ImportUploadForm
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        run = queue_uploaded_import(
            campaign=data["campaign"],
            kind=data["kind"],
            upload=data["file"],
            layout=data["layout"],
            mode=data["mode"],
            full=data["is_full"],
            user=request.user,
        )
        # The service stored the run; the admin's log entry and redirect refer to it through obj.
        obj.pk = run.pk
        obj._state.adding = False

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"{obj} queued; this page follows its progress.")
        return HttpResponseRedirect(reverse("admin:voters_importrun_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.status in IN_PROGRESS:
            context["auto_refresh_seconds"] = REFRESH_SECONDS
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -- columns ------------------------------------------------------------------------------

    @admin.display(description="run", ordering="-created_at")
    def run(self, obj: ImportRun) -> str:
        return f"Import {obj.pk}"

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: ImportRun) -> str:
        return wrappable_time(obj.started_at)

    @admin.display(description="rows", ordering="rows_read")
    def rows_read_shown(self, obj: ImportRun) -> str:
        return f"{obj.rows_read:,}"

    @admin.display(description="changes")
    def changes(self, obj: ImportRun) -> str:
        return obj.changes_brief()

    @admin.display(description="rejected", ordering="rejected")
    def rejected_shown(self, obj: ImportRun) -> str:
        return f"{obj.rejected:,}"

    @admin.display(description="files")
    def files(self, obj: ImportRun) -> str:
        return ", ".join(obj.file_names or [])

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: ImportRun) -> SafeString:
        colour = STATUS_COLOURS.get(obj.status, "#777")
        return format_html(
            '<strong style="color: {}">{}</strong>', colour, obj.get_status_display()
        )

    @admin.display(description="seconds per phase")
    def phase_timings(self, obj: ImportRun) -> str:
        # Where an import spent its time: the first thing to read when one is slow.
        timings = obj.timings or {}
        return ", ".join(
            f"{phase.replace('_', ' ')} {timings[phase]:.1f}"
            for phase in PHASES
            if phase in timings
        )

    @admin.display(description="duration")
    def duration_shown(self, obj: ImportRun) -> str:
        return _duration(obj.duration)

    @admin.display(description="summary")
    def summary(self, obj: ImportRun) -> str:
        return obj.summary()

    @admin.display(description="progress")
    def progress(self, obj: ImportRun) -> str:
        if obj.status not in IN_PROGRESS:
            return "finished"
        latest = import_progress(obj.pk)
        if not latest:
            return "waiting for a worker" if obj.status == ImportStatus.QUEUED else "starting"
        percent = round(100 * latest.get("share", 0))
        return f"{latest['phase']}: {latest['rows_read']:,} rows read, {percent}% of the file"

    @admin.display(description="rejected rows")
    def rejected_rows_table(self, obj: ImportRun, show: Callable[[str], str] = str) -> SafeString:
        rows = rejected_rows(obj, REJECTS_SHOWN)
        table = html_table(
            ("file", "line", "reasons", "raw"),
            (
                (
                    r.file_name,
                    r.line_number,
                    show(r.reasons),
                    format_html("<code>{}</code>", show(r.raw)),
                )
                for r in rows[:REJECTS_SHOWN]
            ),
            "No rejected rows.",
        )
        if len(rows) > REJECTS_SHOWN:
            url = (
                reverse("admin:voters_rejectedrow_changelist") + f"?import_run__id__exact={obj.pk}"
            )
            table += format_html(
                '<p>First {} shown. <a href="{}">All {} rejected rows</a></p>',
                REJECTS_SHOWN,
                url,
                f"{obj.rejected:,}",
            )
        return table

    @admin.display(description="rejected rows")
    def rejected_rows_masked(self, obj: ImportRun) -> SafeString:
        return self.rejected_rows_table(obj, show=mask_contact_details)


for _name in (name for line in COUNT_LINES for name in line):
    setattr(ImportRunAdmin, f"{_name}_count", _count_display(_name))


@admin.register(RejectedRow)
class RejectedRowAdmin(CampaignScopedAdmin):
    campaign_path = "import_run__campaign"
    editable = False
    list_display = ("import_run", "file_name", "line_number", "reasons", "raw")
    list_select_related = ("import_run",)
    list_filter = (("import_run", ScopedRelatedFieldListFilter),)
    sortable_by = ()
    object_select_related = ("import_run",)
    fields = ("import_run", "file_name", "line_number", "reasons", "raw")
    readonly_fields = ("reasons", "masked_reasons", "masked_raw")
    # A rejected line is raw voter data: viewers read it with phones and emails masked.
    masked = {"reasons": "masked_reasons", "raw": "masked_raw"}

    def get_list_display(self, request: HttpRequest):
        if sees_contact_details(request):
            return self.list_display
        return tuple(self.masked.get(f, f) for f in self.list_display)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None or sees_contact_details(request, obj.import_run):
            return self.fields
        return tuple(self.masked.get(f, f) for f in self.fields)

    @admin.display(description="reasons")
    def masked_reasons(self, obj: RejectedRow) -> str:
        return mask_contact_details(obj.reasons)

    @admin.display(description="raw")
    def masked_raw(self, obj: RejectedRow) -> str:
        return mask_contact_details(obj.raw)


# --------------------------------------------------------------------------------------------
# Contact history, surveys, programs, the consent ledger, code mappings
# --------------------------------------------------------------------------------------------


def _search_by_voter_id(queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
    """Exact voter id (as typed or upper-cased): served by uniq_voter_id, then the voter index."""
    term = search_term.strip()
    if not term:
        return queryset, False
    return of_voter_id(queryset, term), False


class HistoryAdmin(CampaignScopedAdmin):
    """Append-only history (contacts, answers, assignments): listed and shown, never changed.

    Ordered by id, newest recorded first, which the primary key serves on any table size; sorting
    a campaign's millions of rows by another column on every page view would not be usable.
    """

    editable = False
    ordering = ("-id",)
    sortable_by = ()
    raw_id_fields = ("voter",)
    search_fields = ("voter__voter_id",)
    search_help_text = "Exact voter id."

    def get_search_results(self, request, queryset, search_term):
        return _search_by_voter_id(queryset, search_term)


@admin.register(ContactAttempt)
class ContactAttemptAdmin(HistoryAdmin):
    list_display = (
        occurred, "voter", "channel", "result", "program", "arm", "variant", "by", "source",
    )  # fmt: skip
    list_select_related = ("voter", "program", "arm", "user")
    list_filter = (
        "channel", "result", "source", ("program", ScopedRelatedFieldListFilter),
    )  # fmt: skip
    object_select_related = ("campaign", "voter", "program", "arm", "user", "import_run")
    fields = (
        "campaign", "voter", ("channel", occurred), ("result", "result_raw"),
        ("program", "arm", "variant"), ("canvasser", "user"), "source", "note", "import_run",
        "created_at",
    )  # fmt: skip

    @admin.display(description="canvasser or user")
    def by(self, obj: ContactAttempt) -> str:
        return obj.canvasser or user_name(obj.user)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None or sees_contact_details(request, obj):
            return self.fields
        # A canvasser's note may hold a number or an address: masked for viewers.
        return tuple("masked_note" if f == "note" else f for f in self.fields)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return (*super().get_readonly_fields(request, obj), occurred, "masked_note")

    @admin.display(description="note")
    def masked_note(self, obj: ContactAttempt) -> str:
        return mask_contact_details(obj.note or "")


@admin.register(SurveyResponse)
class SurveyResponseAdmin(HistoryAdmin):
    list_display = ("answered_at", "voter", "question", "answer", "source", "contact_attempt")
    list_select_related = ("voter", "question", "option", "contact_attempt")
    list_filter = (("question", ScopedRelatedFieldListFilter), "source")
    raw_id_fields = ("voter", "contact_attempt")
    object_select_related = (
        "campaign", "voter", "question", "option", "contact_attempt", "import_run",
    )  # fmt: skip
    fields = (
        "campaign", "voter", "question", "option", "answered_at", "source", "contact_attempt",
        "import_run", "created_at",
    )  # fmt: skip

    @admin.display(description="answer")
    def answer(self, obj: SurveyResponse) -> str:
        return str(obj.option)


@admin.register(Assignment)
class AssignmentAdmin(HistoryAdmin):
    list_display = ("voter", "program", "arm", "is_control", "assigned_at", "import_run")
    list_select_related = ("voter", "program", "arm", "import_run")
    # No arm filter: arms carry no campaign of their own; pick the program, then read the arm.
    list_filter = (("program", ScopedRelatedFieldListFilter), "arm__is_control")
    object_select_related = ("campaign", "voter", "program", "arm", "import_run")
    fields = ("campaign", "voter", "program", "arm", "assigned_at", "import_run", "created_at")

    @admin.display(description="control", boolean=True)
    def is_control(self, obj: Assignment) -> bool:
        return obj.arm.is_control


class ScopedInline(admin.TabularInline):
    """An inline whose permissions are its parent page's: campaign roles, not Django model
    permissions (which campaign members are never given)."""

    extra = 0

    def _parent(self) -> CampaignScopedAdmin:
        return self.admin_site._registry[self.parent_model]

    def has_view_permission(self, request, obj=None) -> bool:
        return self._parent().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        if obj is None:
            return self._parent().has_add_permission(request)
        return self._parent().has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is None:
            return self._parent().has_add_permission(request)
        return self._parent().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_change_permission(request, obj)


# -- surveys ---------------------------------------------------------------------------------


class SurveyOptionInline(ScopedInline):
    model = SurveyOption
    fields = ("position", "code", "label")
    ordering = ("position", "code")

    def get_readonly_fields(self, request, obj=None):
        # The support scale's codes are what files, the API and the support model speak.
        return ("code",) if obj is not None and obj.is_builtin else ()

    def has_add_permission(self, request, obj=None) -> bool:
        return not (obj is not None and obj.is_builtin) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_builtin:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(SurveyQuestion)
class SurveyQuestionAdmin(CampaignScopedAdmin):
    list_display = ("slug", "text", "kind", "option_count", "response_count")
    list_filter = ("kind", ("campaign", ScopedRelatedFieldListFilter))
    search_fields = ("slug",)
    object_select_related = ("campaign",)
    fields = ("campaign", "slug", "text", "kind", "created_at")
    readonly_fields = ("created_at",)
    inlines = (SurveyOptionInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                option_total=count_of(SurveyOption, "question"),
                response_total=count_of(SurveyResponse, "question"),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # A question stays in its campaign; the built-in one keeps its slug and kind, which the
        # importers and the support model look it up by.
        fixed = ("campaign", "slug", "kind") if obj.is_builtin else ("campaign",)
        return (*fixed, *self.readonly_fields)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_builtin:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        # The bulk "delete selected" action must not take the built-in question along.
        if any(q.is_builtin for q in objs):
            deleted, counts, perms, protected = super().get_deleted_objects(objs, request)
            return deleted, counts, perms, [*protected, "the built-in support question"]
        return super().get_deleted_objects(objs, request)

    @admin.display(description="options")
    def option_count(self, obj: SurveyQuestion) -> int:
        return obj.option_total

    @admin.display(description="answers")
    def response_count(self, obj: SurveyQuestion) -> str:
        return f"{obj.response_total:,}"


# -- programs --------------------------------------------------------------------------------


class ProgramArmForm(forms.ModelForm):
    class Meta:
        model = ProgramArm
        fields = ("name", "is_control")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # An arm's name is what assignments and contacts were recorded under.
            for field in self.fields.values():
                field.disabled = True


class ProgramArmInline(ScopedInline):
    model = ProgramArm
    form = ProgramArmForm
    fields = ("name", "is_control", "assigned")
    readonly_fields = ("assigned",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(assigned_total=count_of(Assignment, "arm"))

    def has_add_permission(self, request, obj=None) -> bool:
        # A drawn program's arms are its design: an arm added after the draw would have no
        # assignments and no propensity, and reports would show it as an arm that lost.
        if obj is not None and Assignment.objects.filter(program=obj).exists():
            return False
        return super().has_add_permission(request, obj)

    @admin.display(description="voters assigned")
    def assigned(self, obj: ProgramArm) -> str:
        return f"{getattr(obj, 'assigned_total', 0):,}"


@admin.register(Program)
class ProgramAdmin(CampaignScopedAdmin):
    list_display = ("name", "arm_count", "assignment_count", "created_at")
    list_filter = (("campaign", ScopedRelatedFieldListFilter),)
    search_fields = ("name",)
    object_select_related = ("campaign",)
    fields = ("campaign", "name", "description", "created_at")
    readonly_fields = ("created_at",)
    inlines = (ProgramArmInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                arm_total=count_of(ProgramArm, "program"),
                assignment_total=count_of(Assignment, "program"),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        # `import_assignments --program NAME` finds the program by its name.
        return self.readonly_fields if obj is None else ("campaign", "name", *self.readonly_fields)

    @admin.display(description="arms")
    def arm_count(self, obj: Program) -> int:
        return obj.arm_total

    @admin.display(description="voters assigned")
    def assignment_count(self, obj: Program) -> str:
        return f"{obj.assignment_total:,}"


# -- the consent ledger ----------------------------------------------------------------------


class StaffConsentForm(forms.ModelForm):
    """The consent ledger's add page: a staff opt-out or opt-in, recorded by `voters.consent`.

    For door and mail pick the voter; for phone, text and email give the address or leave it empty
    to use the voter's.
    """

    address = forms.CharField(
        required=False,
        max_length=320,
        help_text="Phone or email; empty: the voter's own. Not used for door and mail.",
    )
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Required to opt in."
    )
    user = None  # set per request by ConsentEventAdmin.get_form

    class Meta:
        model = ConsentEvent
        fields = ("campaign", "voter", "channel", "address", "kind", "reason")

    def clean(self) -> dict:
        data = super().clean()
        campaign, voter, channel = data.get("campaign"), data.get("voter"), data.get("channel")
        if not campaign or not channel or not data.get("kind"):
            return data
        if voter is not None and voter.campaign_id != campaign.pk:
            raise forms.ValidationError("That voter belongs to another campaign.")
        address = data.get("address", "").strip()
        if address and channel in (Channel.SMS, Channel.PHONE):
            # Typed by a person: a number we cannot read would be recorded and opt out nothing.
            address = phone_exact(address) or ""
            if not address:
                raise forms.ValidationError({"address": "Not a phone number we can read."})
        if not address and voter is not None and channel not in consent.VOTER_CHANNELS:
            address = consent.voter_address(voter, channel) or ""
        try:
            consent.check_consent_change(
                kind=data["kind"], channel=channel, address=address, source=ConsentSource.STAFF,
                user=self.user, reason=data.get("reason", ""), voter=voter,
            )  # fmt: skip
        except consent.ConsentError as error:
            raise forms.ValidationError(error.messages) from None
        data["address"] = address
        return data

    def _post_clean(self) -> None:
        # The row is built by the service, not from this form; the model's own field checks
        # (an address for door and mail) do not apply to what staff type here.
        pass


@admin.register(ConsentEvent)
class ConsentEventAdmin(CampaignScopedAdmin):
    """The ledger, read-only; the add page records a staff change through `voters.consent`."""

    editable = False
    # Newest recorded first, through the primary key: sorting by occurred_at joined every event
    # of the campaign to its voter before the LIMIT (a second per page on a 1M-voter campaign).
    ordering = ("-id",)
    list_display = (occurred, "channel", "kind", "source", "voter", "by", "reason")
    list_select_related = ("voter", "user")
    list_filter = ("channel", "kind", "source", ("campaign", ScopedRelatedFieldListFilter))
    raw_id_fields = ("voter",)
    sortable_by = ()
    search_fields = ("voter__voter_id",)
    search_help_text = "Exact voter id."
    object_select_related = ("campaign", "voter", "user")
    readonly_fields = (occurred, "recorded_at")
    view_fields = (
        "campaign", ("channel", "address"), ("kind", "source"), "reason", "voter",
        ("user", "actor"), (occurred, "recorded_at"), "dedupe_key",
    )  # fmt: skip
    add_fields = ("campaign", "voter", "channel", "address", "kind", "reason")

    def get_search_results(self, request, queryset, search_term):
        return _search_by_voter_id(queryset, search_term)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, EDIT_ROLES)

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        if sees_contact_details(request, obj):
            return self.view_fields
        return tuple("channel" if f == ("channel", "address") else f for f in self.view_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = StaffConsentForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # modelform_factory made this class for this request
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        record = (
            consent.record_opt_in if data["kind"] == ConsentKind.OPT_IN else consent.record_opt_out
        )
        event = record(
            campaign=data["campaign"], channel=data["channel"], address=data["address"],
            source=ConsentSource.STAFF, voter=data.get("voter"), user=request.user,
            reason=data.get("reason", ""), client_ip=client_ip(request),
        )  # fmt: skip
        # The service stored the event; the admin's log entry and redirect refer to it via obj.
        obj.__dict__.update({k: v for k, v in event.__dict__.items() if k != "_state"})
        obj._state.adding = False

    @admin.display(description="by")
    def by(self, obj: ConsentEvent) -> str:
        return user_name(obj.user) or obj.actor


# -- code mappings ---------------------------------------------------------------------------


class CodeMappingForm(forms.ModelForm):
    class Meta:
        model = CodeMapping
        fields = ("campaign", "layout", "kind", "source_name", "code")

    def clean(self) -> dict:
        data = super().clean()
        kind, code = data.get("kind"), (data.get("code") or "").strip()
        campaign = data.get("campaign") or getattr(self.instance, "campaign", None)
        if not kind or not code:
            return data
        if kind == CodeMappingKind.RESULT and code not in ContactResult.values:
            self.add_error("code", f"Not a result code; one of: {', '.join(ContactResult.values)}.")
        elif kind == CodeMappingKind.CONTACT_TYPE and code not in Channel.values:
            self.add_error("code", f"Not a channel; one of: {', '.join(Channel.values)}.")
        elif kind == CodeMappingKind.SURVEY_QUESTION and not (
            campaign is not None
            and SurveyQuestion.objects.filter(campaign=campaign, slug=code).exists()
        ):
            self.add_error("code", "No survey question of this campaign has that slug.")
        if campaign is not None and self._duplicate(campaign, data):
            self.add_error("source_name", "This campaign already maps that name.")
        data["code"] = code
        return data

    def _duplicate(self, campaign, data: dict) -> bool:
        # Names match case-insensitively on import, so "Not Home" and "not home" would collide.
        return (
            CodeMapping.objects.filter(
                campaign=campaign,
                layout=data.get("layout"),
                kind=data.get("kind"),
                source_name__iexact=(data.get("source_name") or "").strip(),
            )
            .exclude(pk=self.instance.pk)
            .exists()
        )


@admin.register(CodeMapping)
class CodeMappingAdmin(CampaignScopedAdmin):
    form = CodeMappingForm
    list_display = ("source_name", "kind", "code", "layout")
    list_filter = ("kind", "layout", ("campaign", ScopedRelatedFieldListFilter))
    search_fields = ("source_name",)
    object_select_related = ("campaign",)

    def get_readonly_fields(self, request, obj=None):
        return ("campaign",) if obj is not None else ()
