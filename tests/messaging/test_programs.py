"""Programs (messaging.programs): create from a spec, preview, commit once, pause, cancel."""

from __future__ import annotations

import datetime as dt
import io
import math

import pytest
from django.db.models import Count
from django.utils import timezone

from campaign.models import AuditEvent
from messaging.models import ArmVariant, MessageVariant, ProgramDesign, ProgramStatus
from messaging.program_specs import SpecError, parse_spec, parse_spec_text
from messaging.programs import (
    ProgramStateError,
    cancel_program,
    commit_program,
    create_program,
    export_assignments,
    pause_program,
    preview_program,
    resume_program,
)
from messaging.services import revise_variant
from tests.factories import (
    AssignmentFactory,
    CampaignFactory,
    ConsentEventFactory,
    ContactAttemptFactory,
    HouseholdFactory,
    MessageVariantFactory,
    ModelVersionFactory,
    ScoringRunFactory,
    UserFactory,
    VoterFactory,
    VoterScoreFactory,
)
from voters.models import Assignment, Program, ProgramArm

pytestmark = pytest.mark.django_db


def spec(**overrides) -> dict:
    data = {
        "name": "Doors",
        "channel": "door",
        "arms": ["health", "economy"],
        "policy": "uniform",
        "control_share": 0.25,
        "seed": 7,
    }
    return {**data, **overrides}


@pytest.fixture
def variants(campaign):
    return [MessageVariantFactory(campaign=campaign, name=n) for n in ("health", "economy")]


@pytest.fixture
def county(campaign):
    """40 households of 1-3 voters in two precincts (79 voters)."""
    voters = []
    for h in range(40):
        household = HouseholdFactory(campaign=campaign)
        for _ in range(1 + h % 3):
            voters.append(
                VoterFactory(
                    campaign=campaign, household=household, precinct="P01" if h < 20 else "P02"
                )
            )
    return voters


def assignments(design: ProgramDesign) -> dict[int, tuple[str, float, str]]:
    rows = Assignment.objects.filter(program_id=design.program_id).values_list(
        "voter_id", "arm__name", "propensity", "unit"
    )
    return {v: (arm, p, unit) for v, arm, p, unit in rows}


# -- specs -----------------------------------------------------------------------------------


def test_a_yaml_spec_parses_into_a_program_spec():
    text = (
        "name: Doors\nchannel: door\narms: [health, economy]\npolicy: personalized\n"
        "control_share: 0.1\nexploration_share: 0.2\nbudget: 500\n"
        "universe:\n  precincts: [12, '13']\n  turnout: [0.3, 0.7]\n"
        "  uplift: {health: [0.01, 1]}\n"
    )
    parsed = parse_spec_text(text)

    assert (parsed.name, parsed.channel, parsed.policy) == ("Doors", "door", "personalized")
    assert parsed.arms == ("health", "economy")
    assert (parsed.control_share, parsed.exploration_share, parsed.budget) == (0.1, 0.2, 500)
    assert parsed.universe.precincts == ("12", "13")
    assert parsed.universe.turnout == (0.3, 0.7)
    assert parsed.universe.uplift == {"health": (0.01, 1.0)}
    assert parsed.universe.status == ("active",)
    assert parsed.seed is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"control_share": 1.5}, "control_share"),
        ({"control_share": True}, "control_share"),
        ({"policy": "greedy"}, "policy"),
        ({"arms": []}, "arms"),
        ({"arms": ["health", "control"]}, "arms"),
        ({"policy": "single"}, "arms"),
        ({"exploration_share": 0.1}, "exploration_share"),
        ({"budget": 0}, "budget"),
        ({"channel": "fax"}, "channel"),
        ({"colour": "red"}, "colour"),
        ({"universe": {"turnout": [0.8, 0.2]}}, "universe.turnout"),
        ({"universe": {"age": ["old", 30]}}, "universe.age"),
        ({"universe": {"uplift": {"other": [0, 1]}}}, "universe.uplift"),
        ({"universe": {"not_contacted_days": -1}}, "universe.not_contacted_days"),
        ({"universe": {"precint": ["1"]}}, "universe.precint"),
        ({"universe": {"precincts": ["1\x00"]}}, "universe.precincts"),
        ({"name": "Doors\x00"}, "name"),
    ],
)
def test_a_bad_spec_names_its_field(overrides, field):
    with pytest.raises(SpecError) as caught:
        parse_spec(spec(**overrides))
    assert caught.value.field == field


def test_broken_yaml_is_a_spec_error_not_a_crash():
    with pytest.raises(SpecError) as caught:
        parse_spec_text("name: [unclosed\n")
    assert caught.value.field == "spec"


# -- create ----------------------------------------------------------------------------------


def test_create_program_writes_a_draft_with_its_arms_and_pins(campaign, variants):
    design = create_program(campaign=campaign, spec=parse_spec(spec()))

    assert design.status == ProgramStatus.DRAFT
    assert (design.channel, design.policy, design.seed) == ("door", "uniform", 7)
    arms = list(ProgramArm.objects.filter(program=design.program).values_list("name", "is_control"))
    assert sorted(arms) == [("control", True), ("economy", False), ("health", False)]
    pins = ArmVariant.objects.filter(design=design).order_by("position")
    assert [(p.position, p.arm.name, p.variant_id) for p in pins] == [
        (1, "health", variants[0].pk),
        (2, "economy", variants[1].pk),
    ]
    assert design.universe == {"status": ["active"], "exclude_backlash": True,
                               "exclude_running_programs": True}  # fmt: skip


def test_create_program_refuses_a_variant_of_another_channel_or_campaign(
    campaign, other_campaign, variants
):
    MessageVariantFactory(campaign=campaign, name="text", sms=True)
    MessageVariantFactory(campaign=other_campaign, name="theirs")

    for arms in (["health", "text"], ["health", "theirs"]):
        with pytest.raises(SpecError) as caught:
            create_program(campaign=campaign, spec=parse_spec(spec(arms=arms)))
        assert caught.value.field == "arms"
    assert Program.objects.count() == 0
    assert ProgramDesign.objects.count() == 0


def test_create_program_refuses_a_taken_name(campaign, variants):
    create_program(campaign=campaign, spec=parse_spec(spec()))
    with pytest.raises(SpecError) as caught:
        create_program(campaign=campaign, spec=parse_spec(spec(seed=8)))
    assert caught.value.field == "name"
    assert ProgramDesign.objects.count() == 1


# -- preview and commit ----------------------------------------------------------------------


def test_preview_counts_the_universe_and_arms_without_writing(campaign, variants, county):
    design = create_program(campaign=campaign, spec=parse_spec(spec()))

    preview = preview_program(design=design)

    assert preview["universe"] == {
        "voters": 79, "households": 40, "phones": 79, "emails": 79, "units": 40,
    }  # fmt: skip
    arms = {a["arm"]: a for a in preview["arms"]}
    # Strata of 20 households at a quarter each: exactly 5 control households in each precinct.
    assert arms["control"]["units"] == 10
    assert arms["health"]["units"] + arms["economy"]["units"] == 30
    assert sum(a["voters"] for a in preview["arms"]) == 79
    assert preview["expected_net_votes"] is None
    assert Assignment.objects.count() == 0
    assert preview_program(design=design) == preview  # the same seed, the same draw


def test_commit_writes_one_assignment_per_voter_with_its_unit_and_propensity(
    campaign, variants, county, staff_user
):
    design = create_program(campaign=campaign, spec=parse_spec(spec()))
    preview = preview_program(design=design)

    committed = commit_program(design=design, by=staff_user)

    rows = assignments(design)
    assert len(rows) == 79
    assert committed.status == ProgramStatus.COMMITTED
    assert committed.summary == preview
    by_arm = {}
    for voter in county:
        arm, propensity, unit = rows[voter.pk]
        assert unit == f"household:{voter.household_id}"
        assert propensity == pytest.approx(0.25 if arm == "control" else 0.375)
        by_arm.setdefault(voter.household_id, set()).add(arm)
    # A household is one unit: its voters share one arm, so control households get nothing.
    assert all(len(arms) == 1 for arms in by_arm.values())
    stored = Assignment.objects.filter(program_id=design.program_id).first()
    assert stored.propensities == {"control": 0.25, "health": 0.375, "economy": 0.375}
    assert MessageVariant.objects.filter(pk__in=[v.pk for v in variants], used_at=None).count() == 0
    event = AuditEvent.objects.get(action="program_commit")
    assert (event.row_count, event.user_id, event.object_id) == (
        79, staff_user.pk, str(design.program_id),
    )  # fmt: skip


def test_a_second_commit_is_refused_and_changes_nothing(campaign, variants, county):
    design = create_program(campaign=campaign, spec=parse_spec(spec()))
    commit_program(design=design)
    before = assignments(design)

    with pytest.raises(ProgramStateError, match="committed once"):
        commit_program(design=design)

    assert assignments(design) == before
    assert AuditEvent.objects.filter(action="program_commit").count() == 1


def test_commit_pins_the_current_version_of_each_variant(campaign, variants, county):
    design = create_program(campaign=campaign, spec=parse_spec(spec()))
    used_elsewhere = variants[0]
    used_elsewhere.used_at = timezone.now()
    used_elsewhere.save()
    newer = revise_variant(variant=used_elsewhere, body="Hello {{ voter.first_name }}!")

    commit_program(design=design)

    pin = ArmVariant.objects.get(design=design, position=1)
    assert (pin.variant_id, pin.variant.version) == (newer.pk, 2)
    assert MessageVariant.objects.get(pk=newer.pk).used_at is not None


def test_the_universe_filters_on_voter_fields_consent_and_history(campaign, variants):
    kept = VoterFactory(campaign=campaign, precinct="P01", party="dem")
    VoterFactory(campaign=campaign, precinct="P02", party="dem")  # another precinct
    VoterFactory(campaign=campaign, precinct="P01", party="rep")  # another party
    VoterFactory(campaign=campaign, precinct="P01", party="dem", removed=True)
    recent = VoterFactory(campaign=campaign, precinct="P01", party="dem")
    ContactAttemptFactory(voter=recent, occurred_at=timezone.now() - dt.timedelta(days=2))
    opted_out = VoterFactory(campaign=campaign, precinct="P01", party="dem")
    ConsentEventFactory(campaign=campaign, channel="sms", address=opted_out.phone, voter=opted_out)
    busy = VoterFactory(campaign=campaign, precinct="P01", party="dem")
    running = create_program(
        campaign=campaign,
        spec=parse_spec(spec(name="Earlier", universe={"voter_ids": [busy.voter_id]})),
    )
    commit_program(design=running)
    VoterFactory(campaign=CampaignFactory(slug="x"), precinct="P01", party="dem")
    MessageVariantFactory(campaign=campaign, name="text", sms=True)
    universe = {"precincts": ["P01"], "party": ["dem"], "not_contacted_days": 14}

    design = create_program(
        campaign=campaign,
        spec=parse_spec(spec(channel="sms", arms=["text"], policy="single", universe=universe)),
    )
    commit_program(design=design)

    assert list(assignments(design)) == [kept.pk]
    assert assignments(design)[kept.pk][2] == kept.phone


def test_voters_sharing_a_phone_are_one_unit(campaign):
    MessageVariantFactory(campaign=campaign, name="text", sms=True)
    shared = [VoterFactory(campaign=campaign, phone="+19195550001") for _ in range(2)]
    alone = VoterFactory(campaign=campaign, phone="+19195550002")
    design = create_program(
        campaign=campaign,
        spec=parse_spec(spec(channel="sms", arms=["text"], policy="single", control_share=0.5)),
    )

    preview = preview_program(design=design)
    commit_program(design=design)

    assert preview["universe"]["units"] == 2
    assert preview["universe"]["phones"] == 2
    rows = assignments(design)
    assert rows[shared[0].pk][0] == rows[shared[1].pk][0]
    assert rows[shared[0].pk][2] == rows[shared[1].pk][2] == "+19195550001"
    assert rows[alone.pk][2] == "+19195550002"


# -- personalized, with scores ---------------------------------------------------------------


@pytest.fixture
def scored(campaign, variants):
    """Four single-voter households and a run whose persuasion model prefers `health`."""
    model = ModelVersionFactory(
        campaign=campaign,
        kind="persuasion",
        status="approved",
        metrics={
            "arms": {"health": {}, "economy": {}},
            "best_single_arm": "health",
            "margin": 0.01,
        },
    )
    run = ScoringRunFactory(campaign=campaign, persuasion_model=model)
    table = {
        "a": {"health": 0.02, "economy": 0.06},  # economy by 0.04: economy
        "b": {"health": 0.03, "economy": 0.035},  # within the margin: health
        "c": {"health": -0.02, "economy": -0.01},  # backlash: left out
        "d": {"health": 0.01, "economy": 0.0},  # health
    }
    voters = {}
    for name, uplift in table.items():
        voter = VoterFactory(campaign=campaign, household=HouseholdFactory(campaign=campaign))
        VoterScoreFactory(
            run=run,
            voter=voter,
            uplift=uplift,
            turnout=0.5,
            is_backlash=all(v < 0 for v in uplift.values()),
        )
        voters[name] = voter
    return voters


def test_a_personalized_commit_follows_the_model_and_records_propensities(campaign, scored):
    design = create_program(
        campaign=campaign,
        # Seed 1 draws no control among the three units, so each shows its policy arm.
        spec=parse_spec(spec(policy="personalized", control_share=0.01, seed=1)),
    )

    preview = preview_program(design=design)
    commit_program(design=design)

    rows = assignments(design)
    assert scored["c"].pk not in rows
    assert preview["left_out"]["backlash_voters"] == 1
    assert {name: rows[v.pk][0] for name, v in scored.items() if name != "c"} == {
        "a": "economy", "b": "health", "d": "health",
    }  # fmt: skip
    assert rows[scored["a"].pk][1] == pytest.approx(0.99)
    assert preview["expected_net_votes"] == pytest.approx(0.06 + 0.03 + 0.01)
    stored = Assignment.objects.get(program_id=design.program_id, voter=scored["a"])
    assert stored.propensities == pytest.approx({"control": 0.01, "health": 0.0, "economy": 0.99})
    design.refresh_from_db()
    assert design.scoring_run_id is not None
    assert design.persuasion_model.metrics["best_single_arm"] == "health"


def test_the_universe_filters_on_score_ranges(campaign, scored):
    design = create_program(
        campaign=campaign,
        spec=parse_spec(
            spec(policy="uniform", universe={"uplift": {"economy": [0.03, 1]}, "turnout": [0, 1]})
        ),
    )
    assert preview_program(design=design)["universe"]["voters"] == 2  # a and b


def test_a_personalized_program_needs_a_scoring_run(campaign, variants, county):
    design = create_program(
        campaign=campaign, spec=parse_spec(spec(policy="personalized", exploration_share=0.1))
    )
    with pytest.raises(SpecError, match="no complete scoring run"):
        preview_program(design=design)


# -- status ----------------------------------------------------------------------------------


def test_pause_resume_and_cancel_are_audited_and_cancel_is_final(campaign, variants, county):
    design = create_program(campaign=campaign, spec=parse_spec(spec()))
    with pytest.raises(ProgramStateError):
        pause_program(design=design)  # a draft has nothing to pause
    commit_program(design=design)

    assert pause_program(design=design).status == ProgramStatus.PAUSED
    assert not ProgramDesign.objects.running().filter(pk=design.pk).exists()
    assert resume_program(design=design).status == ProgramStatus.COMMITTED
    assert cancel_program(design=design).status == ProgramStatus.CANCELLED
    with pytest.raises(ProgramStateError):
        resume_program(design=design)

    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["program_commit", "program_pause", "program_resume", "program_cancel"]
    assert len(assignments(design)) == 79  # history stays


def test_export_writes_voter_household_arm_variant_and_propensity(campaign, variants, county):
    design = create_program(campaign=campaign, spec=parse_spec(spec()))
    commit_program(design=design)
    out = io.StringIO()

    count = export_assignments(design=design, out=out, by=UserFactory(username="exporter"))

    lines = out.getvalue().splitlines()
    assert lines[0] == "voter_id,household,arm,variant,propensity"
    assert count == len(lines) - 1 == 79
    first = min(county, key=lambda v: v.pk)
    arm, propensity, _ = assignments(design)[first.pk]
    variant = "" if arm == "control" else f"{arm} v1"
    assert lines[1] == f"{first.voter_id},{first.household_id},{arm},{variant},{propensity}"
    assert AuditEvent.objects.get(action="export").row_count == 79


def test_an_imported_program_keeps_no_propensity(campaign):
    assignment = AssignmentFactory(voter__campaign=campaign)
    assert (assignment.propensity, assignment.propensities, assignment.unit) == (None, None, None)


def test_an_uploaded_list_longer_than_a_query_may_hold_parameters_selects_its_voters(
    campaign, variants
):
    listed = VoterFactory(campaign=campaign)
    VoterFactory(campaign=campaign)
    ids = [f"X{n}" for n in range(70_000)] + [listed.voter_id]
    design = create_program(campaign=campaign, spec=parse_spec(spec(universe={"voter_ids": ids})))

    assert preview_program(design=design)["universe"]["voters"] == 1


def test_a_personalized_program_refuses_arms_the_model_does_not_know(campaign, scored):
    MessageVariantFactory(campaign=campaign, name="jobs")
    design = create_program(
        campaign=campaign,
        spec=parse_spec(spec(name="P", arms=["health", "jobs"], policy="personalized")),
    )

    with pytest.raises(SpecError) as caught:
        preview_program(design=design)
    assert caught.value.field == "arms"
    assert "predicts no uplift for jobs" in caught.value.message


def test_a_budget_commits_only_its_units_each_with_its_full_propensity_vector(
    campaign, variants, county
):
    design = create_program(campaign=campaign, spec=parse_spec(spec(budget=10, seed=5)))

    preview = preview_program(design=design)
    commit_program(design=design)

    treated = sum(a["units"] for a in preview["arms"] if a["arm"] != "control")
    # 10 / 0.75 -> 13 units; their control draw could leave 11 treated, so 12 are kept.
    assert sum(a["units"] for a in preview["arms"]) == 12
    assert preview["left_out"]["over_budget_units"] == 28
    # Each precinct's control count is floor or ceil of a quarter of its kept households, so
    # the treated count is the budget or up to one short per precinct (two precincts).
    kept = dict(
        Assignment.objects.filter(program_id=design.program_id)
        .values("voter__precinct")
        .annotate(units=Count("unit", distinct=True))
        .values_list("voter__precinct", "units")
    )
    control = dict(
        Assignment.objects.filter(program_id=design.program_id, arm__name="control")
        .values("voter__precinct")
        .annotate(units=Count("unit", distinct=True))
        .values_list("voter__precinct", "units")
    )
    assert sum(kept.values()) == 12
    for precinct, n in kept.items():
        assert control.get(precinct, 0) in (math.floor(0.25 * n), math.ceil(0.25 * n))
    assert treated == 12 - sum(control.values())
    assert 8 <= treated <= 10
    stored = list(
        Assignment.objects.filter(program_id=design.program_id).values_list(
            "propensity", "propensities"
        )
    )
    assert {vector["control"] for _, vector in stored} == {0.25}
    assert {tuple(sorted(vector.items())) for _, vector in stored} == {
        (("control", 0.25), ("economy", 0.375), ("health", 0.375))
    }


def test_an_empty_universe_is_refused_at_commit(campaign, variants, county):
    design = create_program(
        campaign=campaign, spec=parse_spec(spec(universe={"precincts": ["nowhere"]}))
    )

    preview = preview_program(design=design)
    with pytest.raises(SpecError, match="nothing to commit"):
        commit_program(design=design)

    assert preview["universe"]["voters"] == 0
    assert [a["units"] for a in preview["arms"]] == [0, 0, 0]
    design.refresh_from_db()
    assert design.status == ProgramStatus.DRAFT
    assert MessageVariant.objects.filter(used_at__isnull=False).count() == 0


def test_expected_net_votes_are_unknown_when_no_model_predicts_the_arms(campaign, variants, county):
    run = ScoringRunFactory(campaign=campaign)
    for voter in county[:5]:
        VoterScoreFactory(run=run, voter=voter, uplift={"door": 0.03})
    design = create_program(campaign=campaign, spec=parse_spec(spec(budget=20)))

    preview = preview_program(design=design)

    assert preview["expected_net_votes"] is None
    assert preview["scoring_run"] == run.pk
    assert preview["universe"]["voters"] == 79


def test_the_universe_filters_on_age_gender_and_districts(campaign, variants):
    year = timezone.localdate().year
    young = VoterFactory(campaign=campaign, birth_date=dt.date(year - 25, 6, 1), gender="male",
                         state_house_district="33")  # fmt: skip
    by_year = VoterFactory(campaign=campaign, birth_date=None, birth_year=year - 30, gender="male",
                           state_house_district="33")  # fmt: skip
    too_old = dt.date(year - 50, 6, 1)
    VoterFactory(campaign=campaign, birth_date=too_old, gender="male",
                 state_house_district="33")  # fmt: skip
    VoterFactory(campaign=campaign, birth_date=dt.date(year - 25, 6, 1), gender="female",
                 state_house_district="33")  # fmt: skip
    VoterFactory(campaign=campaign, birth_date=dt.date(year - 25, 6, 1), gender="male",
                 state_house_district="34")  # fmt: skip
    universe = {"age": [18, 35], "gender": ["male"], "state_house_district": ["33"]}
    design = create_program(campaign=campaign, spec=parse_spec(spec(universe=universe)))

    commit_program(design=design)

    assert sorted(assignments(design)) == sorted([young.pk, by_year.pk])
