"""The demo command runs the whole foundation end to end on a small generated county."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Exists, OuterRef

from campaign.models import Campaign, Election, Membership
from messaging.management.commands.demo import NEXT_PROGRAM
from messaging.models import ProgramDesign, Turf
from scoring.models import ModelVersion, ScoringRun, VoterScore
from voters import synthetic
from voters.models import (
    Assignment,
    ConsentEvent,
    ConsentKind,
    ContactAttempt,
    ImportRun,
    SurveyResponse,
    Voter,
    VoteRecord,
)

VOTERS, SEED = 1_500, 7


@pytest.fixture
def county(tmp_path) -> synthetic.CountyFiles:
    """What the demo generates (the same seed gives the same files), to compare against."""
    return synthetic.generate_county(tmp_path / "expected", voters=VOTERS, seed=SEED)


def test_demo_imports_a_generated_county_in_both_layouts(transactional_db, tmp_path, capsys):
    # Committed as it goes, like the demo on its own: the scoring run is sent on commit and runs
    # in-process, so the next program has its scores.
    call_command("demo", voters=VOTERS, seed=SEED, out=tmp_path / "county")

    out = capsys.readouterr().out
    generic, nc = Campaign.objects.get(slug="demo"), Campaign.objects.get(slug="demo-nc")
    header = (tmp_path / "county" / "voters.csv").read_text().splitlines()
    assert Voter.objects.filter(campaign=generic).count() == len(header) - 1 == 1_500
    assert Voter.objects.filter(campaign=nc).count() == 1_500
    # The loop's middle: three approved models and a complete run scoring every voter.
    approved = ModelVersion.objects.filter(campaign=generic, status="approved")
    assert sorted(approved.values_list("kind", flat=True)) == ["persuasion", "support", "turnout"]
    run = ScoringRun.objects.get(campaign=generic)
    assert run.status == "complete"
    assert VoterScore.objects.filter(run=run).count() == 1_500
    assert "scoring run" in out
    # Cycle two: a personalized door program from those scores, graded against the truth, its
    # treated doors cut into turfs and the best three given to the demo organizer.
    design = ProgramDesign.objects.get(campaign=generic, program__name=NEXT_PROGRAM)
    assert (design.status, design.policy) == ("committed", "personalized")
    assigned = Assignment.objects.filter(program=design.program)
    assert assigned.count() == sum(arm["voters"] for arm in design.summary["arms"]) > 0
    assert "this program's policy" in out
    assert "best single variant (" in out
    turfs = Turf.objects.filter(design=design)
    assert turfs.filter(organizer__username="organizer").count() == min(3, turfs.count())
    assert turfs.count() > 0
    # Both layouts describe the same people: the same ids, parties and households (NC, like the
    # state's file, blanks the address of removed voters).
    fields = (
        "voter_id",
        "party",
        "status",
        "birth_year",
        "zip5",
        "address_key",
        "phone",
        "gender",
        "race",
        "ethnicity",
        "registered_on",
        "precinct",
    )
    listed = Voter.objects.exclude(status="removed").order_by("voter_id")
    assert list(listed.filter(campaign=generic).values_list(*fields)) == list(
        listed.filter(campaign=nc).values_list(*fields)
    )
    assert (
        VoteRecord.objects.filter(campaign=generic).count()
        == VoteRecord.objects.filter(campaign=nc).count()
        > 0
    )
    assert Election.objects.filter(campaign=generic).count() == 13
    runs = ImportRun.objects.order_by("pk")
    assert [(r.kind, r.layout, r.status, r.rejected) for r in runs] == [
        ("voters", "generic", "succeeded", 0),
        ("history", "generic", "succeeded", 0),
        ("assignments", "generic", "succeeded", 0),
        ("contacts", "generic", "succeeded", 0),
        ("contacts", "van", "succeeded", 0),
        ("voters", "nc", "succeeded", 0),
        ("history", "nc", "succeeded", 0),
    ]
    assert runs[1].orphaned == runs[6].orphaned > 0

    password = re.search(r"user demo  password (\S+)", out).group(1)
    user = authenticate(username="demo", password=password)
    assert user is not None
    assert (user.is_staff, user.is_superuser) == (True, False)
    assert set(Membership.objects.filter(user=user).values_list("campaign__slug", "role")) == {
        ("demo", "admin"),
        ("demo-nc", "admin"),
    }


def test_demo_imports_the_contact_history_the_generator_wrote(
    transactional_db, tmp_path, capsys, county
):
    call_command("demo", voters=VOTERS, seed=SEED, out=tmp_path / "county")

    out = capsys.readouterr().out
    generic, nc = Campaign.objects.get(slug="demo"), Campaign.objects.get(slug="demo-nc")
    totals = county.contacts
    runs = {(r.kind, r.layout): r for r in ImportRun.objects.filter(campaign=generic)}
    # Every row lands but those of people no longer in the voter file, which are counted.
    assert runs["contacts", "generic"].orphaned == totals.orphan_rows > 0
    assert runs["contacts", "van"].orphaned == totals.van_orphan_rows > 0
    assert runs["assignments", "generic"].orphaned == 0
    attempts = ContactAttempt.objects.filter(campaign=generic)
    assert attempts.count() == totals.rows + totals.van_rows
    by_result = Counter(f"{c}:{r}" for c, r in attempts.values_list("channel", "result"))
    assert by_result == Counter(totals.by_result)
    assert attempts.filter(import_run=runs["contacts", "van"]).count() == totals.van_rows

    responses = SurveyResponse.objects.filter(campaign=generic)
    assert responses.count() == totals.answers + totals.van_answers
    assert set(responses.values_list("question__slug", flat=True).distinct()) == {"support"}
    # VAN's Survey Response rows find the conversation they came from (same voter, day, channel).
    assert not responses.filter(contact_attempt__isnull=True).exists()
    assert responses.filter(import_run=runs["contacts", "van"]).count() == totals.van_answers

    opt_outs = ConsentEvent.objects.filter(campaign=generic, kind=ConsentKind.OPT_OUT)
    ledger = Counter(opt_outs.values_list("channel", flat=True))
    # "Do not contact" at the door closes every channel the voter has an address on.
    door = attempts.filter(channel="door", result="opted_out")
    with_phone = door.exclude(voter__phone=None).count()
    with_email = door.exclude(voter__email=None).count()
    assert ledger["door"] == ledger["mail"] == door.count() == totals.opt_outs("door")
    assert ledger["phone"] == with_phone
    assert ledger["sms"] == totals.opt_outs("sms") + with_phone
    assert ledger["email"] == totals.opt_outs("email") + with_email
    assert min(totals.opt_outs(channel) for channel in ("door", "sms", "email")) > 0

    assignments = Assignment.objects.filter(campaign=generic, program__name=county.program_name)
    assert assignments.count() == county.assigned_voters
    assert Counter(assignments.values_list("arm__name", flat=True)) == Counter(county.arm_counts)
    program = attempts.filter(program__name=county.program_name)
    assert program.count() == totals.program_rows > 0
    assert set(program.values_list("channel", flat=True).distinct()) == {"door"}
    assert not program.filter(arm__is_control=True).exists()
    # The program's knocks carry the arm each voter was assigned.
    same_arm = Assignment.objects.filter(
        program=OuterRef("program"), voter=OuterRef("voter"), arm=OuterRef("arm")
    )
    assert not program.exclude(Exists(same_arm)).exists()

    # VAN rows matched voters through the generic file's `vanid` column, kept in `extra`.
    assert not Voter.objects.filter(campaign=generic, extra__vanid__isnull=True).exists()
    assert not Voter.objects.filter(campaign=nc, extra__has_key="vanid").exists()
    assert not ContactAttempt.objects.filter(campaign=nc).exists()
    assert f"{totals.rows:,} contacts and {totals.answers:,} survey responses added" in out
