"""A contacts import killed with SIGKILL at any moment leaves the campaign before or after."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from subprocess import Popen

import pytest
from django.db import connection

from campaign.services import create_campaign
from tests.killed_commands import start_command, wait_for_sessions_to_end
from voters.models import ConsentEvent, ContactAttempt, Program, ProgramArm, SurveyResponse
from voters.services import import_contact_history, import_voter_file

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="kills a COPY-based import: PostgreSQL only"
    ),
]

VOTERS = 20_000
CONTACT_ROWS = 150_000
CHANNEL_RESULTS = [("door", "contacted"), ("door", "not_home"), ("phone", "refused"),
                   ("sms", "delivered")]  # fmt: skip


def write_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    voters = tmp_path / "voters.csv"
    lines = ["voter_id,first_name,last_name,address,city,zip,phone"]
    lines += [
        f"V{n:06d},First{n},Last{n % 977},{n % 400 + 1} Street{n % 90} Rd,Durham,27701,"
        f"919555{n % 10_000:04d}"
        for n in range(VOTERS)
    ]
    voters.write_text("\n".join(lines) + "\n")
    # A first file already imported, and a bigger one that overlaps it: the import under test.
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    header = "voter_id,occurred_at,channel,result,program,arm,question,answer"
    rows = [contact_line(n) for n in range(CONTACT_ROWS)]
    first.write_text("\n".join([header, *rows[: CONTACT_ROWS // 3]]) + "\n")
    second.write_text("\n".join([header, *rows]) + "\n")
    return voters, first, second


def contact_line(n: int) -> str:
    channel, result = ("sms", "opted_out") if n % 53 == 0 else CHANNEL_RESULTS[n % 4]
    day = 1 + n % 28
    program = f"Program {n % 3}" if n % 2 else ""
    arm = ("control", "a", "b")[n % 3] if program else ""
    survey = f"support,{1 + n % 5}" if channel == "door" and result == "contacted" else ","
    voter = f"V{n % (VOTERS + 500):06d}"  # a few voters we do not have
    at = f"2024-10-{day:02d} {n % 12 + 8}:{n % 60:02d}"
    return f"{voter},{at},{channel},{result},{program},{arm},{survey}"


def state(campaign) -> tuple:
    """Everything the import writes, without ids (every attempt imports into its own campaign)."""
    contact_fields = ("voter__voter_id", "occurred_at", "channel", "result", "program__name",
                      "arm__name")  # fmt: skip
    contacts = tuple(
        ContactAttempt.objects.filter(campaign=campaign)
        .order_by(*contact_fields)
        .values_list(*contact_fields)
    )
    responses = tuple(
        SurveyResponse.objects.filter(campaign=campaign)
        .order_by("voter__voter_id", "answered_at")
        .values_list("voter__voter_id", "answered_at", "option__code", "contact_attempt__channel",
                     "contact_attempt__result")
    )  # fmt: skip
    consent = tuple(
        ConsentEvent.objects.filter(campaign=campaign)
        .order_by("voter__voter_id", "occurred_at", "address")
        .values_list("voter__voter_id", "occurred_at", "channel", "address", "kind")
    )
    programs = tuple(
        Program.objects.filter(campaign=campaign).order_by("name").values_list("name", flat=True)
    )
    arms = tuple(
        ProgramArm.objects.filter(program__campaign=campaign)
        .order_by("program__name", "name")
        .values_list("program__name", "name", "is_control")
    )
    return contacts, responses, consent, programs, arms


def import_in_subprocess(slug: str, path: Path) -> tuple[Popen, str]:
    return start_command("import_contacts", "--campaign", slug, str(path))


def fresh_campaign(slug: str, voters: Path, first: Path):
    campaign, _ = create_campaign(slug=slug, name=slug, state="NC")
    import_voter_file(campaign=campaign, paths=[voters])
    import_contact_history(campaign=campaign, paths=[first])
    return campaign


def test_killed_contacts_import_leaves_campaign_before_or_after(tmp_path):
    voters, first, second = write_files(tmp_path)
    reference = fresh_campaign("reference", voters, first)
    before = state(reference)
    started = time.monotonic()
    finished, _ = import_in_subprocess("reference", second)
    assert finished.wait(timeout=300) == 0, finished.stderr.read().decode()
    duration = time.monotonic() - started
    after = state(reference)
    assert after != before
    assert len(after[2]) > len(before[2])  # the import under test adds opt-outs too

    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    outcomes = []
    for attempt in range(5):
        campaign = fresh_campaign(f"kill-{attempt}", voters, first)
        # Spread the kills over start-up, parsing and COPY, and the merge at the end.
        delay = rng.uniform(0.1, 1.05) * duration
        process, session = import_in_subprocess(campaign.slug, second)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        observed = state(campaign)
        assert observed in (before, after), f"half-written state (seed {seed}, delay {delay:.2f}s)"
        # The server may still be finishing the killed session's statement. Once it is done,
        # the campaign must still be whole, and a commit seen cannot have been undone.
        wait_for_sessions_to_end(session)
        final = state(campaign)
        assert final in (before, after), f"half-written after the kill (seed {seed})"
        assert (observed, final) != (after, before), f"a commit went away (seed {seed})"
        outcomes.append("after" if final == after else "before")
    # At least one kill must have landed mid-import, or the test proved nothing.
    assert "before" in outcomes, f"every import had finished before its kill (seed {seed})"
