"""Message variants in the admin: write, revise (a used version becomes a new one), preview.

Every write goes through `messaging.services`. The change page previews the variant rendered for
a made-up voter with every value known and for a few of the campaign's voters, and for a text
message its length, encoding and segments, with a warning when a first message does not say how
to opt out. The preview shows rendered messages only: the context holds no phone or email.

Programs: added from a spec, previewed, committed; their page shows the universe, the arms with
their counts, what has been delivered, and after the election the lift table and chart. It shows
counts and rates only: no voter's name, phone or email.
"""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from campaign.admin import (
    CampaignScopedAdmin,
    ScopedRelatedFieldListFilter,
    campaign_ids,
    html_table,
    is_superuser,
)
from campaign.lib.ids import as_id
from campaign.models import Election
from campaign.views import client_ip
from messaging.canvass_admin import canvass_context
from messaging.field import SETTLEMENTS, settle_field_results
from messaging.field_progress import local_time
from messaging.models import (
    ArmVariant,
    FieldResult,
    FieldSettlement,
    MessageVariant,
    ProgramDesign,
    ProgramStatus,
)
from messaging.program_specs import ProgramSpec, SpecError, parse_spec_text, parse_universe
from messaging.programs import (
    ProgramStateError,
    cancel_program,
    check_program_spec,
    create_program,
    export_assignments,
    pause_program,
    preview_program,
    request_commit,
    resume_program,
)
from messaging.rendering import (
    ALLOWED_FILTERS,
    ALLOWED_TAGS,
    CONTEXT,
    RenderedMessage,
    VariantTemplateError,
)
from messaging.selectors import (
    DeliveredCount,
    delivered_counts,
    has_vote_history,
    outcome_elections,
    outcome_questions,
)
from messaging.services import (
    create_variant,
    delete_variant,
    example_context,
    render_samples,
    revise_variant,
    sample_voters,
)
from messaging.sms_encoding import GSM7, non_gsm7_characters, sms_size
from scoring import plots
from scoring.experiments import ExperimentError
from scoring.reports import arm_rows, chart_title, percent, points
from scoring.services import experiment_report
from voters.models import (
    Channel,
    ContactResult,
    Gender,
    Party,
    ProgramArm,
    SurveyQuestion,
    VoterStatus,
)

SAMPLE_VOTERS = 3
EXAMPLE = "example voter"


class TagsField(forms.CharField):
    """Tags typed as one comma-separated line, kept as a list."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


class MessageVariantForm(forms.ModelForm):
    tags = TagsField(required=False, help_text="Comma-separated, e.g. 'healthcare, young'.")

    class Meta:
        model = MessageVariant
        fields = (
            "campaign", "name", "channel", "subject", "body", "html_body", "is_first_message",
            "tags",
        )  # fmt: skip


@admin.register(MessageVariant)
class MessageVariantAdmin(CampaignScopedAdmin):
    form = MessageVariantForm
    list_display = (
        "name", "version", "channel", "campaign", "is_current", "is_used", "tag_list", "created_at",
    )  # fmt: skip
    list_filter = ("channel", "is_current", ("campaign", ScopedRelatedFieldListFilter))
    list_select_related = ("campaign",)
    object_select_related = ("campaign", "created_by")
    search_fields = ("name",)
    readonly_fields = (
        "template_context", "version", "is_current", "usage", "created_by", "created_at",
        "checks", "preview",
    )  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj=None):
        message = ("channel", "subject", "body", "html_body", "is_first_message", "tags")
        if obj is None:
            return [(None, {"fields": ("campaign", "name", *message, "template_context")})]
        return [
            (None, {"fields": ("campaign", "name", ("version", "is_current"), "usage")}),
            ("Message", {"fields": (*message, "template_context")}),
            ("Preview", {"fields": ("checks", "preview")}),
            (None, {"fields": (("created_by", "created_at"),)}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("template_context",)
        # A variant is its name in its campaign; renaming would orphan what pinned it. Its
        # channel is fixed once a version has been used (a program of that channel pinned it).
        fixed = (
            ("campaign", "name", "channel")
            if obj.version > 1 or obj.is_used
            else ("campaign", "name")
        )
        return (*fixed, *self.readonly_fields)

    def get_actions(self, request: HttpRequest):
        # One at a time from the change page: deleting a version is refused once it is used.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # -- permissions --------------------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Older versions are history: shown, never edited (the current one is revised instead).
        if obj is not None and not obj.is_current:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and (obj.is_used or not obj.is_current):
            return False
        return super().has_delete_permission(request, obj)

    # -- writes, through the services ---------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        content = {
            "body": data["body"],
            "subject": data["subject"],
            "html_body": data["html_body"],
            "is_first_message": data["is_first_message"],
            "tags": data["tags"],
            "by": request.user,
        }
        if change:
            saved = revise_variant(variant=obj, channel=data.get("channel", obj.channel), **content)
            if saved.pk != obj.pk:
                request._variant_new_version = saved
        else:
            saved = create_variant(
                campaign=data["campaign"], name=data["name"], channel=data["channel"], **content
            )
        obj.pk, obj.version, obj.is_current = saved.pk, saved.version, saved.is_current
        obj._state.adding = False
        if saved.lacks_opt_out_language:
            self.message_user(request, OPT_OUT_WARNING, messages.WARNING)

    def response_change(self, request: HttpRequest, obj: MessageVariant) -> HttpResponse:
        new = getattr(request, "_variant_new_version", None)
        if new is None:
            return super().response_change(request, obj)
        self.message_user(
            request,
            f"{obj.name} v{new.version - 1} has been used, so it stays as it was; your edit is "
            f"v{new.version}, now the current version.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:messaging_messagevariant_change", args=[new.pk]))

    def delete_model(self, request, obj):
        delete_variant(variant=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for variant in queryset:  # only reached one at a time (no bulk action)
            delete_variant(variant=variant, by=request.user)

    # -- columns and fields -------------------------------------------------------------------

    @admin.display(description="used", boolean=True)
    def is_used(self, obj: MessageVariant) -> bool:
        return obj.is_used

    @admin.display(description="tags")
    def tag_list(self, obj: MessageVariant) -> str:
        return ", ".join(obj.tags)

    @admin.display(description="use")
    def usage(self, obj: MessageVariant) -> str:
        if obj.is_used:
            return (
                f"Used since {obj.used_at:%Y-%m-%d %H:%M}: saving an edit makes version "
                f"{obj.version + 1}; this one stays as it was."
            )
        return "Not used yet: saving edits this version in place."

    @admin.display(description="what a template sees")
    def template_context(self, obj: MessageVariant | None = None) -> SafeString:
        return context_help()

    @admin.display(description="checks")
    def checks(self, obj: MessageVariant) -> SafeString:
        warnings = variant_warnings(obj)
        if not warnings:
            return format_html("<p>{}</p>", "No warnings.")
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in warnings))
        )

    @admin.display(description="rendered")
    def preview(self, obj: MessageVariant) -> SafeString:
        try:
            rendered = render_samples(
                variant=obj,
                samples=[
                    (EXAMPLE, example_context(campaign=obj.campaign)),
                    *sample_voters(campaign=obj.campaign, limit=SAMPLE_VOTERS),
                ],
            )
        except VariantTemplateError as exc:
            return format_html("<p>{}</p>", str(exc))
        return preview_table(obj, rendered)


OPT_OUT_WARNING = (
    "This text opens a conversation but does not say how to opt out: add e.g. "
    "'Reply STOP to opt out'."
)


def context_help() -> SafeString:
    rows = [(f"{{{{ {name} }}}}", meaning) for name, meaning in CONTEXT.items()]
    return format_html(
        '{}<p class="help">{}</p>',
        html_table(("name", "meaning"), rows, ""),
        f"Nothing else: no other data, settings or files. Tags: {', '.join(ALLOWED_TAGS)}. "
        f"Filters: {', '.join(ALLOWED_FILTERS)}. A missing value renders as nothing; loop over "
        "talking points with {% for point in voter.talking_points %}…{% endfor %}.",
    )


def variant_warnings(variant: MessageVariant) -> list[str]:
    """What staff should fix before a variant goes out (nothing here stops a save)."""
    warnings = []
    if variant.lacks_opt_out_language:
        warnings.append(OPT_OUT_WARNING)
    if variant.channel == Channel.SMS:
        odd = non_gsm7_characters(variant.body)
        if odd:
            warnings.append(
                f"Characters outside GSM-7 ({' '.join(odd)}) send the text as UCS-2: 70 "
                "characters a segment instead of 160."
            )
    return warnings


def preview_table(
    variant: MessageVariant, rendered: list[tuple[str, RenderedMessage]]
) -> SafeString:
    if variant.channel == Channel.SMS:
        return html_table(
            ("for", "text", "characters", "encoding", "segments"),
            ((who, _pre(m.body), *_sms_columns(m.body)) for who, m in rendered),
            "",
        )
    if variant.channel == Channel.EMAIL:
        return html_table(
            ("for", "subject", "plain text", "HTML"),
            (
                (who, escape(m.subject), _pre(m.body), _html_frame(m.html_body))
                for who, m in rendered
            ),
            "",
        )
    return html_table(("for", "script"), ((who, _pre(m.body)) for who, m in rendered), "")


def _sms_columns(text: str) -> tuple[str, str, str]:
    size = sms_size(text)
    units = "septets" if size.encoding == GSM7 else "UTF-16 units"
    return (
        f"{size.characters} ({size.units} {units})",
        size.encoding,
        f"{size.segments} (of {size.per_segment} each)",
    )


# Rendered templates come back marked safe (the HTML body is HTML, the text is not HTML at all), so
# each is escaped here explicitly: format_html would pass a safe string through as markup.


def _pre(text: str) -> SafeString:
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', escape(text))


def _html_frame(html: str) -> SafeString | str:
    if not html:
        return "—"
    # A sandboxed frame: the email's HTML is shown as a mail client would, and runs no script.
    return format_html(
        '<iframe sandbox srcdoc="{}" style="width: 32em; height: 16em"></iframe>', escape(html)
    )


# -- programs ----------------------------------------------------------------------------------


SPEC_EXAMPLE = (
    "name: Persuasion doors\nchannel: door\narms: [healthcare, economy]\n"
    "policy: personalized   # single, uniform, personalized\ncontrol_share: 0.1\n"
    "exploration_share: 0.1\nbudget: 5000\nuniverse:\n  precincts: ['12', '13']\n"
    "  turnout: [0.3, 0.7]\n  not_contacted_days: 14"
)


class ProgramSpecForm(forms.ModelForm):
    """The add page: a campaign and a YAML or JSON spec, created by `create_program`."""

    spec = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "cols": 80, "style": "font-family: monospace"}),
        help_text=format_html("For example:<pre>{}</pre>", SPEC_EXAMPLE),
    )

    voter_ids = forms.FileField(
        required=False,
        label="voter id list",
        help_text="Optional: a text or CSV file of voter ids, one a line (a header line "
        "'voter_id' is skipped). Only these voters are in the universe.",
    )

    class Meta:
        model = ProgramDesign
        fields = ("campaign",)

    def clean(self) -> dict:
        data = super().clean()
        campaign = data.get("campaign")
        if campaign is None or "spec" not in data:
            return data
        try:
            spec = parse_spec_text(data["spec"])
            if data.get("voter_ids"):
                spec = with_voter_ids(spec, read_voter_ids(data["voter_ids"]))
            check_program_spec(campaign=campaign, spec=spec)
            data["parsed_spec"] = spec
        except SpecError as exc:
            self.add_error("voter_ids" if exc.field == "voter_ids" else "spec", str(exc))
        return data


MAX_ID_FILE_BYTES = 64 * 1024 * 1024


def read_voter_ids(upload) -> tuple[str, ...]:
    """Voter ids from an uploaded file: the first column of each line, blank lines skipped."""
    if upload.size > MAX_ID_FILE_BYTES:
        raise SpecError("voter_ids", f"the file is over {MAX_ID_FILE_BYTES // 2**20} MB")
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    ids = [line.split(",")[0].strip().strip('"') for line in text.splitlines()]
    ids = [i for i in ids if i]
    if ids and ids[0].lower() in ("voter_id", "voter id", "id"):
        ids = ids[1:]
    if not ids:
        raise SpecError("voter_ids", "the file holds no voter ids")
    return tuple(dict.fromkeys(ids))


def with_voter_ids(spec: ProgramSpec, voter_ids: tuple[str, ...]) -> ProgramSpec:
    """The spec with its universe cut to the uploaded ids (and any ids the spec listed)."""
    listed = spec.universe.voter_ids
    kept = tuple(i for i in voter_ids if i in set(listed)) if listed else voter_ids
    data = {**spec.universe.as_json(), "voter_ids": list(kept)}
    return replace(spec, universe=parse_universe(data, spec.arms))


@admin.register(ProgramDesign)
class ProgramDesignAdmin(CampaignScopedAdmin):
    """A program: its design and draw, what has been delivered, and its lift once an outcome is
    picked. Preview before committing; commit, pause, resume and cancel are POSTs to their own
    URLs that call `messaging.programs` (role checked, audited)."""

    change_form_template = "admin/messaging/programdesign/change_form.html"
    list_display = (
        "program_name", "channel", "policy", "status", "control_share", "campaign",
        "committed_at",
    )  # fmt: skip
    list_filter = ("status", "channel", "policy", ("campaign", ScopedRelatedFieldListFilter))
    list_select_related = ("program", "campaign")
    object_select_related = (
        "program", "campaign", "created_by", "committed_by", "scoring_run", "persuasion_model",
    )  # fmt: skip
    search_fields = ("program__name",)
    # The change page, read-only: the design, then what the draw and delivery did; the lift
    # after an election is drawn below the form (change_form.html), asked for by GET.
    change_fieldsets = (
        (None, {"fields": (
            "campaign", "program_name", "description", "channel", "policy", "status",
            "commit_error", ("control_share", "exploration_share", "budget", "seed"),
        )}),
        ("Universe", {"fields": ("universe_filters", "universe_counts")}),
        ("Arms", {"fields": ("arm_table",)}),
        ("Delivered", {"fields": ("delivered",)}),
        ("Record", {"fields": (
            "scoring_run", "persuasion_model", ("created_by", "created_at"),
            "commit_requested_at", ("committed_by", "committed_at"), "status_changed_at",
        )}),
    )  # fmt: skip
    readonly_fields = tuple(
        f
        for _, options in change_fieldsets
        for group in options["fields"]
        for f in (group if isinstance(group, tuple) else (group,))
    )

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ProgramSpecForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj=None):
        return ("campaign", "spec", "voter_ids") if obj is None else self.readonly_fields

    def get_fieldsets(self, request: HttpRequest, obj=None):
        return super().get_fieldsets(request, obj) if obj is None else self.change_fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A created design is read as it is: its draw and status change only through the
        # preview, commit and status buttons (role-checked and audited), never a form save.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a program's assignments are history; cancel it instead

    def save_model(self, request, obj, form, change):
        design = create_program(
            campaign=form.cleaned_data["campaign"],
            spec=form.cleaned_data["parsed_spec"],
            by=request.user,
        )
        obj.pk, obj.program_id = design.pk, design.program_id
        obj._state.adding = False

    # -- the change page's buttons ------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            may_write = self._role_in(request, obj, self.edit_roles)
            context["preview_url"] = reverse("admin:messaging_programdesign_preview", args=[obj.pk])
            if may_write and obj.committed_at:
                context["export_url"] = reverse(
                    "admin:messaging_programdesign_export", args=[obj.pk]
                )
            context["status_actions"] = [
                (action, label, reverse(f"admin:messaging_programdesign_{action}", args=[obj.pk]))
                for action, label in STATUS_ACTIONS
                if may_write and obj.status in ALLOWED_FROM[action]
            ]
            if obj.committed_at:
                context["results"] = program_results(request, obj)
            if obj.channel == Channel.DOOR and obj.committed_at:
                context["canvass"] = canvass_context(obj, may_settle=may_write)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        def view(function, name: str, post_only: bool = False):
            wrapped = require_POST(function) if post_only else function
            return self.admin_site.admin_view(wrapped), f"messaging_programdesign_{name}"

        preview, preview_name = view(self.preview_view, "preview")
        export, export_name = view(self.export_view, "export")
        settle, settle_name = view(self.settle_view, "settle", post_only=True)
        urls = [
            path("<path:object_id>/preview/", preview, name=preview_name),
            path("<path:object_id>/assignments.csv", export, name=export_name),
            path("<path:object_id>/settle/", settle, name=settle_name),
        ]
        for action, _ in (("commit", ""), *STATUS_ACTIONS):
            posted, name = view(self._status_view(action), action, post_only=True)
            urls.append(path(f"<path:object_id>/{action}/", posted, name=name))
        # Before the stock URLs, whose "<object_id>/" catch-all would swallow them.
        return [*urls, *super().get_urls()]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        design = self.get_object(request, object_id)  # another campaign's program: 404
        summary, error = None, ""
        try:
            summary = design.summary if design.committed_at else preview_program(design=design)
        except SpecError as exc:
            error = str(exc)
        may_commit = design.status == ProgramStatus.DRAFT and self._role_in(
            request, design, self.edit_roles
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Draw of {design.program.name}",
            "opts": self.opts,
            "design": design,
            "summary_table": summary_table(summary, design.channel) if summary else "",
            "summary": summary,
            "error": error,
            "commit_url": (
                reverse("admin:messaging_programdesign_commit", args=[design.pk])
                if may_commit and summary
                else ""
            ),
            "change_url": reverse("admin:messaging_programdesign_change", args=[design.pk]),
        }
        return TemplateResponse(request, "admin/messaging/programdesign/preview.html", context)

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The assignments as CSV for a vendor delivering outside the product (audited)."""
        design = self.get_object(request, object_id)
        if not self._role_in(request, design, self.edit_roles):
            raise PermissionDenied
        if design.committed_at is None:
            raise Http404
        out = io.StringIO()
        export_assignments(design=design, out=out, by=request.user, client_ip=client_ip(request))
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="program-{design.program_id}.csv"'
        return response

    def settle_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Accept or dismiss flagged results of the program (POST from its page; staff)."""
        design = self.get_object(request, object_id)  # another campaign's program: 404
        if not self._role_in(request, design, self.edit_roles):
            raise PermissionDenied
        settlement = request.POST.get("settlement", "")
        ids = [pk for pk in map(as_id, request.POST.getlist("result")) if pk is not None]
        if settlement not in SETTLEMENTS or not ids:
            self.message_user(request, "Choose a result and accept or dismiss it.", messages.ERROR)
        else:
            # Only this program's results: an id of another program or campaign settles nothing.
            results = FieldResult.objects.filter(
                campaign_id=design.campaign_id, design_id=design.pk, pk__in=ids
            )
            settled = settle_field_results(
                results=results, settlement=settlement, by=request.user,
                client_ip=client_ip(request),
            )  # fmt: skip
            self.message_user(request, f"{settled:,} flagged result(s) {settlement}.")
        change = reverse("admin:messaging_programdesign_change", args=[design.pk])
        return HttpResponseRedirect(f"{change}#program-flagged")

    def _status_view(self, action: str):
        services = {
            "commit": request_commit,
            "pause": pause_program,
            "resume": resume_program,
            "cancel": cancel_program,
        }

        def posted(request: HttpRequest, object_id: str) -> HttpResponse:
            design = self.get_object(request, object_id)
            if not self._role_in(request, design, self.edit_roles):
                raise PermissionDenied
            if action == "commit" and request.POST.get("confirm") != "yes":
                self.message_user(request, "Tick the box to confirm the commit.", messages.ERROR)
                return HttpResponseRedirect(
                    reverse("admin:messaging_programdesign_preview", args=[design.pk])
                )
            try:
                design = services[action](
                    design=design, by=request.user, client_ip=client_ip(request)
                )
            except (ProgramStateError, SpecError) as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, _done_message(design, action))
            return HttpResponseRedirect(
                reverse("admin:messaging_programdesign_change", args=[design.pk])
            )

        return posted

    # -- columns and fields -------------------------------------------------------------------

    @admin.display(description="last commit")
    def commit_error(self, obj: ProgramDesign) -> str:
        """Why a background commit did not happen; empty when it did or none was asked."""
        return obj.commit_error or "—"

    @admin.display(description="program", ordering="program__name")
    def program_name(self, obj: ProgramDesign) -> str:
        return obj.program.name

    @admin.display(description="description")
    def description(self, obj: ProgramDesign) -> str:
        return obj.program.description

    @admin.display(description="filters")
    def universe_filters(self, obj: ProgramDesign) -> SafeString:
        rows = [
            (FILTER_LABELS.get(name, name), filter_text(name, value))
            for name, value in obj.universe.items()
        ]
        return html_table(("filter", "voters kept"), rows, "every voter")

    @admin.display(description="counts")
    def universe_counts(self, obj: ProgramDesign) -> SafeString | str:
        if not obj.summary:
            return "Not drawn yet: preview the draw (button above), then commit it from there."
        return facts_table(universe_facts(obj.summary, obj.channel))

    @admin.display(description="arms")
    def arm_table(self, obj: ProgramDesign) -> SafeString:
        counts = {a["arm"]: a for a in (obj.summary or {}).get("arms", [])}
        total = sum(a["units"] for a in counts.values())
        rows = [
            (arm.name, _pinned(arm), *_arm_counts(counts.get(arm.name), total))
            for arm in program_arms(obj)
        ]
        units = UNIT_WORDS.get(obj.channel, "units")
        headers = ("arm", "variant (version)", units, "share of units", "voters")
        return html_table(headers, rows, "")

    @admin.display(description="by arm and result")
    def delivered(self, obj: ProgramDesign) -> SafeString:
        if not obj.committed_at:
            return format_html("<p>{}</p>", "Nothing is delivered before the program is committed.")
        counts = delivered_counts(program_id=obj.program_id)
        if not counts:
            return format_html("<p>{}</p>", "Nothing delivered yet.")
        return delivered_tables(program_arms(obj), counts)


STATUS_ACTIONS = (("pause", "Pause"), ("resume", "Resume"), ("cancel", "Cancel for good"))
ALLOWED_FROM = {
    "pause": (ProgramStatus.COMMITTED,),
    "resume": (ProgramStatus.PAUSED,),
    "cancel": (ProgramStatus.DRAFT, ProgramStatus.COMMITTED, ProgramStatus.PAUSED),
}


# -- the universe, in words and counts --------------------------------------------------------

FILTER_LABELS = {
    "status": "voter status",
    "party": "party",
    "age": "age",
    "gender": "gender",
    "precincts": "precincts",
    "congressional_district": "congressional district",
    "state_senate_district": "state senate district",
    "state_house_district": "state house district",
    "turnout": "turnout score",
    "support": "support score",
    "uplift": "predicted uplift",
    "exclude_backlash": "backlash voters",
    "not_contacted_days": "recent contact",
    "exclude_running_programs": "other programs",
    "voter_ids": "voter ids",
}
CHOICE_LABELS = {"status": VoterStatus, "party": Party, "gender": Gender}
SCORE_FILTERS = ("turnout", "support")
LIST_LIMIT = 12

# What a program randomizes, by channel (messaging.universe.unit_key).
UNIT_WORDS = {
    Channel.DOOR: "households",
    Channel.MAIL: "households",
    Channel.SMS: "phone numbers",
    Channel.PHONE: "phone numbers",
    Channel.EMAIL: "email addresses",
}


def _done_message(design: ProgramDesign, action: str) -> str:
    name = design.program.name
    if action != "commit":
        return f"{name}: {action} done."
    design.refresh_from_db(fields=["status", "commit_error"])
    if design.status == ProgramStatus.COMMITTING:
        return f"{name}: committing in the background; reload this page to see it committed."
    if design.status == ProgramStatus.DRAFT:
        return f"{name}: not committed: {design.commit_error}"
    return f"{name}: committed."


def filter_text(name: str, value) -> str:
    """One universe filter as staff would say it (the spec's names stay in the left column)."""
    if name in CHOICE_LABELS:
        labels = dict(CHOICE_LABELS[name].choices)
        return _listed([labels.get(v, v) for v in value])
    if name == "age":
        return f"{value[0]} to {value[1]}"
    if name in SCORE_FILTERS:
        return f"{percent(value[0])} to {percent(value[1])} (the latest complete scoring run)"
    if name == "uplift":
        return "; ".join(
            f"{arm}: {points(low)} to {points(high)}" for arm, (low, high) in value.items()
        )
    if name == "exclude_backlash":
        return (
            "left out (every message predicted to hurt, beyond the safety margin)"
            if value
            else "kept"
        )
    if name == "not_contacted_days":
        return f"not contacted in the last {value:,} days"
    if name == "exclude_running_programs":
        return "nobody already in another running program" if value else "may be in other programs"
    if name == "voter_ids":
        return f"only the {len(value):,} listed: {_listed(value)}"
    return _listed(value) if isinstance(value, list) else str(value)


def _listed(values: list) -> str:
    if len(values) > LIST_LIMIT:
        return f"{', '.join(map(str, values[:LIST_LIMIT]))}, … ({len(values):,} in all)"
    return ", ".join(map(str, values))


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _votes(votes: float | None) -> str:
    return "unknown (no persuasion scores)" if votes is None else f"{votes:,.1f}"


def universe_facts(summary: dict, channel: str) -> list[tuple[str, str]]:
    """The draw's figures as (label, number) rows, numbers with thousands separators."""
    universe, left = summary["universe"], summary["left_out"]
    units = UNIT_WORDS.get(channel, "units")
    assigned = sum(a["units"] for a in summary["arms"])
    return [
        ("voters in the universe", _count(universe.get("voters"))),
        ("households", _count(universe.get("households"))),
        ("distinct phone numbers", _count(universe.get("phones"))),
        ("distinct email addresses", _count(universe.get("emails"))),
        (f"{units} to randomize", _count(universe.get("units"))),
        ("left out: voters every message would hurt", _count(left.get("backlash_voters"))),
        (f"left out: {units} every message would hurt", _count(left.get("left_alone_units"))),
        (f"left out: {units} beyond the budget", _count(left.get("over_budget_units"))),
        (f"{units} assigned (control included)", _count(assigned)),
        ("expected net votes", _votes(summary.get("expected_net_votes"))),
        ("policy, seed", f"{summary['policy']}, {summary['seed']}"),
    ]


def facts_table(facts: list[tuple[str, str]]) -> SafeString:
    """Label and figure rows, with no header row (the labels are the headers)."""
    rows = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", facts)
    return format_html("<table><tbody>{}</tbody></table>", rows)


def summary_table(summary: dict, channel: str) -> SafeString:
    """A draw in two tables: the universe and what was left out, then the arms."""
    arms = [(a["arm"], _count(a["units"]), _count(a["voters"])) for a in summary["arms"]]
    return format_html(
        "{}{}",
        facts_table(universe_facts(summary, channel)),
        html_table(("arm", UNIT_WORDS.get(channel, "units"), "voters"), arms, ""),
    )


# -- arms ----------------------------------------------------------------------------------


def program_arms(design: ProgramDesign) -> list[ProgramArm]:
    """The program's arms, control first, then in the draw's order, each with its pinned variant
    (one query, kept on the instance: the arm and delivery tables both read them)."""
    if not hasattr(design, "_page_arms"):
        arms = ProgramArm.objects.filter(program_id=design.program_id).select_related(
            "variant_pin__variant"
        )
        design._page_arms = sorted(arms, key=lambda arm: (not arm.is_control, _position(arm)))
    return design._page_arms


def _pin(arm: ProgramArm) -> ArmVariant | None:
    return getattr(arm, "variant_pin", None)  # the control arm has none


def _position(arm: ProgramArm) -> int:
    pin = _pin(arm)
    return pin.position if pin else 0


def _pinned(arm: ProgramArm) -> SafeString | str:
    pin = _pin(arm)
    if pin is None:
        return "— (no message)"
    link = reverse("admin:messaging_messagevariant_change", args=[pin.variant_id])
    return format_html('<a href="{}">{}</a>', link, str(pin.variant))


def _arm_counts(arm: dict | None, total_units: int) -> tuple[str, str, str]:
    if arm is None:
        return ("—", "—", "—")
    share = percent(arm["units"] / total_units) if total_units else "—"
    return (_count(arm["units"]), share, _count(arm["voters"]))


# -- delivered ---------------------------------------------------------------------------------

# The result that means the message reached the voter comes first: a conversation at the door or
# on the phone, a text or email or piece delivered. Then the others, in this order.
REACHED = {
    Channel.DOOR: ContactResult.CONTACTED,
    Channel.PHONE: ContactResult.CONTACTED,
    Channel.SMS: ContactResult.DELIVERED,
    Channel.EMAIL: ContactResult.DELIVERED,
    Channel.MAIL: ContactResult.DELIVERED,
}
# Shown even at zero, so an empty column reads as "none yet" rather than missing.
ALWAYS_SHOWN = {
    Channel.DOOR: (ContactResult.NOT_HOME, ContactResult.REFUSED),
    Channel.PHONE: (ContactResult.NOT_HOME, ContactResult.REFUSED),
    Channel.SMS: (ContactResult.FAILED, ContactResult.OPTED_OUT),
    Channel.EMAIL: (ContactResult.BOUNCED, ContactResult.OPTED_OUT),
    Channel.MAIL: (ContactResult.FAILED,),
}
NO_ARM = "arm not recorded"


def delivered_tables(arms: list[ProgramArm], counts: list[DeliveredCount]) -> SafeString:
    """Per channel, attempts per arm by result; a warning when control voters were contacted."""
    sections = []
    for channel in sorted({c.channel for c in counts}, key=Channel.values.index):
        rows = [c for c in counts if c.channel == channel]
        results = _result_columns(channel, rows)
        cells = {(c.arm_id, c.result): c.attempts for c in rows}
        names = [(arm.pk, arm.name) for arm in arms]
        if any(c.arm_id is None for c in rows):
            names.append((None, NO_ARM))
        table = html_table(
            ("arm", "attempts", *(_result_label(channel, r) for r in results)),
            (_delivered_row(name, [cells.get((pk, r), 0) for r in results]) for pk, name in names),
            "",
        )
        total = sum(c.attempts for c in rows)
        heading = f"{Channel(channel).label}: {total:,} attempt{'' if total == 1 else 's'}"
        sections.append(format_html("<h3>{}</h3>{}", heading, table))
    control = [arm.pk for arm in arms if arm.is_control]
    contaminated = sum(c.attempts for c in counts if c.arm_id in control)
    if contaminated:
        sections.append(
            format_html(
                '<p class="errornote">{}</p>',
                f"{contaminated:,} attempts were recorded for control voters. The control group "
                "should get nothing from this program, so its lift will read smaller than it is.",
            )
        )
    return format_html_join("", "{}", ((s,) for s in sections))


def _result_columns(channel: str, rows: list[DeliveredCount]) -> list[str]:
    seen = {c.result for c in rows}
    first = REACHED.get(channel)
    wanted = {first, *ALWAYS_SHOWN.get(channel, ()), *seen} - {None}
    return [first, *(r for r in ContactResult.values if r in wanted and r != first)]


def _result_label(channel: str, result: str) -> str:
    label = ContactResult(result).label.lower()
    return f"{label} (reached)" if result == REACHED.get(channel) else label


def _delivered_row(name: str, values: list[int]) -> tuple[str, ...]:
    return (name, _count(sum(values)), *(_count(v) for v in values))


# -- after the election: the lift ---------------------------------------------------------------


def program_results(request: HttpRequest, design: ProgramDesign) -> dict:
    """The lift section of a committed program's page: the outcomes to choose from and, when one
    is chosen (by id, GET, so no personal data enters the URL), the experiment report, drawn only
    then (it reads every assigned voter). A report that cannot be made is a message."""
    election, question = _picked_outcome(request, design)
    results = {
        "elections": [(e.pk, str(e)) for e in outcome_elections(design)],
        "questions": [(q.pk, f"{q.slug}: {q.text}") for q in outcome_questions(design)],
        "picked": {
            "election": election.pk if election else None,
            "question": question.pk if question else None,
        },
        "report": None,
        "error": "",
    }
    if election is None and question is None:
        return results
    if election is not None and question is not None:
        results["error"] = "Choose one outcome: an election or a survey question."
    elif election is not None and not has_vote_history(election):
        results["error"] = (
            f"No vote history of {election} has been imported yet: the lift needs to know who "
            "voted (import_history)."
        )
    else:
        try:
            report = experiment_report(
                campaign=design.campaign, program=design.program, election=election,
                question=question,
            )  # fmt: skip
        except (ExperimentError, ValidationError) as failure:
            results["error"] = "; ".join(getattr(failure, "messages", None) or [str(failure)])
        else:
            results.update(_report_context(design, report, election, question))
    return results


def _picked_outcome(
    request: HttpRequest, design: ProgramDesign
) -> tuple[Election | None, SurveyQuestion | None]:
    """The election and question named in the query string, each one of the program's campaign's
    rows; anything else (another campaign's, not a number) is a 404."""
    picked = []
    for name, model in (("election", Election), ("question", SurveyQuestion)):
        raw = request.GET.get(name, "").strip()
        if not raw:
            picked.append(None)
            continue
        try:
            picked.append(model.objects.get(pk=int(raw), campaign_id=design.campaign_id))
        except (ValueError, model.DoesNotExist):
            raise Http404 from None
    return picked[0], picked[1]


def _report_context(
    design: ProgramDesign, report: dict, election: Election | None, question: SurveyQuestion | None
) -> dict:
    # In the order of the arms table above (the report sorts treated arms by name).
    order = {arm.name: i for i, arm in enumerate(program_arms(design))}
    arms = sorted(report["arms"], key=lambda a: order.get(a["arm"], len(order)))
    png = plots.experiment_png(arms, title=chart_title(report))
    outcome = {"election": election.pk} if election else {"question": question.pk}
    query = urlencode({"program": design.program_id, **outcome})
    return {
        "report": report,
        "rows": arm_rows(arms),
        "sentence": _report_sentence(report),
        "chart": "data:image/png;base64," + base64.b64encode(png).decode(),
        "full_report_url": f"{reverse('admin:scoring_modelversion_experiment')}?{query}",
        "chart_url": f"{reverse('admin:scoring_modelversion_experiment_chart')}?{query}",
    }


def _report_sentence(report: dict) -> str:
    """Who the report counted: voters, the units they were randomized in, and who was left out."""
    text = (
        f"{report['outcome']}: {report['n']:,} voters in {report['households']:,} randomized "
        f"units, of {report.get('assigned', report['n']):,} assigned"
    )
    dropped = [f"{n:,} {reason}" for reason, n in (report.get("dropped") or {}).items() if n]
    return f"{text} (left out: {'; '.join(dropped)})." if dropped else f"{text}."


@admin.register(FieldResult)
class FieldResultAdmin(CampaignScopedAdmin):
    """Results sent from organizers' phones, flagged ones first to review (read-only: the
    history rows they wrote are the record). Staff settle flagged results with the two actions
    (or on the program's page). The note is on the contact attempt, masked there for viewers, so
    it is not repeated here."""

    editable = False
    list_display = (
        "received", "recorded", "voter", "outcome", "support", "flag", "settlement",
        "organizer", "turf_ref", "design",
    )  # fmt: skip
    list_select_related = ("campaign", "voter", "organizer", "design__program")
    list_filter = ("flag", "settlement", "outcome", ("design", ScopedRelatedFieldListFilter))
    ordering = ("-id",)
    sortable_by = ()
    raw_id_fields = ("voter",)
    object_select_related = (
        "campaign", "voter", "organizer", "design__program", "turf", "settled_by",
    )  # fmt: skip
    fields = (
        "campaign", "key", ("organizer", "design"), ("turf", "turf_ref"), "voter",
        ("outcome", "support"), "answers", "flag", ("recorded", "received"),
        "contact_attempt", ("settlement", "settled_by", "settled"),
    )  # fmt: skip
    readonly_fields = ("recorded", "received", "settled")
    actions = ("accept_selected", "dismiss_selected")

    # Times on the campaign's clock, saying their zone (the admin's own are the server's UTC).
    @admin.display(description="received", ordering="received_at")
    def received(self, obj: FieldResult) -> str:
        return local_time(obj.received_at, obj.campaign.time_zone)

    @admin.display(description="recorded (phone)", ordering="recorded_at")
    def recorded(self, obj: FieldResult) -> str:
        return local_time(obj.recorded_at, obj.campaign.time_zone)

    @admin.display(description="settled at")
    def settled(self, obj: FieldResult) -> str:
        return local_time(obj.settled_at, obj.campaign.time_zone)

    def has_settle_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, self.edit_roles)

    @admin.action(description="Accept selected flagged results", permissions=["settle"])
    def accept_selected(self, request: HttpRequest, queryset) -> None:
        self._settle(request, queryset, FieldSettlement.ACCEPTED)

    @admin.action(description="Dismiss selected flagged results", permissions=["settle"])
    def dismiss_selected(self, request: HttpRequest, queryset) -> None:
        self._settle(request, queryset, FieldSettlement.DISMISSED)

    def _settle(self, request: HttpRequest, queryset, settlement: str) -> None:
        # A viewer in one campaign and staff in another settles only the latter's results.
        if not is_superuser(request):
            queryset = queryset.filter(campaign__in=campaign_ids(request, self.edit_roles))
        settled = settle_field_results(
            results=queryset, settlement=settlement, by=request.user, client_ip=client_ip(request)
        )
        self.message_user(
            request,
            f"{settled:,} flagged result(s) {settlement}; results not flagged, settled already or "
            "not yours to settle were left as they were.",
        )
