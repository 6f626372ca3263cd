"""The voter list's score columns and filters (registered by scoring's admin): the latest complete
run of the voter's campaign, in bands, by best message, sortable, and never another campaign's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import (
    ModelVersionFactory,
    ProgramArmFactory,
    ScoringRunFactory,
    VoterFactory,
    VoterScoreFactory,
)

pytestmark = pytest.mark.django_db

VOTERS = reverse("admin:voters_voter_changelist")


def shown(response) -> list[int]:
    assert response.status_code == 200
    return [obj.pk for obj in response.context["cl"].result_list]


def filter_choices(response, parameter: str) -> list[tuple[str, str]]:
    spec = next(
        f
        for f in response.context["cl"].filter_specs
        if getattr(f, "parameter_name", None) == parameter
    )
    return list(spec.lookup_choices)


def _run(campaign, finished: dt.datetime, **kwargs):
    run = ScoringRunFactory(campaign=campaign, **kwargs)
    run.finished_at = finished
    run.save()
    return run


@pytest.fixture
def scored(campaign, other_campaign):
    """Voters of `campaign` scored in an older and the latest complete run (and a failed run
    after both), an unscored voter, and a rival campaign's voter scored in its own run."""
    program_model = ModelVersionFactory(campaign=campaign, persuasion=True, approved=True)
    for name, is_control in (("control", True), ("civic_duty", False), ("plan_making", False)):
        ProgramArmFactory(program=program_model.program, name=name, is_control=is_control)
    older = _run(campaign, dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    latest = _run(campaign, dt.datetime(2026, 11, 1, tzinfo=dt.UTC), persuasion_model=program_model)
    failed = _run(campaign, dt.datetime(2026, 11, 2, tzinfo=dt.UTC), status="failed")
    voters = {
        "low": VoterFactory(campaign=campaign),
        "edge": VoterFactory(campaign=campaign),
        "mid": VoterFactory(campaign=campaign),
        "top": VoterFactory(campaign=campaign),
        "unscored": VoterFactory(campaign=campaign),
    }
    latest_scores = {
        "low": (0.05, 0.90, "control"),
        "edge": (0.20, 0.10, "civic_duty"),  # 20% is the low band's floor, not very low's top
        "mid": (0.55, 0.45, "plan_making"),
        "top": (1.00, 0.80, "civic_duty"),
    }
    for key, (turnout, support, arm) in latest_scores.items():
        VoterScoreFactory(
            run=latest, voter=voters[key], turnout=turnout, support=support, best_arm=arm
        )
        # Older and failed runs disagree: only the latest complete run may count.
        VoterScoreFactory(run=older, voter=voters[key], turnout=0.99, support=0.99, best_arm="x")
        VoterScoreFactory(run=failed, voter=voters[key], turnout=0.01, support=0.01)
    rival_run = _run(other_campaign, dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    voters["rival"] = VoterFactory(campaign=other_campaign)
    VoterScoreFactory(
        run=rival_run, voter=voters["rival"], turnout=0.55, support=0.45, best_arm="civic_duty"
    )
    return {key: v.pk for key, v in voters.items()}


@pytest.mark.parametrize(
    ("parameter", "band", "expected"),
    [
        ("turnout_band", "0-20", ["low"]),
        ("turnout_band", "20-40", ["edge"]),
        ("turnout_band", "40-60", ["mid"]),
        ("turnout_band", "60-80", []),
        ("turnout_band", "80-100", ["top"]),  # 100% is in the top band
        ("turnout_band", "none", ["unscored"]),
        ("support_band", "0-20", ["edge"]),
        ("support_band", "40-60", ["mid"]),
        ("support_band", "80-100", ["low", "top"]),
        ("support_band", "nonsense", []),
    ],
)
def test_band_filter_returns_exactly_the_voters_in_the_band(
    staff_client, scored, parameter, band, expected
):
    response = staff_client.get(VOTERS, {parameter: band})

    assert sorted(shown(response)) == sorted(scored[key] for key in expected)


def test_band_filter_lists_bands_with_their_numbers(staff_client, scored):
    response = staff_client.get(VOTERS)

    assert filter_choices(response, "turnout_band") == [
        ("0-20", "very low (0-20%)"),
        ("20-40", "low (20-40%)"),
        ("40-60", "middle (40-60%)"),
        ("60-80", "high (60-80%)"),
        ("80-100", "very high (80-100%)"),
        ("none", "not scored"),
    ]


def test_best_message_filter_lists_the_models_arms_by_label_and_filters(staff_client, scored):
    listed = staff_client.get(VOTERS)
    civic = staff_client.get(VOTERS, {"best_message": "civic_duty"})
    alone = staff_client.get(VOTERS, {"best_message": "control"})

    assert filter_choices(listed, "best_message") == [
        ("control", "leave alone (no message)"),
        ("civic_duty", "Civic duty"),
        ("plan_making", "Plan making"),
    ]
    assert sorted(shown(civic)) == sorted([scored["edge"], scored["top"]])
    assert shown(alone) == [scored["low"]]
    # An arm the user's models never offered (the older run's "x") finds nobody.
    assert shown(staff_client.get(VOTERS, {"best_message": "x"})) == []


def test_score_columns_show_and_sort_by_the_latest_run(staff_client, scored):
    response = staff_client.get(VOTERS)
    columns = [h["text"] for h in response.context["result_headers"]]
    turnout_column = columns.index("turnout")

    by_turnout = staff_client.get(VOTERS, {"o": f"-{turnout_column}"})
    html = response.content.decode()

    assert columns[-3:] == ["turnout", "support", "best message"]
    by_turnout_up = staff_client.get(VOTERS, {"o": f"{turnout_column}"})
    assert shown(by_turnout)[:4] == [scored["top"], scored["mid"], scored["edge"], scored["low"]]
    # The unscored voter is last both ways, on either database.
    assert shown(by_turnout)[-1] == scored["unscored"]
    assert shown(by_turnout_up) == [
        scored["low"], scored["edge"], scored["mid"], scored["top"], scored["unscored"],
    ]  # fmt: skip
    assert '<td class="field-latest_turnout">55%</td>' in html
    assert '<td class="field-latest_best_message">Plan making</td>' in html
    assert '<td class="field-latest_turnout">99%</td>' not in html  # the older run's scores
    assert '<td class="field-latest_turnout">1%</td>' not in html  # the failed run's


def test_score_filters_never_show_another_campaigns_voters(staff_client, scored):
    for parameter, value in (
        ("turnout_band", "40-60"),
        ("support_band", "40-60"),
        ("best_message", "civic_duty"),
        ("turnout_band", "none"),
    ):
        assert scored["rival"] not in shown(staff_client.get(VOTERS, {parameter: value}))


def test_a_viewer_sees_scores_but_no_phones_in_the_list(client, campaign, make_member, scored):
    VoterFactory(campaign=campaign, phone="+19195550123")
    client.force_login(make_member(campaign, "viewer"))

    response = client.get(VOTERS)

    assert "+19195550123" not in response.content.decode()
    assert "turnout" in [h["text"] for h in response.context["result_headers"]]
