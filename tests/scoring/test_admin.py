"""The scoring admin: model versions (metrics, plots, approval), scoring runs, experiment report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaign.models import AuditAction, AuditEvent, Role
from scoring.models import ModelStatus, ModelVersion, ScoringRun
from scoring.services import experiment_report
from tests.factories import (
    AssignmentFactory,
    ElectionFactory,
    HouseholdFactory,
    MembershipFactory,
    ModelVersionFactory,
    ProgramArmFactory,
    ProgramFactory,
    ScoringChunkFactory,
    ScoringRunFactory,
    UserFactory,
    VoteRecordFactory,
    VoterFactory,
    VoterScoreFactory,
)

pytestmark = pytest.mark.django_db

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def change_url(version: ModelVersion) -> str:
    return reverse("admin:scoring_modelversion_change", args=[version.pk])


def approve_url(version: ModelVersion) -> str:
    return reverse("admin:scoring_modelversion_approve", args=[version.pk])


def reliability_url(version: ModelVersion) -> str:
    return reverse("admin:scoring_modelversion_reliability", args=[version.pk])


EXPERIMENT_URL = "/admin/scoring/modelversion/experiment/"
CHART_URL = "/admin/scoring/modelversion/experiment/chart.png"


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _statuses(*versions: ModelVersion) -> list[str]:
    return [ModelVersion.objects.get(pk=v.pk).status for v in versions]


# -- model version pages ---------------------------------------------------------------------


def test_model_version_changelist_queries_do_not_grow_with_rows(staff_client, campaign):
    url = reverse("admin:scoring_modelversion_changelist")
    election = ElectionFactory(campaign=campaign)
    ModelVersionFactory.create_batch(4, campaign=campaign, election=election)
    ModelVersionFactory(campaign=campaign, election=election, persuasion=True)
    five = _queries(staff_client, url)

    ModelVersionFactory.create_batch(40, campaign=campaign, election=election)
    ModelVersionFactory.create_batch(5, campaign=campaign, election=election, persuasion=True)
    response = staff_client.get(url)

    assert _queries(staff_client, url) == five
    assert len(response.context["cl"].result_list) == 50
    assert "AUC 0.712" in response.text
    assert "personalized DR 0.4520 (+0.0120 [+0.0020, +0.0220] vs everyone: door)" in response.text


def test_changelist_lists_only_own_campaign_versions(staff_client, campaign, other_campaign):
    own = ModelVersionFactory(campaign=campaign)
    ModelVersionFactory(campaign=other_campaign)

    response = staff_client.get(reverse("admin:scoring_modelversion_changelist"))

    assert [v.pk for v in response.context["cl"].result_list] == [own.pk]


def test_change_page_shows_metrics_card_plot_sizes_beside_the_approved_version(
    staff_client, campaign
):
    approved = ModelVersionFactory(campaign=campaign, approved=True)
    draft = ModelVersionFactory(campaign=campaign)
    draft.metrics = {**draft.metrics, "auc": 0.734}
    draft.save(update_fields=["metrics"])

    response = staff_client.get(change_url(draft))

    assert response.status_code == 200
    text = response.text
    assert f"this version (v{draft.pk})" in text
    assert f"approved now (v{approved.pk})" in text
    assert "<td>held-out AUC</td><td>0.734</td><td>0.712</td>" in text
    assert f'src="{reliability_url(draft)}"' in text
    assert "<td>4</td><td>100</td><td>0.7090</td><td>chosen</td>" in text
    assert "<h3>Turnout model</h3>" in text
    assert "<strong>Predicts</strong>" in text
    assert "Approve this version" in text
    assert approve_url(draft) in text


def test_persuasion_change_page_shows_policy_values_with_cis_and_arm_uplifts(
    staff_client, campaign
):
    version = ModelVersionFactory(campaign=campaign, persuasion=True)

    text = staff_client.get(change_url(version)).text

    assert "<td>personalized</td><td>0.4520</td><td>[0.4320, 0.4720]</td>" in text
    assert "<td>0.4530</td><td>[0.4220, 0.4820]</td>" in text  # its IPS value and CI
    assert "<td>door</td><td>+3.1 pp</td><td>0.0123</td><td>+8.0 pp</td>" in text
    assert "Experiment report of this program" in text
    # The uplift models' size chosen by validation, beside the size it beat.
    assert "<td>1</td><td>100</td><td>1.25040</td><td>0.00310</td><td>0.00090</td><td></td>" in text
    assert (
        "<td>2</td><td>120</td><td>1.24730</td><td>0.00000</td><td>0.00000</td><td>chosen</td>"
        in text
    )


def test_model_card_text_is_escaped(staff_client, campaign):
    version = ModelVersionFactory(campaign=campaign, model_card="## <script>x</script>\n- **a<b**")

    text = staff_client.get(change_url(version)).text

    assert "<script>x</script>" not in text
    assert "<h3>&lt;script&gt;x&lt;/script&gt;</h3>" in text
    assert "<li><strong>a&lt;b</strong></li>" in text


def test_another_campaigns_version_is_404_on_every_page(staff_client, other_campaign):
    foreign = ModelVersionFactory(campaign=other_campaign)

    assert staff_client.get(change_url(foreign)).status_code == 404
    assert staff_client.get(reliability_url(foreign)).status_code == 404
    assert staff_client.post(approve_url(foreign)).status_code == 404
    assert _statuses(foreign) == [ModelStatus.DRAFT]
    assert AuditEvent.objects.count() == 0


def test_reliability_plot_is_a_png(staff_client, campaign):
    ModelVersionFactory(campaign=campaign, approved=True)
    version = ModelVersionFactory(campaign=campaign)

    response = staff_client.get(reliability_url(version))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(PNG_MAGIC)
    assert len(response.content) > 5_000


def test_reliability_plot_of_a_version_without_bins_is_404(staff_client, campaign):
    version = ModelVersionFactory(campaign=campaign, persuasion=True)

    assert staff_client.get(reliability_url(version)).status_code == 404


# -- approval ----------------------------------------------------------------------------------


def test_staff_approves_with_the_button_retiring_the_old_one_and_one_audit_event(
    staff_client, staff_user, campaign
):
    old = ModelVersionFactory(campaign=campaign, approved=True)
    draft = ModelVersionFactory(campaign=campaign)

    response = staff_client.post(approve_url(draft), REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 302
    assert response["Location"] == change_url(draft)
    assert _statuses(old, draft) == [ModelStatus.RETIRED, ModelStatus.APPROVED]
    assert ModelVersion.objects.get(pk=draft.pk).approved_by == staff_user
    event = AuditEvent.objects.get()
    assert (event.action, event.campaign_id, event.user_id) == (
        AuditAction.MODEL_APPROVE,
        campaign.pk,
        staff_user.pk,
    )
    assert (event.object_type, event.object_id, event.client_ip) == (
        "scoring.modelversion",
        str(draft.pk),
        "203.0.113.9",
    )


def test_viewer_cannot_approve_and_sees_no_button(client, make_member, campaign):
    draft = ModelVersionFactory(campaign=campaign)
    client.force_login(make_member(campaign, Role.VIEWER))

    page = client.get(change_url(draft))
    response = client.post(approve_url(draft))
    action = client.post(
        reverse("admin:scoring_modelversion_changelist"),
        {"action": "approve_selected", "_selected_action": [draft.pk]},
    )

    assert page.status_code == 200
    assert "Approve this version" not in page.text
    assert response.status_code == 403
    assert action.status_code == 200  # the list again: the action is not offered to viewers
    assert _statuses(draft) == [ModelStatus.DRAFT]
    assert AuditEvent.objects.count() == 0


def test_approve_needs_a_post(staff_client, campaign):
    draft = ModelVersionFactory(campaign=campaign)

    assert staff_client.get(approve_url(draft)).status_code == 405
    assert _statuses(draft) == [ModelStatus.DRAFT]


def test_approving_an_approved_version_changes_nothing(staff_client, campaign):
    approved = ModelVersionFactory(campaign=campaign, approved=True)

    response = staff_client.post(approve_url(approved), follow=True)

    assert "not a draft" in response.text
    assert _statuses(approved) == [ModelStatus.APPROVED]
    assert AuditEvent.objects.count() == 0


def test_the_action_approves_the_selected_draft(staff_client, campaign):
    draft = ModelVersionFactory(campaign=campaign)

    staff_client.post(
        reverse("admin:scoring_modelversion_changelist"),
        {"action": "approve_selected", "_selected_action": [draft.pk]},
    )

    assert _statuses(draft) == [ModelStatus.APPROVED]
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_APPROVE).count() == 1


def test_the_action_refuses_two_drafts_of_one_kind(staff_client, campaign):
    first, second = ModelVersionFactory.create_batch(2, campaign=campaign)

    response = staff_client.post(
        reverse("admin:scoring_modelversion_changelist"),
        {"action": "approve_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert "Select one draft per kind" in response.text
    assert _statuses(first, second) == [ModelStatus.DRAFT, ModelStatus.DRAFT]
    assert AuditEvent.objects.count() == 0


# -- scoring runs ------------------------------------------------------------------------------


def test_scoring_run_changelist_queries_do_not_grow_with_rows(staff_client, campaign):
    url = reverse("admin:scoring_scoringrun_changelist")
    for run in ScoringRunFactory.create_batch(5, campaign=campaign):
        ScoringChunkFactory.create_batch(2, run=run)
    five = _queries(staff_client, url)

    for run in ScoringRunFactory.create_batch(45, campaign=campaign):
        ScoringChunkFactory(run=run)

    assert _queries(staff_client, url) == five


def test_scoring_run_page_shows_progress_speed_and_eta(staff_client, campaign):
    started = dt.datetime.now(tz=dt.UTC) - dt.timedelta(seconds=10)
    run = ScoringRunFactory(
        campaign=campaign,
        status="running",
        started_at=started,
        finished_at=None,
        chunks_total=4,
        voters_total=200,
    )
    ScoringChunkFactory(run=run, done_at=started)
    ScoringChunkFactory(run=run, done_at=None)  # claimed, not finished: not counted

    response = staff_client.get(reverse("admin:scoring_scoringrun_change", args=[run.pk]))

    text = response.text
    assert "1 / 4 (25%)" in text
    assert "50 of 200" in text
    assert "about " in text  # 150 voters left at about 5 voters/s
    assert '<meta http-equiv="refresh" content="5">' in text


def test_complete_run_shows_rate_over_its_duration(staff_client, campaign):
    run = ScoringRunFactory(campaign=campaign)  # 20 seconds, 100 voters
    ScoringChunkFactory.create_batch(2, run=run)

    response = staff_client.get(reverse("admin:scoring_scoringrun_changelist"))

    row = response.context["cl"].result_list[0]
    admin_ = response.context["cl"].model_admin
    assert (admin_.progress(row), admin_.voters_scored(row)) == ("2 / 2 (100%)", "100 of 100")
    assert (admin_.speed(row), admin_.eta(row)) == ("5", "done")


def test_another_campaigns_run_is_404(staff_client, other_campaign):
    run = ScoringRunFactory(campaign=other_campaign)

    url = reverse("admin:scoring_scoringrun_change", args=[run.pk])
    assert staff_client.get(url).status_code == 404


# -- experiment report -------------------------------------------------------------------------

# Six households of two voters; three households per arm. Voted: control 2 of 6, door 4 of 6.
# Everyone is 54 with no past general on record, so each band holds the whole experiment.
VOTED = {
    "control": [True, False, False, True, False, False],
    "door": [True, True, False, True, True, False],
}


@pytest.fixture
def tiny_program(campaign):
    election = ElectionFactory(campaign=campaign, election_on=dt.date(2024, 11, 5))
    program = ProgramFactory(campaign=campaign, name="doors-2024")
    arms = {
        "control": ProgramArmFactory(program=program, control=True),
        "door": ProgramArmFactory(program=program, name="door"),
    }
    assigned = dt.datetime(2024, 10, 1, 12, tzinfo=dt.UTC)
    for name, voted in VOTED.items():
        for pair in range(3):
            household = HouseholdFactory(campaign=campaign)
            for did_vote in voted[2 * pair : 2 * pair + 2]:
                voter = VoterFactory(
                    campaign=campaign, household=household, birth_date=dt.date(1970, 3, 1)
                )
                AssignmentFactory(
                    voter=voter, program=program, arm=arms[name], assigned_at=assigned
                )
                if did_vote:
                    VoteRecordFactory(voter=voter, election=election)
    return {"program": program, "election": election}


@pytest.mark.parametrize(
    ("assigned_on", "late"),
    [
        # Election morning is not late: a door knocked that day can move that day's vote.
        ((dt.date(2024, 10, 1), dt.date(2024, 11, 5), dt.date(2024, 11, 5)), 0),
        ((dt.date(2024, 10, 1), dt.date(2024, 11, 6), dt.date(2025, 1, 2)), 2),
    ],
)
def test_an_election_before_the_programs_assignments_is_refused_as_its_outcome(
    staff_client, campaign, assigned_on, late
):
    election = ElectionFactory(campaign=campaign, election_on=dt.date(2024, 11, 5))
    program = ProgramFactory(campaign=campaign, name="doors-2024")
    control = ProgramArmFactory(program=program, control=True)
    for day in assigned_on:
        AssignmentFactory(
            voter=VoterFactory(campaign=campaign), program=program, arm=control,
            assigned_at=dt.datetime.combine(day, dt.time(13), tzinfo=dt.UTC),
        )  # fmt: skip

    response = staff_client.get(EXPERIMENT_URL, {"program": program.pk, "election": election.pk})

    assert response.status_code == 200
    refusal = (
        f"{late} of the 3 assignments of program &#x27;doors-2024&#x27; were made after the "
        f"{election}: an election cannot be the outcome of a program that came after it"
    )
    assert (refusal in response.text) == bool(late)
    if late:
        assert response.context["report"] is None


def test_experiment_page_shows_the_reports_numbers(staff_client, campaign, tiny_program):
    program, election = tiny_program["program"], tiny_program["election"]
    expected = experiment_report(campaign=campaign, program=program, election=election)

    response = staff_client.get(EXPERIMENT_URL, {"program": program.pk, "election": election.pk})

    assert response.status_code == 200
    assert response.context["report"] == expected
    control, door = expected["arms"]
    assert (control["n"], control["rate"], door["n"], door["rate"]) == (6, 2 / 6, 6, 4 / 6)
    assert door["lift"] == pytest.approx(1 / 3)
    assert (expected["n"], expected["households"]) == (12, 6)
    text = response.text
    assert "<td>control (no message)</td><td>6</td><td>33.3%</td><td>(baseline)</td>" in text
    ci = f"[{100 * door['ci_low']:+.1f}, {100 * door['ci_high']:+.1f}]"
    assert f"<td>Door</td><td>6</td><td>66.7%</td><td>+33.3 pp</td><td>{ci}</td>" in text
    assert f"<td>{door['p_value']:.3f}</td>" in text
    assert 'src="data:image/png;base64,' in text
    assert list(expected["by_band"]) == ["turnout", "age"]
    assert expected["by_band"]["age"]["45-64"] == [
        {k: a[k] for k in ("arm", "n", "rate", "lift", "ci_low", "ci_high")}
        for a in expected["arms"]
    ]
    assert "<h2>By turnout band</h2>" in text
    assert "<h3>45-64</h3>" in text


def test_experiment_chart_is_a_png(staff_client, tiny_program):
    query = {"program": tiny_program["program"].pk, "election": tiny_program["election"].pk}

    response = staff_client.get(CHART_URL, query)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(PNG_MAGIC)
    assert len(response.content) > 5_000


def test_experiment_form_lists_only_own_programs(staff_client, campaign, other_campaign):
    own = ProgramFactory(campaign=campaign, name="own-program")
    ProgramFactory(campaign=other_campaign, name="rival-program")

    response = staff_client.get(EXPERIMENT_URL)

    assert response.status_code == 200
    assert response.context["choices"]["program"] == [(own.pk, "own-program")]
    assert "rival-program" not in response.text


def test_another_campaigns_program_or_election_is_404(
    staff_client, campaign, other_campaign, tiny_program
):
    foreign_program = ProgramFactory(campaign=other_campaign)
    foreign_election = ElectionFactory(campaign=other_campaign)
    own = tiny_program

    for url in (EXPERIMENT_URL, CHART_URL):
        for query in (
            {"program": foreign_program.pk, "election": foreign_election.pk},
            {"program": own["program"].pk, "election": foreign_election.pk},
            {"program": "not-a-number"},
        ):
            assert staff_client.get(url, query).status_code == 404, (url, query)


def test_experiment_page_is_closed_to_organizers(client, make_member, campaign, tiny_program):
    client.force_login(make_member(campaign, Role.ORGANIZER))
    query = {"program": tiny_program["program"].pk, "election": tiny_program["election"].pk}

    assert client.get(EXPERIMENT_URL, query).status_code == 403
    assert client.get(CHART_URL, query).status_code == 403


def test_experiment_page_asks_for_exactly_one_outcome(staff_client, tiny_program):
    response = staff_client.get(EXPERIMENT_URL, {"program": tiny_program["program"].pk})

    assert response.context["report"] is None
    assert "Choose one outcome" in response.text


def test_staff_start_a_scoring_run_from_the_admin(
    staff_client, campaign, other_campaign, staff_user, django_capture_on_commit_callbacks
):
    VoterFactory.create_batch(3, campaign=campaign)
    url = reverse("admin:scoring_scoringrun_start")
    assert staff_client.get(url).status_code == 200
    # No approved model yet: refused with the reason, nothing started.
    refused = staff_client.post(url, {"campaign": campaign.pk}, follow=True)
    assert "no approved turnout model" in refused.content.decode().lower()
    assert ScoringRun.objects.count() == 0
    # Another campaign's id is a 404.
    assert staff_client.post(url, {"campaign": other_campaign.pk}).status_code == 404
    ModelVersionFactory(campaign=campaign, approved=True)

    with django_capture_on_commit_callbacks(execute=False):
        response = staff_client.post(url, {"campaign": campaign.pk})

    run = ScoringRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:scoring_scoringrun_change", args=[run.pk])
    assert (run.campaign, run.created_by, run.voters_total) == (campaign, staff_user, 3)


def test_viewers_cannot_start_a_scoring_run(client, campaign):
    viewer = UserFactory(username="reader", is_staff=True)
    MembershipFactory(user=viewer, campaign=campaign, role="viewer")
    client.force_login(viewer)

    assert client.get(reverse("admin:scoring_scoringrun_start")).status_code == 403
    assert ScoringRun.objects.count() == 0


def test_voter_page_shows_the_latest_complete_runs_scores_and_reasons(staff_client, campaign):
    voter = VoterFactory(campaign=campaign)
    older = ScoringRunFactory(campaign=campaign, status="complete")
    older.finished_at = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    older.save()
    latest = ScoringRunFactory(campaign=campaign, status="complete")
    latest.finished_at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    latest.save()
    failed = ScoringRunFactory(campaign=campaign, status="failed")
    reasons = {
        "turnout": [["voted in 1 of the last 4 primaries", -0.12]],
        "uplift door": [["age 23", 0.031]],
    }
    VoterScoreFactory(run=older, voter=voter, turnout=0.1)
    VoterScoreFactory(
        run=latest, voter=voter, turnout=0.625, support=None,
        uplift={"door": 0.031, "mail": -0.004}, best_arm="door", reasons=reasons,
    )  # fmt: skip
    VoterScoreFactory(run=failed, voter=voter, turnout=0.9)
    url = reverse("admin:voters_voter_change", args=[voter.pk])

    text = staff_client.get(url).text

    assert f"run {latest.pk}, features as of" in text
    assert "<td>turnout</td><td>62.5%</td>" in text
    assert "<td>support</td><td>—</td>" in text
    assert "<td>best message</td><td>Door</td>" in text
    assert "<td>why</td><td>—</td>" in text  # the factory's run has no persuasion model
    assert "<td>uplift of Door</td><td>+3.1 pp</td>" in text
    assert "<td>uplift of Mail</td><td>-0.4 pp</td>" in text
    # The chosen message's reasons first, then turnout's.
    door = text.index("<td>uplift of Door</td><td>age 23</td><td>+3.1 pp</td>")
    primaries = text.index(
        "<td>turnout</td><td>voted in 1 of the last 4 primaries</td><td>-12.0 pp</td>"
    )
    assert door < primaries
    assert "90.0%" not in text  # the failed run's score is not shown
    assert "10.0%" not in text  # nor the older run's


def _voter_page_with_uplifts(client, campaign, *, margin: float, **score) -> str:
    """The voter page of a voter scored by an approved persuasion model with `margin`."""
    voter = VoterFactory(campaign=campaign)
    persuasion = ModelVersionFactory(
        campaign=campaign, persuasion=True, approved=True,
        metrics={"best_single_arm": "plan_making", "margin": margin},
    )  # fmt: skip
    run = ScoringRunFactory(campaign=campaign, status="complete", persuasion_model=persuasion)
    VoterScoreFactory(run=run, voter=voter, **score)
    return client.get(reverse("admin:voters_voter_change", args=[voter.pk])).text


def test_voter_page_says_leave_alone_for_a_voter_every_message_would_hurt(staff_client, campaign):
    text = _voter_page_with_uplifts(
        staff_client, campaign, margin=0.01,
        uplift={"plan_making": -0.02, "mail": -0.03}, best_arm="control", is_backlash=True,
    )  # fmt: skip

    assert "<td>best message</td><td>leave alone (no message)</td>" in text
    assert (
        "<td>why</td><td>leave alone: every message is predicted to backfire, Plan making by "
        "more than the safety margin (1.0 pp)</td>"
    ) in text
    assert "plan_making" not in text  # arms by their label, never their code
    assert "in percentage points (pp): of calibrated probability" in text


def test_voter_page_says_why_the_safe_policy_kept_the_best_single_message(staff_client, campaign):
    text = _voter_page_with_uplifts(
        staff_client, campaign, margin=0.02,
        uplift={"plan_making": 0.01, "mail": 0.025}, best_arm="plan_making",
    )  # fmt: skip

    assert "<td>best message</td><td>Plan making</td>" in text
    assert (
        "<td>why</td><td>Plan making, the best single message: no other choice beats it by more "
        "than the safety margin (2.0 pp)</td>"
    ) in text
    assert "<td>uplift of Plan making</td><td>+1.0 pp</td>" in text


def test_voter_page_says_when_a_voter_was_never_scored(staff_client, campaign):
    voter = VoterFactory(campaign=campaign)

    text = staff_client.get(reverse("admin:voters_voter_change", args=[voter.pk])).text

    assert "Not scored yet: no complete scoring run includes them." in text


def test_scoring_run_list_shows_speed_and_error_before_dates(staff_client, campaign):
    run = ScoringRunFactory(
        campaign=campaign, status="failed", voters_total=2500000, error="worker lost"
    )
    ScoringChunkFactory(run=run, first_pk=1, last_pk=1234567, voters=1234567)

    response = staff_client.get(reverse("admin:scoring_scoringrun_changelist"))

    admin_ = response.context["cl"].model_admin
    assert admin_.get_list_display(response.wsgi_request) == (
        "run", "status", "voters_scored", "speed", "eta", "short_error", "created",
        "campaign_name",
    )  # fmt: skip
    html = response.text
    assert '<td class="field-voters_scored">1,234,567 of 2,500,000</td>' in html
    assert '<td class="field-speed">61,728</td>' in html  # 1,234,567 voters in 20 s
    assert '<td class="field-short_error">worker lost</td>' in html


def test_persuasion_model_page_speaks_to_staff_first_and_folds_the_estimators_terms(
    staff_client, campaign
):
    version = ModelVersionFactory(campaign=campaign, persuasion=True, approved=True)
    url = reverse("admin:scoring_modelversion_change", args=[version.pk])

    text = staff_client.get(url).text
    staff = text.index("Which message works, for whom, how sure")
    details = text.index("For analysts: the estimator&#x27;s figures")

    assert staff < details
    assert (
        f"<p>Best single message: Door. Given to every voter of the program, it moves voting in "
        f"{version.election} by +3.0 pp on average compared with no message (44.0% against "
        "41.0%).</p>"
    ) in text
    assert (
        "with Door the true rate is very likely (95%) between 42.0% and 46.0%; with no message "
        "between 39.0% and 43.0%. The two ranges overlap"
    ) in text
    assert "Who gets what: 20.0% of voters get another message" in text
    assert (
        "<tr><td>Door</td><td>44.0%</td><td>42.0% to 46.0%</td><td>+3.0 pp</td></tr>"
    ) in text.replace("\n", "")
    # The estimator's vocabulary only inside the collapsed section, after the staff's.
    for term in ("IPS VALUE", "Qini", "cross-fitted DR loss"):
        assert term.lower() not in text[staff:details].lower()
    assert "Qini" in text[details:]
    assert "<details" in text[details - 400 : details]  # folded away (Django's collapse)
