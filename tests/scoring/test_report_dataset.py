"""The experiment report reads two columns instead of the whole feature matrix: the same voters,
arms, outcomes, clusters, ages and generals voted, in the same order, so the same figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from scoring.features import SPEC
from scoring.services.training import _program_dataset, _report_dataset
from voters.models import Assignment, Program, ProgramArm, Voter

pytestmark = pytest.mark.django_db


def assert_same_inputs(campaign, program, election) -> None:
    full = _program_dataset(campaign, program, election, None)
    slim = _report_dataset(campaign, program, election, None)

    column = {name: i for i, name in enumerate(SPEC.names)}
    assert slim.arm_names == full.arm_names
    np.testing.assert_array_equal(slim.arm, full.arm)
    np.testing.assert_array_equal(slim.outcome, full.outcome)
    np.testing.assert_array_equal(slim.clusters, full.clusters)
    np.testing.assert_array_equal(slim.age, full.features[:, column["age"]])
    np.testing.assert_array_equal(slim.general_voted, full.features[:, column["general_voted"]])
    assert slim.counts() == full.counts()


def test_report_reads_the_same_voters_and_values_as_the_feature_matrix(campaign, generated_county):
    assert_same_inputs(campaign, generated_county["program"], generated_county["election"])


def test_report_inputs_stay_the_same_with_late_registrations_and_unknown_ages(
    campaign, generated_county
):
    program = generated_county["program"]
    assigned = Assignment.objects.filter(program=program).order_by("pk")
    start = assigned.order_by("assigned_at")[0].assigned_at.date()
    Voter.objects.filter(pk__in=[a.voter_id for a in assigned[:7]]).update(
        registered_on=start + dt.timedelta(days=1)
    )
    Voter.objects.filter(pk__in=assigned.values("voter_id")[100:140]).update(
        birth_date=None, birth_year=None
    )
    Voter.objects.filter(pk__in=assigned.values("voter_id")[200:230]).update(birth_date=None)
    Voter.objects.filter(pk__in=assigned.values("voter_id")[300:320]).update(household=None)
    # Born on the program's first day, and the day after: the birthday's side of as_of matters.
    Voter.objects.filter(pk=assigned[400].voter_id).update(
        birth_date=start.replace(year=start.year - 30)
    )
    Voter.objects.filter(pk=assigned[401].voter_id).update(
        birth_date=start.replace(year=start.year - 30) + dt.timedelta(days=1)
    )

    assert_same_inputs(campaign, program, generated_county["election"])


def test_report_inputs_stay_the_same_when_units_were_randomized(campaign, generated_county):
    past = generated_county["program"]
    program = Program.objects.create(campaign=campaign, name="by door")
    arms = {
        arm.name: ProgramArm.objects.create(
            program=program, name=arm.name, is_control=arm.is_control
        )
        for arm in past.arms.all()
    }
    Assignment.objects.bulk_create(
        Assignment(
            campaign=campaign,
            program=program,
            arm=arms[a.arm.name],
            voter_id=a.voter_id,
            assigned_at=a.assigned_at,
            unit=f"door-{i // 3}",
        )
        for i, a in enumerate(Assignment.objects.filter(program=past).select_related("arm"))
    )

    assert_same_inputs(campaign, program, generated_county["election"])
