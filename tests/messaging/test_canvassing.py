"""Turfs of a door program (messaging.canvassing): cut, rank, re-cut, assign, progress."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaign.models import AuditEvent
from messaging.canvassing import (
    TurfError,
    assign_turfs,
    cut_program_turfs,
    recut_turf,
)
from messaging.field_progress import turf_progress
from messaging.models import ProgramStatus, Turf, TurfDoor
from messaging.programs import cancel_program
from tests.factories import ContactAttemptFactory, UserFactory, VoterFactory
from tests.messaging.canvass_setup import (
    UPLIFT,
    control_households,
    door_program,
    make_county,
    treated_households,
)
from voters.models import Assignment, ContactAttempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(campaign):
    make_county(campaign)
    return door_program(campaign, arms=("health", "economy"))


# -- cutting ------------------------------------------------------------------------------------


def test_every_treated_household_is_in_exactly_one_turf_and_no_control_household_is(program):
    turfs = cut_program_turfs(design=program, min_doors=10, max_doors=20)

    doors = list(TurfDoor.objects.filter(design=program).values_list("household_id", flat=True))
    assert len(doors) == len(set(doors))
    assert set(doors) == treated_households(program)
    assert not set(doors) & control_households(program)
    assert sum(t.doors for t in turfs) == len(doors)
    assert all(10 <= t.doors <= 20 for t in turfs)
    assert {t.precinct for t in turfs} == {"P01", "P02"}
    assert {t.method for t in turfs} == {"geography", "street"}


def test_a_turfs_figures_are_its_doors_voters_and_summed_uplift_of_each_doors_arm(program):
    turfs = cut_program_turfs(design=program, min_doors=10, max_doors=20)

    for turf in turfs:
        stops = list(turf.stops.select_related("arm"))
        assert [s.position for s in sorted(stops, key=lambda s: s.position)] == list(
            range(1, turf.doors + 1)
        )
        assert turf.voters == sum(s.voters for s in stops)
        expected = sum(s.voters * UPLIFT[s.arm.name] for s in stops)
        assert turf.net_votes == pytest.approx(expected)
        assert (turf.walking_m is None) == (turf.precinct == "P02")


def test_turfs_are_ranked_by_expected_net_votes_per_door_best_first(program):
    turfs = cut_program_turfs(design=program, min_doors=10, max_doors=20)

    assert [t.rank for t in turfs] == list(range(1, len(turfs) + 1))
    per_door = [t.net_votes_per_door for t in turfs]
    assert per_door == sorted(per_door, reverse=True)


def test_without_persuasion_scores_net_votes_are_unknown_and_turfs_ranked_by_name(campaign):
    make_county(campaign, located=40, street=0, scored=False)
    design = door_program(campaign)

    turfs = cut_program_turfs(design=design, min_doors=5, max_doors=10)

    assert {t.net_votes for t in turfs} == {None}
    assert [t.name for t in turfs] == sorted(t.name for t in turfs)


def test_a_door_without_coordinates_is_walked_odd_side_then_even_side_ascending(campaign):
    make_county(campaign, located=0, street=12, scored=False)
    design = door_program(campaign, arms=("health",))
    cut_program_turfs(design=design, min_doors=1, max_doors=40)

    turf = Turf.objects.get(design=design)
    walked = [
        (key.split("|")[1], int(key.split("|")[0]))
        for key in turf.stops.order_by("position").values_list("household__address_key", flat=True)
    ]
    for street in ("ELM ST", "OAK ST"):
        numbers = [n for s, n in walked if s == street]
        odd, even = [n for n in numbers if n % 2], [n for n in numbers if not n % 2]
        assert numbers == sorted(odd) + sorted(even)
    assert [s for s, _ in walked] == sorted(s for s, _ in walked)


def test_cutting_again_replaces_the_turfs_and_is_audited(program, staff_user):
    cut_program_turfs(design=program, min_doors=10, max_doors=20)

    turfs = cut_program_turfs(design=program, min_doors=20, max_doors=40, by=staff_user)

    assert Turf.objects.filter(design=program).count() == len(turfs)
    assert all(20 <= t.doors <= 40 for t in turfs)
    event = AuditEvent.objects.filter(action="turf_cut").order_by("-at", "-id").first()
    assert (event.user, event.row_count, event.object_id) == (
        staff_user, len(turfs), str(program.program_id),
    )  # fmt: skip
    assert event.detail["min_doors"] == 20
    assert event.detail["replaced"] > 0


def test_cutting_again_is_refused_once_a_result_is_recorded(program):
    first = cut_program_turfs(design=program, min_doors=10, max_doors=20)
    voter = Assignment.objects.filter(program_id=program.program_id).first().voter
    ContactAttemptFactory(voter=voter, campaign=voter.campaign, program=program.program)

    with pytest.raises(TurfError, match="results have been recorded"):
        cut_program_turfs(design=program, min_doors=20, max_doors=40)

    assert sorted(Turf.objects.filter(design=program).values_list("pk", flat=True)) == sorted(
        t.pk for t in first
    )


@pytest.mark.parametrize("case", ["draft", "cancelled", "sms"])
def test_only_a_committed_door_program_is_cut(campaign, case):
    make_county(campaign, located=20, street=0, scored=False)
    if case == "sms":
        design = door_program(campaign, channel="sms", name="Texts")
    else:
        design = door_program(campaign, commit=False)
        if case == "cancelled":
            cancel_program(design=design)

    with pytest.raises(TurfError, match="only"):
        cut_program_turfs(design=design, min_doors=5, max_doors=10)

    assert Turf.objects.count() == 0
    assert not AuditEvent.objects.filter(action="turf_cut").exists()


def test_a_paused_program_may_be_cut(campaign):
    make_county(campaign, located=20, street=0, scored=False)
    design = door_program(campaign)
    design.status = ProgramStatus.PAUSED
    design.save(update_fields=["status"])

    assert cut_program_turfs(design=design, min_doors=5, max_doors=10)


def test_bad_bounds_are_a_clear_error(program):
    with pytest.raises(TurfError, match="1 <= min <= max"):
        cut_program_turfs(design=program, min_doors=30, max_doors=20)


# -- re-cutting ---------------------------------------------------------------------------------


def test_a_big_turf_is_split_and_the_others_are_left_as_they_were(program, staff_user):
    turfs = cut_program_turfs(design=program, min_doors=20, max_doors=40)
    big = max(turfs, key=lambda t: t.doors)
    others = {
        t.pk: list(t.stops.order_by("position").values_list("household_id", flat=True))
        for t in turfs
        if t.pk != big.pk
    }
    doors_before = set(
        TurfDoor.objects.filter(design=program).values_list("household_id", flat=True)
    )

    changed = recut_turf(turf=big, min_doors=5, max_doors=10, by=staff_user)

    assert changed[0].pk == big.pk
    assert len(changed) >= 2
    assert all(5 <= t.doors <= 10 for t in changed)
    for pk, households in others.items():
        kept = Turf.objects.get(pk=pk)
        assert list(kept.stops.order_by("position").values_list("household_id", flat=True)) == (
            households
        )
    assert set(TurfDoor.objects.filter(design=program).values_list("household_id", flat=True)) == (
        doors_before
    )
    ranks = sorted(Turf.objects.filter(design=program).values_list("rank", flat=True))
    assert ranks == list(range(1, len(ranks) + 1))
    assert AuditEvent.objects.filter(action="turf_recut", object_id=str(big.pk)).count() == 1


def test_a_small_turf_is_merged_into_its_neighbour_which_keeps_its_organizer(program, make_member):
    walker = make_member(program.campaign, "organizer", "walker")
    turfs = cut_program_turfs(design=program, min_doors=5, max_doors=12)
    p01 = [t for t in turfs if t.precinct == "P01"]
    assign_turfs(turfs=p01, organizer=walker)
    small = p01[0]
    total = sum(t.doors for t in p01)

    changed = recut_turf(turf=small, min_doors=small.doors + 1, max_doors=40)

    assert not Turf.objects.filter(pk=small.pk).exists()
    assert len(changed) == 1
    assert changed[0].organizer == walker
    assert changed[0].doors <= 40
    left = Turf.objects.filter(design=program, precinct="P01")
    assert sum(t.doors for t in left) == total


def test_a_turf_within_bounds_is_not_changed(program):
    turfs = cut_program_turfs(design=program, min_doors=10, max_doors=20)

    assert recut_turf(turf=turfs[0]) == []
    assert not AuditEvent.objects.filter(action="turf_recut").exists()


# -- assigning ----------------------------------------------------------------------------------


def test_assigning_and_reassigning_keeps_what_was_recorded(program, make_member, staff_user):
    first = make_member(program.campaign, "organizer", "first")
    second = make_member(program.campaign, "organizer", "second")
    turf = cut_program_turfs(design=program, min_doors=10, max_doors=20)[0]
    stop = turf.stops.order_by("position").first()
    voter = stop.household.members.first()
    ContactAttemptFactory(
        voter=voter, campaign=voter.campaign, program=program.program, channel="door",
        result="contacted",
    )  # fmt: skip
    recorded = list(ContactAttempt.objects.values_list("pk", "voter_id", "result", "program_id"))
    stops = list(turf.stops.order_by("position").values_list("household_id", flat=True))

    assert assign_turfs(turfs=[turf], organizer=first, by=staff_user) == 1
    assert assign_turfs(turfs=[turf], organizer=second, by=staff_user) == 1

    turf.refresh_from_db()
    assert turf.organizer == second
    assert list(ContactAttempt.objects.values_list("pk", "voter_id", "result", "program_id")) == (
        recorded
    )
    assert list(turf.stops.order_by("position").values_list("household_id", flat=True)) == stops
    events = AuditEvent.objects.filter(action="turf_assign").order_by("at", "id")
    assert [e.detail for e in events] == [
        {"organizer": first.pk, "previous": None},
        {"organizer": second.pk, "previous": first.pk},
    ]
    assert turf_progress(program)[0]["doors_with_result"] == 1


def test_assigning_to_the_same_organizer_again_changes_nothing(program, make_member):
    walker = make_member(program.campaign, "organizer", "walker")
    turf = cut_program_turfs(design=program, min_doors=10, max_doors=20)[0]
    assign_turfs(turfs=[turf], organizer=walker)

    assert assign_turfs(turfs=[turf], organizer=walker) == 0
    assert AuditEvent.objects.filter(action="turf_assign").count() == 1


@pytest.mark.parametrize("who", ["viewer", "outsider", "other-organizer"])
def test_only_the_campaigns_organizers_and_staff_may_be_given_a_turf(
    program, other_campaign, make_member, who
):
    if who == "viewer":
        user = make_member(program.campaign, "viewer")
    elif who == "other-organizer":
        user = make_member(other_campaign, "organizer")
    else:
        user = UserFactory(username="outsider")
    turf = cut_program_turfs(design=program, min_doors=10, max_doors=20)[0]

    with pytest.raises(TurfError, match="nothing was assigned"):
        assign_turfs(turfs=[turf], organizer=user)

    turf.refresh_from_db()
    assert turf.organizer is None
    assert not AuditEvent.objects.filter(action="turf_assign").exists()


# -- progress -----------------------------------------------------------------------------------


def test_turf_progress_lists_each_turf_by_rank_with_its_doors_with_a_result(
    program, make_member, django_assert_num_queries
):
    walker = make_member(program.campaign, "organizer", "walker")
    turfs = cut_program_turfs(design=program, min_doors=10, max_doors=20)
    assign_turfs(turfs=[turfs[1]], organizer=walker)
    households = list(turfs[1].stops.order_by("position").values_list("household", flat=True))
    for household in households[:2]:
        voter = VoterFactory._meta.model.objects.filter(household_id=household).first()
        for result in ("not_home", "contacted"):
            ContactAttemptFactory(
                voter=voter, campaign=voter.campaign, program=program.program, channel="door",
                result=result, occurred_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
            )  # fmt: skip

    with django_assert_num_queries(2):
        progress = turf_progress(program)

    assert [p["rank"] for p in progress] == list(range(1, len(turfs) + 1))
    assert progress[1] | {"net_votes": None, "net_votes_per_door": None, "walking_m": None} == {
        "turf": turfs[1].pk, "name": turfs[1].name, "rank": 2, "precinct": turfs[1].precinct,
        "organizer": "walker", "organizer_id": walker.pk, "doors": turfs[1].doors,
        "voters": turfs[1].voters, "walking_m": None, "net_votes": None,
        "net_votes_per_door": None, "doors_with_result": 2, "contacts": 2, "support_ids": 0,
        "share_done": 2 / turfs[1].doors, "status": "open",
    }  # fmt: skip
    assert [p["doors_with_result"] for i, p in enumerate(progress) if i != 1] == [0] * (
        len(turfs) - 1
    )


# -- the command --------------------------------------------------------------------------------


def test_the_command_cuts_and_prints_one_line_per_turf(program, capsys):
    call_command("cut_turfs", "--campaign", "home", "--program", "Doors", "--min", "10",
                 "--max", "20")  # fmt: skip

    out = capsys.readouterr().out.splitlines()
    turfs = list(Turf.objects.filter(design=program).order_by("rank"))
    assert out[0].split() == ["rank", "turf", "precinct", "doors", "voters", "metres", "net/door"]
    assert [line.split()[1] for line in out[1:-1]] == [t.name for t in turfs]
    doors = sum(t.doors for t in turfs)
    voters = sum(t.voters for t in turfs)
    assert out[-1] == (
        f"program 'Doors' cut into {len(turfs)} turfs: {doors:,} doors, {voters:,} voters"
    )


def test_the_command_refuses_a_draft_program_with_a_clear_message(campaign):
    make_county(campaign, located=10, street=0, scored=False)
    door_program(campaign, commit=False)

    with pytest.raises(CommandError, match="is draft: only a committed door program"):
        call_command("cut_turfs", "--campaign", "home", "--program", "Doors")
