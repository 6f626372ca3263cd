"""The operator's console for voters, households, vote history and imports.

Voters and their history are written only by imports, so their pages are read-only; the one write
here is the upload form, which hands the file to `voters.services.queue_uploaded_import`.
Changelists run on tables of millions of rows: searches are prefix or exact matches that an index
serves, counts are bounded (`BoundedCountPaginator`), and per-row columns never query.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable

from django import forms
from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Upper
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from campaign.admin import (
    EDIT_ROLES,
    CampaignScopedAdmin,
    ScopedRelatedFieldListFilter,
    campaign_ids,
    count_of,
    is_superuser,
    scoped_related_queryset,
)
from campaign.models import Election
from voters import layouts
from voters.importers import PHASES
from voters.models import (
    Household,
    ImportRun,
    ImportStatus,
    RejectedRow,
    Voter,
    VoteRecord,
)
from voters.phones import phone_exact
from voters.services import import_progress, queue_uploaded_import

# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------

_PHONE_SHAPE = re.compile(r"^\+?[\d\s().\-]+$")


def phone_e164(term: str) -> str | None:
    """What staff typed as a phone number, in the E.164 form voters are stored under."""
    if not _PHONE_SHAPE.match(term) or len(re.sub(r"\D", "", term)) < 10:
        return None
    # The importers' own rule, so what staff type finds what an import stored.
    return phone_exact(term)


def search_voters(queryset: QuerySet[Voter], term: str) -> QuerySet[Voter]:
    """Voters matching an admin search, using only indexed prefix and exact matches.

    - "(919) 555-0123": the phone, normalized to E.164 (index voter_phone), or that voter id
    - "123 main": house number and street prefix of the residence address
    - "smith" / "smith john" / "smith, john": last-name prefix (index voter_last_name_prefix),
      then first-name prefix; a single word may also be an exact voter id (index uniq_voter_id)
    A `%term%` match would read every voter of the campaign, so there is none.
    """
    term = term.strip()
    exact_id = Q(voter_id__in={term, term.upper()})
    phone = phone_e164(term)
    if phone:
        return queryset.filter(Q(phone=phone) | exact_id)
    words = term.replace(",", " ").upper().split()
    if len(words) >= 2 and words[0][0].isdigit():
        return queryset.alias(address_upper=Upper("address")).filter(
            address_upper__startswith=" ".join(words)
        )
    # UPPER(last_name) LIKE 'SMI%' is exactly the expression voter_last_name_prefix indexes.
    queryset = queryset.alias(last_upper=Upper("last_name"))
    if len(words) == 1:
        return queryset.filter(Q(last_upper__startswith=words[0]) | exact_id)
    return queryset.alias(first_upper=Upper("first_name")).filter(
        last_upper__startswith=words[0], first_upper__startswith=words[1]
    )


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------

AGE_BANDS: dict[str, tuple[int, int | None]] = {
    "18-24": (18, 24),
    "25-34": (25, 34),
    "35-49": (35, 49),
    "50-64": (50, 64),
    "65+": (65, None),
}


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def age_between(low: int, high: int | None, today: dt.date) -> Q:
    """Voters aged low..high (inclusive) on `today`, as `Voter.age_on` counts age: from the birth
    date when known, else from the birth year alone."""
    by_date = Q(birth_date__lte=_years_before(today, low))
    by_year = Q(birth_year__lte=today.year - low)
    if high is not None:
        by_date &= Q(birth_date__gt=_years_before(today, high + 1))
        by_year &= Q(birth_year__gte=today.year - high)
    return by_date | (Q(birth_date__isnull=True) & by_year)


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
        precincts = (
            model_admin.get_queryset(request)
            .exclude(precinct__isnull=True)
            .exclude(precinct="")
            .order_by("precinct")
            .values_list("precinct", flat=True)
            .distinct()[: self.max_choices]
        )
        return [(p, p) for p in precincts]

    def queryset(self, request, queryset):
        # Not checked against the capped list: a precinct past the cap is still a valid filter.
        return queryset.filter(precinct=self.value()) if self.value() else queryset


class VotedInElectionFilter(admin.SimpleListFilter):
    title = "voted in election"
    parameter_name = "voted_in"
    max_elections = 100

    def lookups(self, request, model_admin):
        elections = scoped_related_queryset(Election, request).order_by(
            "-election_on", "election_type"
        )[: self.max_elections]
        choices = []
        for election in elections:
            choices.append((f"{election.pk}:yes", f"{election}: voted"))
            choices.append((f"{election.pk}:no", f"{election}: did not vote"))
        return choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # The choices are exactly the user's elections: another campaign's election id in the
        # URL is refused rather than answered with "nobody voted".
        if self.value() not in {value for value, _ in self.lookup_choices}:
            return queryset.none()
        election_id, answer = self.value().split(":")
        voted = Exists(
            VoteRecord.objects.filter(voter=OuterRef("pk"), election_id=election_id, voted=True)
        )
        return queryset.filter(voted if answer == "yes" else ~voted)


# --------------------------------------------------------------------------------------------
# Rendered tables (bounded, one query each)
# --------------------------------------------------------------------------------------------


def _table(headers: Iterable[str], rows: Iterable[Iterable], empty: str) -> SafeString:
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


def _voter_link(voter: Voter) -> SafeString:
    url = reverse("admin:voters_voter_change", args=[voter.pk])
    return format_html('<a href="{}">{}</a>', url, voter.voter_id)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _members_table(
    campaign_id: int, household_id: int, exclude_pk: int | None, limit: int
) -> SafeString:
    # The campaign filter is belt and braces: nothing in the schema stops a voter of one campaign
    # from pointing at another campaign's household.
    members = Voter.objects.filter(campaign_id=campaign_id, household_id=household_id).order_by(
        "last_name", "first_name"
    )
    if exclude_pk is not None:
        members = members.exclude(pk=exclude_pk)
    members = list(members.only(*_MEMBER_FIELDS)[: limit + 1])
    table = _table(
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


_MEMBER_FIELDS = (
    "pk", "voter_id", "first_name", "middle_name", "last_name", "suffix", "birth_date",
    "birth_year", "party", "status", "household_id",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Voters, households, history
# --------------------------------------------------------------------------------------------


@admin.register(Voter)
class VoterAdmin(CampaignScopedAdmin):
    editable = False
    list_display = (
        "voter_id", "name", "age", "party", "status", "precinct", "city_zip", "phone",
    )  # fmt: skip
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
    sortable_by = ("voter_id", "precinct", "status")
    # Only so the admin shows its search box; `get_search_results` does the matching.
    search_fields = ("voter_id",)
    search_help_text = (
        "Last name prefix (smith, or smith john), exact voter id, phone, or house number and "
        "street (123 main)."
    )
    object_select_related = ("campaign", "household")
    readonly_fields = ("age", "extra_pretty", "household_members", "vote_history")
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
        ("Household members", {"fields": ("household_members",)}),
        ("Vote history", {"fields": ("vote_history",)}),
        ("Other columns from the file", {"fields": ("extra_pretty",)}),
        ("Record", {"fields": (("created_at", "updated_at"),)}),
    )

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return search_voters(queryset, search_term), False

    @admin.display(description="name")
    def name(self, obj: Voter) -> str:
        return obj.full_name

    @admin.display(description="age")
    def age(self, obj: Voter) -> int | None:
        return obj.age_on(timezone.localdate())

    @admin.display(description="city / zip")
    def city_zip(self, obj: Voter) -> str:
        return " ".join(p for p in (obj.city, obj.zip5) if p)

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
        records = obj.vote_records.select_related("election").order_by(
            "-election__election_on", "election__election_type"
        )
        return _table(
            ("date", "type", "election", "voted", "method", "ballot party"),
            (
                (
                    r.election.election_on.isoformat(),
                    r.election.get_election_type_display(),
                    r.election.label,
                    _yes_no(r.voted),
                    r.get_method_display() or "",
                    r.party or "",
                )
                for r in records
            ),
            "No vote history on record.",
        )

    def get_list_display(self, request):
        # The campaign column only means something to people who see more than one.
        if is_superuser(request) or len(campaign_ids(request)) > 1:
            return (*self.list_display, "campaign")
        return self.list_display


@admin.register(Household)
class HouseholdAdmin(CampaignScopedAdmin):
    editable = False
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
        words = search_term.upper().split()
        if not words:
            return queryset, False
        # Anchored prefix only; a `%term%` scan would read every household of the campaign.
        prefix = " ".join(words)
        return queryset.alias(address_upper=Upper("address")).filter(
            address_upper__startswith=prefix
        ), False

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
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(voter__voter_id__in={term, term.upper()}), False


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


class ImportUploadForm(forms.ModelForm):
    layout = forms.ChoiceField(choices=[(name, name) for name in layouts.LAYOUTS])
    file = forms.FileField(help_text="CSV or TSV with a header row (or the state's own layout).")

    class Meta:
        model = ImportRun
        fields = ("campaign", "kind", "layout", "mode", "is_full")


def _duration(value: dt.timedelta | None) -> str:
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


@admin.register(ImportRun)
class ImportRunAdmin(CampaignScopedAdmin):
    editable = False  # a run is a record of what happened; only the upload form writes
    list_display = (
        "__str__", "campaign", "kind", "layout", "mode", "files", "status_badge", "created",
        "updated", "unchanged", "removed", "rejected", "orphaned", "started_at", "duration_shown",
    )  # fmt: skip
    list_select_related = ("campaign",)
    list_filter = ("status", "kind", ("campaign", ScopedRelatedFieldListFilter))
    object_select_related = ("campaign", "created_by")
    readonly_fields = (
        "files", "status_badge", "duration_shown", "summary", "progress", "rejected_rows_table",
        "phase_timings",
    )  # fmt: skip
    change_fieldsets = (
        (
            None,
            {
                "fields": (
                    ("campaign", "kind", "layout", "mode", "is_full"),
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
                    ("rows_read", "created", "updated", "unchanged", "removed"),
                    ("rejected", "orphaned", "duplicates", "invalid_phones"),
                    ("households_created", "elections_created"),
                    "phase_timings",
                )
            },
        ),
        ("Error", {"fields": ("error",)}),
        ("Rejected rows", {"fields": ("rejected_rows_table",)}),
    )
    add_fieldsets = ((None, {"fields": ("campaign", "kind", "layout", "mode", "is_full", "file")}),)

    # -- the upload form ----------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, EDIT_ROLES)

    def get_fieldsets(self, request, obj=None):
        return self.change_fieldsets if obj else self.add_fieldsets

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
    def rejected_rows_table(self, obj: ImportRun) -> SafeString:
        rows = list(obj.rejected_rows.order_by("file_name", "line_number")[: REJECTS_SHOWN + 1])
        table = _table(
            ("file", "line", "reasons", "raw"),
            (
                (r.file_name, r.line_number, r.reasons, format_html("<code>{}</code>", r.raw))
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
    readonly_fields = ("reasons",)
