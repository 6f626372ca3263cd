"""The operator's console for models, scoring runs and experiment reports.

Model versions are written only by training (`scoring.services`); here they are read, compared
with the approved version of the same kind (and program), and approved: a POST through
`scoring.services.approve_model`, which checks the role again and writes the audit event. Scoring
runs are read-only, with progress counted from their chunk rows. Voter scores have no page of their
own: one row per voter and run is millions of rows, read through the API and the export.

Charts are PNGs drawn by `scoring.plots` and served by views of this admin, scoped like its pages:
another campaign's model version or program is a 404 there too. Selections travel as ids only.

What the pages show is read by `scoring.selectors` and worded by `scoring.reports`; this module
decides who sees it and lays it out. A voter's scores appear on the voter's page through the
panel registered at the end of this module (`voters.admin_panels`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import F, OrderBy
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from campaign.admin import (
    EDIT_ROLES,
    CampaignScopedAdmin,
    ScopedRelatedFieldListFilter,
    campaign_ids,
    count_of,
    html_table,
    is_superuser,
    scoped_related_queryset,
    wrappable_time,
)
from campaign.models import Campaign, Election
from campaign.views import client_ip
from scoring import plots
from scoring.experiments import ExperimentError
from scoring.models import (
    LEAVE_ALONE,
    ModelKind,
    ModelStatus,
    ModelVersion,
    RunStatus,
    ScoringChunk,
    ScoringRun,
)
from scoring.reasons import by_model
from scoring.reports import (
    CLASSIFIER_ROWS,
    DASH,
    PERSUASION_ROWS,
    arm_rows,
    band_tables,
    cell,
    chart_title,
    duration,
    headline,
    interval,
    message_rows,
    metric,
    number,
    per_second,
    percent,
    persuasion_summary,
    points,
    reason_rank,
)
from scoring.selectors import (
    SCORE_BANDS,
    approved_peer,
    best_arm_choices,
    latest_complete_runs,
    latest_score,
    latest_voter_score,
    scored_in_band,
    scored_in_runs,
    unscored,
    voters_done,
    with_best_arm,
)
from scoring.services import ScoringError, approve_model, experiment_report, start_scoring_run
from voters.admin_panels import (
    VoterListColumn,
    register_voter_list_column,
    register_voter_list_filter,
    register_voter_panel,
)
from voters.models import CONTROL_ARM, Program, SurveyQuestion, Voter, arm_label

REFRESH_SECONDS = 5

# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _side_by_side(panels: Sequence[tuple[str, SafeString]]) -> SafeString:
    return format_html(
        '<div style="display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start">{}</div>',
        format_html_join("", "<div><h4>{}</h4>{}</div>", panels),
    )


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"#{1,6}\s+(.*)")


def render_card(text: str) -> SafeString:
    """The model card's small markdown dialect (headings, **bold**, "- " lists) as HTML.

    Every line is escaped before the markup is added, so a program or question name in the card
    cannot inject HTML.
    """
    html: list[str] = []
    items: list[str] = []

    def inline(line: str) -> str:
        return _BOLD.sub(r"<strong>\1</strong>", str(escape(line)))

    def flush() -> None:
        if items:
            html.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("- "):
            items.append(inline(line[2:]))
            continue
        flush()
        if not line:
            continue
        heading = _HEADING.fullmatch(line)
        html.append(f"<h3>{inline(heading[1])}</h3>" if heading else f"<p>{inline(line)}</p>")
    flush()
    return mark_safe("".join(html))  # built from escaped text only


# --------------------------------------------------------------------------------------------
# Model versions
# --------------------------------------------------------------------------------------------


def metrics_table(version: ModelVersion, peer: ModelVersion | None) -> SafeString:
    rows_spec = PERSUASION_ROWS if version.kind == ModelKind.PERSUASION else CLASSIFIER_ROWS
    shown = [version] if peer is None else [version, peer]
    headers = ["metric", f"this version (v{version.pk})"]
    if peer is not None:
        headers.append(f"approved now (v{peer.pk})")
    rows = [
        [label, *(cell(metric(v.metrics or {}, keys), style) for v in shown)]
        for label, keys, style in rows_spec
    ]
    if version.kind == ModelKind.PERSUASION:
        rows.append(["personalized policy", *(headline(v) for v in shown)])
    answers = (version.metrics or {}).get("answers")
    if answers:
        rows.append(["support answers used", ", ".join(f"{k}: {v:,}" for k, v in answers.items())])
    return html_table(headers, rows, "No metrics recorded.")


def sizes_table(version: ModelVersion) -> SafeString:
    if version.kind == ModelKind.PERSUASION:
        return _uplift_sizes_table(version.metrics or {})
    params = version.params or {}
    chosen = (params.get("max_depth"), params.get("trees"))
    return html_table(
        ("depth", "trees", "validation AUC", "chosen"),
        (
            (
                s.get("max_depth"),
                s.get("trees"),
                number(s.get("auc"), 4),
                "chosen" if (s.get("max_depth"), s.get("trees")) == chosen else "",
            )
            for s in (version.metrics or {}).get("sizes") or []
        ),
        "No candidate sizes recorded.",
    )


def _uplift_sizes_table(metrics: dict) -> SafeString:
    size = metrics.get("uplift_size") or {}
    chosen = (size.get("max_depth"), size.get("n_estimators"))
    return html_table(
        ("depth", "trees", "cross-fitted DR loss", "above the best", "standard error", "chosen"),
        (
            (
                c.get("max_depth"),
                c.get("n_estimators"),
                number(c.get("dr_mse"), 5),
                number(c.get("above_best"), 5),
                number(c.get("se"), 5),
                "chosen" if (c.get("max_depth"), c.get("n_estimators")) == chosen else "",
            )
            for c in metrics.get("uplift_sizes") or []
        ),
        "No candidate sizes recorded.",
    )


def reliability_table(version: ModelVersion) -> SafeString:
    return html_table(
        ("scores between", "mean predicted", "observed", "voters"),
        (
            (
                f"{b['bin'] / 10:.1f}-{(b['bin'] + 1) / 10:.1f}",
                number(b.get("predicted")),
                number(b.get("observed")),
                number(b.get("n")),
            )
            for b in (version.metrics or {}).get("reliability") or []
        ),
        "No reliability bins recorded.",
    )


def policy_table(version: ModelVersion) -> SafeString:
    return html_table(
        ("policy", "DR value", "95% CI", "IPS value", "95% CI"),
        (
            (
                p.get("policy"),
                number(p.get("dr"), 4),
                interval(p.get("dr_ci")),
                number(p.get("ips"), 4),
                interval(p.get("ips_ci")),
            )
            for p in (version.metrics or {}).get("policies") or []
        ),
        "No policy values recorded.",
    )


def arm_uplift_table(version: ModelVersion) -> SafeString:
    arms = (version.metrics or {}).get("arms") or {}
    return html_table(
        ("arm", "average effect (DR)", "Qini", "uplift top 10%", "top 20%", "top 30%"),
        (
            (
                name,
                points(a.get("ate_dr")),
                number(a.get("qini"), 4),
                points(a.get("uplift_top_10")),
                points(a.get("uplift_top_20")),
                points(a.get("uplift_top_30")),
            )
            for name, a in arms.items()
        ),
        "No per-arm figures recorded.",
    )


def _with_peer(version: ModelVersion, render) -> SafeString:
    peer = approved_peer(version)
    if peer is None:
        return render(version)
    return _side_by_side(
        [
            (f"This version (v{version.pk})", render(version)),
            (f"Approved now (v{peer.pk})", render(peer)),
        ]
    )


SUMMARY_FIELDS = (
    "campaign",
    "kind",
    "status",
    "subject",
    "features_as_of",
    ("created_by", "created_at"),
    ("approved_by", "approved_at"),
    "compared_with",
)
CLASSIFIER_FIELDS = (
    "metrics_comparison",
    "reliability_plot",
    "reliability_bins",
    "candidate_sizes",
)
PERSUASION_FIELDS = ("metrics_comparison", "policy_values", "arm_uplifts", "candidate_sizes")
# What staff read first on a persuasion model: in words, then one table.
PERSUASION_STAFF_FIELDS = ("what_it_tells_us", "messages_compared")
ESTIMATOR_DETAILS = (
    "For analysts: the estimator's figures (DR and IPS policy values, Qini, uplift in the top "
    "deciles, candidate sizes), beside the approved version's"
)
DETAIL_FIELDS = ("parameters", "features")
# What the experiment report may be asked about, by id in the query string.
EXPERIMENT_PARTS: tuple[tuple[str, type[models.Model], tuple[str, ...]], ...] = (
    ("program", Program, ("name",)),
    ("election", Election, ("-election_on",)),
    ("question", SurveyQuestion, ("slug",)),
)


@admin.register(ModelVersion)
class ModelVersionAdmin(CampaignScopedAdmin):
    """Read-only: versions come from training; the only write is approval (button or action)."""

    editable = False
    list_display = (
        "version", "kind", "status", "campaign", "subject", "headline_metric", "created_at",
        "created_by", "approved_by",
    )  # fmt: skip
    list_display_links = ("version",)
    list_filter = (
        "kind",
        "status",
        ("campaign", ScopedRelatedFieldListFilter),
        ("program", ScopedRelatedFieldListFilter),
    )
    list_select_related = (
        "campaign", "election", "program", "question", "created_by", "approved_by",
    )  # fmt: skip
    object_select_related = list_select_related
    sortable_by = ("created_at", "kind", "status")
    actions = ("approve_selected",)
    readonly_fields = (
        "campaign", "kind", "status", "subject", "features_as_of", "created_by", "created_at",
        "approved_by", "approved_at", "compared_with", "metrics_comparison", "reliability_plot",
        "what_it_tells_us", "messages_compared",
        "reliability_bins", "candidate_sizes", "policy_values", "arm_uplifts", "card",
        "parameters", "features",
    )  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        # The artifact holds the boosters (megabytes); no page here reads it.
        return super().get_queryset(request).defer("artifact")

    def get_fieldsets(self, request: HttpRequest, obj=None):
        persuasion = obj is not None and obj.kind == ModelKind.PERSUASION
        if persuasion:
            # Staff first: which message works, for whom, how sure we are; the estimator's
            # vocabulary (IPS, Qini, DR loss) folded away below for whoever checks the model.
            return [
                (None, {"fields": SUMMARY_FIELDS}),
                ("Which message works, for whom, how sure", {"fields": PERSUASION_STAFF_FIELDS}),
                (ESTIMATOR_DETAILS, {"classes": ("collapse",), "fields": PERSUASION_FIELDS}),
                ("Model card", {"classes": ("collapse",), "fields": ("card",)}),
                ("Parameters and features", {"classes": ("collapse",), "fields": DETAIL_FIELDS}),
            ]
        return [
            (None, {"fields": SUMMARY_FIELDS}),
            (
                "Held-out evaluation, beside the approved version's",
                {"fields": PERSUASION_FIELDS if persuasion else CLASSIFIER_FIELDS},
            ),
            ("Model card", {"fields": ("card",)}),
            ("Parameters and features", {"classes": ("collapse",), "fields": DETAIL_FIELDS}),
        ]

    # -- columns and fields ------------------------------------------------------------------

    @admin.display(description="version", ordering="-created_at")
    def version(self, obj: ModelVersion) -> str:
        return f"v{obj.pk}"

    @admin.display(description="trained on")
    def subject(self, obj: ModelVersion) -> str:
        parts = []
        if obj.program_id:
            parts.append(f"program {obj.program}")
        if obj.election_id:
            parts.append(f"election {obj.election}")
        if obj.question_id:
            parts.append(f"question {obj.question}")
        return " · ".join(parts) or DASH

    @admin.display(description="headline metric")
    def headline_metric(self, obj: ModelVersion) -> str:
        return headline(obj)

    @admin.display(description="compared with")
    def compared_with(self, obj: ModelVersion) -> SafeString | str:
        if obj.status == ModelStatus.APPROVED:
            return "This is the approved version: it scores voters."
        peer = approved_peer(obj)
        if peer is None:
            return "No approved version of this kind yet."
        url = reverse("admin:scoring_modelversion_change", args=[peer.pk])
        when = f" on {peer.approved_at:%Y-%m-%d}" if peer.approved_at else ""
        return format_html('approved <a href="{}">v{}</a>{}', url, peer.pk, when)

    @admin.display(description="metrics")
    def metrics_comparison(self, obj: ModelVersion) -> SafeString:
        return metrics_table(obj, approved_peer(obj))

    @admin.display(description="reliability (held-out)")
    def reliability_plot(self, obj: ModelVersion) -> SafeString | str:
        if not (obj.metrics or {}).get("reliability"):
            return "No reliability bins recorded."
        url = reverse("admin:scoring_modelversion_reliability", args=[obj.pk])
        return format_html(
            # Scaled down, never cropped, on a phone: a 500-pixel chart in a 360-pixel column
            # lost its right side, axis label and title included.
            '<img src="{}" width="500" height="400" style="max-width:100%;height:auto" '
            'alt="Reliability plot of v{}: mean predicted probability against observed rate per '
            'bin, the approved version in grey">',
            url,
            obj.pk,
        )

    @admin.display(description="reliability bins")
    def reliability_bins(self, obj: ModelVersion) -> SafeString:
        return _with_peer(obj, reliability_table)

    @admin.display(description="candidate sizes")
    def candidate_sizes(self, obj: ModelVersion) -> SafeString:
        return sizes_table(obj)

    @admin.display(description="policy values (out-of-fold)")
    def policy_values(self, obj: ModelVersion) -> SafeString:
        return _with_peer(obj, policy_table)

    @admin.display(description="per arm")
    def arm_uplifts(self, obj: ModelVersion) -> SafeString:
        return _with_peer(obj, arm_uplift_table)

    @admin.display(description="in words")
    def what_it_tells_us(self, obj: ModelVersion) -> SafeString:
        return format_html_join("", "<p>{}</p>", ((line,) for line in persuasion_summary(obj)))

    @admin.display(description="each message, given to everyone")
    def messages_compared(self, obj: ModelVersion) -> SafeString:
        outcome = "would vote" if obj.election_id else "would agree"
        table = html_table(
            ("message", outcome, "very likely (95%) between", "vs no message"),
            (
                (r.message, r.expected, r.plausible, r.versus_none)
                for r in message_rows(obj.metrics or {})
            ),
            "No policy values recorded.",
        )
        return format_html(
            '{}<p class="help">{}</p>',
            table,
            "Estimated on the program's own voters from data the model did not train on "
            "(cross-fitted), so the figures are not flattered by the model having seen them.",
        )

    @admin.display(description="model card")
    def card(self, obj: ModelVersion) -> SafeString:
        return render_card(obj.model_card or "")

    @admin.display(description="parameters")
    def parameters(self, obj: ModelVersion) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.params, indent=2, sort_keys=True))

    @admin.display(description="feature spec")
    def features(self, obj: ModelVersion) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.feature_spec, indent=2))

    # -- approval -----------------------------------------------------------------------------

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, EDIT_ROLES)

    @admin.action(description="Approve the selected draft", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        drafts = list(queryset.filter(status=ModelStatus.DRAFT))
        if not drafts:
            self.message_user(request, "Only drafts can be approved.", messages.WARNING)
            return
        slots = {(v.campaign_id, v.kind, v.program_id) for v in drafts}
        if len(slots) < len(drafts):
            # Approving a version retires the approved one of its kind: two of one kind in one
            # click would leave whichever came last, silently.
            self.message_user(
                request, "Select one draft per kind (and program) to approve.", messages.ERROR
            )
            return
        if not all(self._role_in(request, v, EDIT_ROLES) for v in drafts):
            raise PermissionDenied
        for version in drafts:
            self._approve(request, version)

    def _approve(self, request: HttpRequest, version: ModelVersion) -> None:
        try:
            approved = approve_model(
                version=version, user=request.user, client_ip=client_ip(request)
            )
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self.message_user(
            request, f"{approved} approved: the next scoring run uses it.", messages.SUCCESS
        )

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        version = self.get_object(request, object_id)  # another campaign's version: 404
        if not self._role_in(request, version, EDIT_ROLES):
            raise PermissionDenied
        self._approve(request, version)
        return HttpResponseRedirect(reverse("admin:scoring_modelversion_change", args=[version.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            if obj.status == ModelStatus.DRAFT and self._role_in(request, obj, EDIT_ROLES):
                context["approve_url"] = reverse(
                    "admin:scoring_modelversion_approve", args=[obj.pk]
                )
                peer = approved_peer(obj)
                context["approve_replaces"] = f"v{peer.pk}" if peer else ""
            if obj.kind == ModelKind.PERSUASION and obj.program_id:
                outcome = {"election": obj.election_id} if obj.election_id else {}
                if obj.question_id and not obj.election_id:
                    outcome = {"question": obj.question_id}
                query = urlencode({"program": obj.program_id, **outcome})
                context["experiment_url"] = (
                    f"{reverse('admin:scoring_modelversion_experiment')}?{query}"
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -- charts and the experiment report -----------------------------------------------------

    def get_urls(self):
        def view(function, name: str, post_only: bool = False):
            wrapped = require_POST(function) if post_only else function
            return self.admin_site.admin_view(wrapped), f"scoring_modelversion_{name}"

        experiment, experiment_name = view(self.experiment_view, "experiment")
        chart, chart_name = view(self.experiment_chart_view, "experiment_chart")
        approve, approve_name = view(self.approve_view, "approve", post_only=True)
        reliability, reliability_name = view(self.reliability_view, "reliability")
        # Before the stock URLs, whose "<object_id>/" catch-all would swallow them.
        return [
            path("experiment/", experiment, name=experiment_name),
            path("experiment/chart.png", chart, name=chart_name),
            path("<path:object_id>/approve/", approve, name=approve_name),
            path("<path:object_id>/reliability.png", reliability, name=reliability_name),
            *super().get_urls(),
        ]

    def reliability_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        version = self.get_object(request, object_id)  # another campaign's version: 404
        bins = (version.metrics or {}).get("reliability")
        if not bins:
            raise Http404
        peer = approved_peer(version)
        compare = (peer.metrics or {}).get("reliability") if peer is not None else None
        png = plots.reliability_png(
            bins,
            title=f"{version.get_kind_display()} model v{version.pk}: held-out reliability",
            compare=compare,
            compare_label=f"approved v{peer.pk}" if peer is not None else "approved",
        )
        return HttpResponse(png, content_type="image/png")

    def _experiment_selection(self, request: HttpRequest) -> dict[str, models.Model]:
        """The program and outcome named by id in the query string, each one of the user's
        campaigns' rows, and all of one campaign; anything else is a 404."""
        picked: dict[str, models.Model] = {}
        for name, model, _ in EXPERIMENT_PARTS:
            raw = request.GET.get(name, "").strip()
            if not raw:
                continue
            rows = scoped_related_queryset(model, request, self.view_roles)
            try:
                picked[name] = rows.select_related("campaign").get(pk=int(raw))
            except (ValueError, model.DoesNotExist):
                raise Http404 from None
        program = picked.get("program")
        if program is not None and any(
            obj.campaign_id != program.campaign_id for obj in picked.values()
        ):
            raise Http404
        return picked

    def _experiment_report(self, picked: dict) -> dict:
        return experiment_report(
            campaign=picked["program"].campaign,
            program=picked["program"],
            election=picked.get("election"),
            question=picked.get("question"),
        )

    def experiment_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        picked = self._experiment_selection(request)
        report, error, chart = None, "", ""
        if "program" in picked:
            if ("election" in picked) == ("question" in picked):
                error = "Choose one outcome: an election or a survey question."
            else:
                try:
                    report = self._experiment_report(picked)
                except (ExperimentError, ValidationError) as failure:
                    error = "; ".join(getattr(failure, "messages", None) or [str(failure)])
        if report is not None:
            png = plots.experiment_png(report["arms"], title=chart_title(report))
            chart = "data:image/png;base64," + base64.b64encode(png).decode()
        context = {
            **self.admin_site.each_context(request),
            "title": "Experiment report",
            "opts": self.opts,
            "choices": self._experiment_choices(request),
            "picked": {name: obj.pk for name, obj in picked.items()},
            "report": report,
            "rows": arm_rows(report["arms"], arm_label) if report else [],
            "bands": band_tables(report["by_band"], arm_label) if report else [],
            "chart": chart,
            "chart_url": (
                f"{reverse('admin:scoring_modelversion_experiment_chart')}?{request.GET.urlencode()}"
                if report
                else ""
            ),
            "error": error,
        }
        return TemplateResponse(request, "admin/scoring/experiment_report.html", context)

    def experiment_chart_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        picked = self._experiment_selection(request)
        if "program" not in picked or ("election" in picked) == ("question" in picked):
            raise Http404
        try:
            report = self._experiment_report(picked)
        except (ExperimentError, ValidationError):
            raise Http404 from None
        png = plots.experiment_png(report["arms"], title=chart_title(report))
        return HttpResponse(png, content_type="image/png")

    def _experiment_choices(self, request: HttpRequest) -> dict[str, list[tuple[int, str]]]:
        """Dropdown choices: the user's campaigns' programs, elections and survey questions."""
        several = self._sees_several_campaigns(request)
        choices = {}
        for name, model, order in EXPERIMENT_PARTS:
            rows = scoped_related_queryset(model, request, self.view_roles)
            rows = rows.select_related("campaign").order_by(*order)
            choices[name] = [
                (obj.pk, f"{obj} ({obj.campaign.slug})" if several else str(obj)) for obj in rows
            ]
        return choices

    def _sees_several_campaigns(self, request: HttpRequest) -> bool:
        return is_superuser(request) or len(campaign_ids(request, self.view_roles)) > 1


# --------------------------------------------------------------------------------------------
# Scoring runs
# --------------------------------------------------------------------------------------------


@admin.register(ScoringRun)
class ScoringRunAdmin(CampaignScopedAdmin):
    """Read-only: runs start from the `score` command or the "Start a scoring run" page, and
    finish in the workers."""

    editable = False
    # Eight columns with short headings (Django never wraps a heading) that fit a 1366 px laptop
    # beside the sidebar and the filters: the status, the voters scored, the speed and the error
    # first, the campaign's long name last; chunks, the features' date and the target election
    # are on the run's page.
    list_display = (
        "run", "status", "voters_scored", "speed", "eta", "short_error", "created",
        "campaign_name",
    )  # fmt: skip
    list_display_links = ("run",)
    list_filter = ("status", ("campaign", ScopedRelatedFieldListFilter))
    # Not the model versions: a join would read their artifacts; their ids are enough for links.
    list_select_related = ("campaign", "target_election", "created_by")
    object_select_related = list_select_related
    sortable_by = ("created_at", "status")
    readonly_fields = (
        "campaign", "status", "as_of", "target_election", "models_used", "progress",
        "voters_scored", "speed", "eta", "error", "created_by", "created_at", "started_at",
        "finished_at",
    )  # fmt: skip
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                chunks_done=count_of(ScoringChunk, "run", done_at__isnull=False),
                voters_done=voters_done(),
            )
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # A run in progress reloads itself so its progress stays current without JavaScript.
        if obj is not None and obj.status in (RunStatus.QUEUED, RunStatus.RUNNING):
            context["auto_refresh_seconds"] = REFRESH_SECONDS
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        start = path(
            "start/", self.admin_site.admin_view(self.start_view), name="scoring_scoringrun_start"
        )
        return [start, *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        """Start a scoring run of one of the user's campaigns (staff and admins)."""
        allowed = Campaign.objects.filter(pk__in=campaign_ids(request, EDIT_ROLES))
        if not allowed.exists():
            raise PermissionDenied
        if request.method == "POST":
            raw = request.POST.get("campaign", "")
            # Anything but a campaign's id is a campaign not found (a 500 before: pk="abc").
            campaign = (
                allowed.filter(pk=int(raw)).first() if raw.isascii() and raw.isdigit() else None
            )
            if campaign is None:
                raise Http404
            try:
                run = start_scoring_run(campaign=campaign, user=request.user)
            except ScoringError as error:
                self.message_user(request, "; ".join(error.messages), messages.ERROR)
                return HttpResponseRedirect(request.path)
            self.message_user(request, f"Scoring run {run.pk} started ({run.chunks_total} chunks).")
            return HttpResponseRedirect(reverse("admin:scoring_scoringrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Start a scoring run",
            "opts": self.model._meta,
            "campaigns": allowed.order_by("name"),
        }
        return TemplateResponse(request, "admin/scoring/scoringrun/start.html", context)

    @admin.display(description="run", ordering="-created_at")
    def run(self, obj: ScoringRun) -> str:
        return f"run {obj.pk}"

    @admin.display(description="chunks done")
    def progress(self, obj: ScoringRun) -> str:
        if not obj.chunks_total:
            return f"{obj.chunks_done:,}"
        share = obj.chunks_done / obj.chunks_total
        return f"{obj.chunks_done:,} / {obj.chunks_total:,} ({share:.0%})"

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: ScoringRun) -> str:
        return wrappable_time(obj.created_at)

    @admin.display(description="scored")
    def voters_scored(self, obj: ScoringRun) -> str:
        return f"{obj.voters_done:,} of {obj.voters_total:,}"

    @admin.display(description="voters/s")
    def speed(self, obj: ScoringRun) -> str:
        rate = per_second(obj)
        return f"{rate:,.0f}" if rate > 0 else DASH

    @admin.display(description="time left")
    def eta(self, obj: ScoringRun) -> str:
        if obj.status == RunStatus.COMPLETE:
            return "done"
        if obj.status != RunStatus.RUNNING:
            return DASH
        rate = per_second(obj)
        if rate <= 0:
            return DASH
        return "about " + duration(max(obj.voters_total - obj.voters_done, 0) / rate)

    @admin.display(description="error")
    def short_error(self, obj: ScoringRun) -> str:
        return obj.error if len(obj.error) <= 80 else obj.error[:79] + "…"

    @admin.display(description="models")
    def models_used(self, obj: ScoringRun) -> SafeString | str:
        links = [
            (reverse("admin:scoring_modelversion_change", args=[pk]), label, pk)
            for label, pk in (
                ("turnout", obj.turnout_model_id),
                ("support", obj.support_model_id),
                ("persuasion", obj.persuasion_model_id),
            )
            if pk is not None
        ]
        if not links:
            return DASH
        return format_html_join(", ", '<a href="{}">{} v{}</a>', links)


# -- a voter's scores, shown on the voter's page ------------------------------------------------

REASON_UNITS = (
    "A reason's size is its exact SHAP share of the voter's difference from the average voter, "
    "in percentage points (pp): of calibrated probability for turnout and support, of predicted "
    "uplift for a message. Each model's reasons, with the rest of its features, add up to that "
    "difference."
)


def _reason_model(model: str) -> str:
    """ "uplift civic_duty" (a message's model) as "uplift of Civic duty"."""
    kind, _, arm = model.partition(" ")
    return f"{kind} of {arm_label(arm)}" if kind == "uplift" and arm else model


def voter_scores(voter_id: int) -> SafeString:
    """The voter's scores from the latest complete run that scored them, with the reasons."""
    score = latest_voter_score(voter_id)
    if score is None:
        return format_html("<p>{}</p>", "Not scored yet: no complete scoring run includes them.")
    # Messages by their label ("Civic duty"), as staff name them; probabilities in percent,
    # uplifts (changes in a probability) in percentage points.
    rows = [
        ("turnout", percent(score.turnout)),
        ("support", percent(score.support)),
        ("best message", best_message_label(score.best_arm) if score.best_arm else DASH),
        ("why", score.best_arm_reason(label=arm_label) or DASH),
        *(
            (f"uplift of {arm_label(arm)}", points(value))
            for arm, value in sorted(score.uplift.items())
        ),
    ]
    heading = f"run {score.run_id}, features as of {score.run.as_of:%Y-%m-%d}"
    grouped = by_model(score.reasons)
    models_in_order = sorted(grouped, key=reason_rank)
    reasons = html_table(
        ("model", "reason", "vs the average voter"),
        (
            (_reason_model(model), text, points(value))
            for model in models_in_order
            for text, value in grouped[model]
        ),
        "No reasons recorded.",
    )
    return format_html(
        '{}{}<p class="help">{}</p>',
        html_table(("score", heading), rows, ""),
        reasons,
        REASON_UNITS,
    )


register_voter_panel(
    name="latest_scores",
    title="Scores",
    label="latest scores and their reasons",
    after="Consent",
    render=lambda voter: voter_scores(voter.pk),
)


# -- the voter list: latest scores, their bands and the best message ---------------------------
#
# "Latest" is the latest complete scoring run of the voter's campaign: what targeting reads
# (`VoterScore.objects.latest_complete`). Run ids are read once per request, for the user's
# campaigns only, so no filter or column can reach another campaign's scores.

BAND_WORDS = {
    "0-20": "very low",
    "20-40": "low",
    "40-60": "middle",
    "60-80": "high",
    "80-100": "very high",
}
NOT_SCORED = "none"


def whole_percent(value: float | None) -> str:
    """A probability in a list column: whole percent, as narrow as the band it falls in."""
    return DASH if value is None else f"{100 * value:.0f}%"


def latest_runs(request: HttpRequest) -> dict[int, int]:
    """{campaign id: latest complete run id} of the user's campaigns, read once per request."""
    cached = getattr(request, "_latest_scoring_runs", None)
    if cached is None:
        cached = latest_complete_runs(None if is_superuser(request) else campaign_ids(request))
        request._latest_scoring_runs = cached
    return cached


def best_message_label(arm: str) -> str:
    """The best arm as staff read it: the variant's label, or leave them alone."""
    return LEAVE_ALONE if arm == CONTROL_ARM else arm_label(arm)


class ScoreBandFilter(admin.SimpleListFilter):
    """Voters whose latest `score` (a probability) lies in a band of 20 points."""

    score = ""

    def lookups(self, request, model_admin):
        bands = [(band, f"{BAND_WORDS[band]} ({band}%)") for band in SCORE_BANDS]
        return [*bands, (NOT_SCORED, "not scored")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        runs = latest_runs(request).values()
        if value == NOT_SCORED:
            # No row in the latest run (imported since) or a row without this model's score.
            return queryset.filter(
                ~models.Q(pk__in=scored_in_runs(runs)) | models.Q(pk__in=unscored(runs, self.score))
            )
        if value not in SCORE_BANDS:
            return queryset.none()
        return queryset.filter(pk__in=scored_in_band(runs, self.score, value))


class TurnoutBandFilter(ScoreBandFilter):
    title = "latest turnout score"
    parameter_name = "turnout_band"
    score = "turnout"


class SupportBandFilter(ScoreBandFilter):
    title = "latest support score"
    parameter_name = "support_band"
    score = "support"


class BestMessageFilter(admin.SimpleListFilter):
    """Voters whose best message in the latest run (the persuasion model's pick) is this one."""

    title = "best message (latest persuasion model)"
    parameter_name = "best_message"

    def lookups(self, request, model_admin):
        arms = best_arm_choices(latest_runs(request).values())
        return [(arm, best_message_label(arm)) for arm in arms]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if self.value() not in {value for value, _ in self.lookup_choices}:
            return queryset.none()
        return queryset.filter(pk__in=with_best_arm(latest_runs(request).values(), self.value()))


class UnscoredLast(OrderBy):
    """Order by a score with unscored voters last both ways (the admin reverses an ordering for
    a second click, which would otherwise put them first: PostgreSQL sorts NULL as largest,
    SQLite as smallest)."""

    def __init__(self, name: str) -> None:
        super().__init__(F(name), nulls_last=True)

    def reverse_ordering(self) -> UnscoredLast:
        self.descending = not self.descending
        return self


def _annotating(name: str, field: str):
    def annotate(request: HttpRequest, voters: models.QuerySet[Voter]) -> models.QuerySet[Voter]:
        runs = latest_runs(request).values()
        if not runs:  # nothing scored yet: no subquery at all
            empty = models.CharField() if field == "best_arm" else models.FloatField()
            return voters.annotate(**{name: models.Value(None, output_field=empty)})
        return voters.annotate(**{name: latest_score(runs, field)})

    return annotate


register_voter_list_filter("turnout_band", TurnoutBandFilter)
register_voter_list_filter("support_band", SupportBandFilter)
register_voter_list_filter("best_message", BestMessageFilter)
register_voter_list_column(
    VoterListColumn(
        name="latest_turnout",
        description="turnout",
        ordering=UnscoredLast("latest_turnout"),
        annotate=_annotating("latest_turnout", "turnout"),
        display=lambda voter: whole_percent(voter.latest_turnout),
    )
)
register_voter_list_column(
    VoterListColumn(
        name="latest_support",
        description="support",
        ordering=UnscoredLast("latest_support"),
        annotate=_annotating("latest_support", "support"),
        display=lambda voter: whole_percent(voter.latest_support),
    )
)
register_voter_list_column(
    VoterListColumn(
        name="latest_best_message",
        description="best message",
        ordering=UnscoredLast("latest_best_arm"),
        annotate=_annotating("latest_best_arm", "best_arm"),
        display=lambda voter: (
            best_message_label(voter.latest_best_arm) if voter.latest_best_arm else DASH
        ),
    )
)
