"""An import killed with SIGKILL at any moment leaves the campaign exactly as before or as after."""

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
from voters.models import Household, Voter
from voters.services import import_voter_file

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="kills a COPY-based import: PostgreSQL only"
    ),
]

HEADER = "voter_id,first_name,last_name,party,address,city,zip"
BASE_ROWS = 30_000


def voter_line(n: int, variant: int = 0) -> str:
    party = ("DEM", "REP", "UNA")[(n + variant) % 3]
    return f"V{n:07d},First{n},Last{n % 977},{party},{n % 400 + 1} Street{n % 90} Rd,Durham,27701"


def write_files(tmp_path: Path) -> tuple[Path, Path]:
    base = tmp_path / "base.csv"
    base.write_text("\n".join([HEADER, *(voter_line(n) for n in range(BASE_ROWS))]) + "\n")
    # The next month's file: a third of the voters changed party, as many again are new.
    update = tmp_path / "update.csv"
    rows = (voter_line(n, variant=1 if n % 3 == 0 else 0) for n in range(2 * BASE_ROWS))
    update.write_text("\n".join([HEADER, *rows]) + "\n")
    return base, update


def state(campaign) -> tuple:
    voters = tuple(
        Voter.objects.filter(campaign=campaign)
        .order_by("voter_id")
        .values_list("voter_id", "party", "status", "household__address_key")
    )
    households = tuple(
        Household.objects.filter(campaign=campaign)
        .order_by("address_key")
        .values_list("address_key", flat=True)
    )
    return voters, households


def import_in_subprocess(slug: str, path: Path) -> tuple[Popen, str]:
    return start_command("import_voters", "--campaign", slug, "--full", str(path))


def fresh_campaign(slug: str, base: Path):
    campaign, _ = create_campaign(slug=slug, name=slug, state="NC")
    import_voter_file(campaign=campaign, paths=[base])
    return campaign


def test_killed_import_leaves_campaign_before_or_after(tmp_path):
    base, update = write_files(tmp_path)
    reference = fresh_campaign("reference", base)
    before = state(reference)
    started = time.monotonic()
    finished, _ = import_in_subprocess("reference", update)
    assert finished.wait(timeout=300) == 0, finished.stderr.read().decode()
    duration = time.monotonic() - started
    after = state(reference)
    assert after != before

    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    outcomes = []
    for attempt in range(5):
        campaign = fresh_campaign(f"kill-{attempt}", base)
        # Spread the kills over start-up, parsing and COPY, and the merge at the end.
        delay = rng.uniform(0.1, 1.05) * duration
        process, session = import_in_subprocess(campaign.slug, update)
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
