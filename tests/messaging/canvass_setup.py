"""Door programs and counties for the turf and walk-list tests (built through the services)."""

from __future__ import annotations

from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program
from tests.factories import (
    HouseholdFactory,
    MessageVariantFactory,
    ModelVersionFactory,
    ScoringRunFactory,
    VoterFactory,
    VoterScoreFactory,
)
from voters.models import Assignment

UPLIFT = {"health": 0.01, "economy": 0.03}


def make_county(campaign, *, located: int = 90, street: int = 30, scored: bool = True):
    """`located` households on a 10-wide grid in P01 (about 80 m apart) and `street` households
    without coordinates on two streets of P02; household h has 1 + h % 3 voters."""
    run = None
    if scored:
        model = ModelVersionFactory(
            campaign=campaign,
            kind="persuasion",
            status="approved",
            metrics={"arms": {"health": {}, "economy": {}}, "best_single_arm": "health"},
        )
        run = ScoringRunFactory(campaign=campaign, persuasion_model=model)
    for h in range(located + street):
        if h < located:
            street_name, number = f"STREET {h // 10}", 1 + h % 10
            latitude, longitude = 36.0 + (h // 10) * 0.0007, -78.9 + (h % 10) * 0.0009
            precinct = "P01"
        else:
            street_name, number = ("OAK ST" if h % 2 else "ELM ST"), h
            latitude = longitude = None
            precinct = "P02"
        household = HouseholdFactory(
            campaign=campaign,
            address_key=f"{number}|{street_name}||27701",
            address=f"{number} {street_name}",
            latitude=latitude,
            longitude=longitude,
        )
        for _ in range(1 + h % 3):
            voter = VoterFactory(campaign=campaign, household=household, precinct=precinct)
            if run is not None:
                VoterScoreFactory(run=run, voter=voter, uplift=dict(UPLIFT))


def door_program(campaign, *, name="Doors", channel="door", commit=True, arms=("health",)):
    for arm in arms:
        if not campaign.message_variants.filter(name=arm).exists():
            MessageVariantFactory(campaign=campaign, name=arm, channel=channel)
    spec = {"name": name, "channel": channel, "arms": list(arms), "control_share": 0.25,
            "policy": "single" if len(arms) == 1 else "uniform", "seed": 11}  # fmt: skip
    design = create_program(campaign=campaign, spec=parse_spec(spec))
    return commit_program(design=design) if commit else design


def treated_households(design) -> set[int]:
    return set(
        Assignment.objects.filter(program_id=design.program_id, arm__is_control=False).values_list(
            "voter__household_id", flat=True
        )
    )


def control_households(design) -> set[int]:
    return set(
        Assignment.objects.filter(program_id=design.program_id, arm__is_control=True).values_list(
            "voter__household_id", flat=True
        )
    )
