"""Committing a personalized program against a raw COPY of the same assignment rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python bench/program_bench.py --voters N

On a fresh scratch database, loads with set-based SQL: N active voters in households of two
(one phone each, 200 precincts) and a complete scoring run whose approved persuasion model
predicts an uplift for each of three arms. Then times, once each (a commit happens once):
  - `preview_program` (select, randomize, choose; nothing written);
  - `commit_program` (the same, plus the assignments written in one transaction);
  - the baseline: a raw COPY of the same assignment rows into voters_assignment (its indexes
    and constraints, what the commit writes through), rolled back; and the floor, the same
    COPY into an unindexed copy of the table;
and prints the commit's share of each one's speed, and the process's peak resident memory
during the preview and the commit (loading runs in the database) above what it held before.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import recreate_database, setup_django  # noqa: E402

BENCH_DB = "segment_one_bench_program"
ARMS = ("health", "economy", "schools")


def load(url: str, campaign_id: int, run_id: int, voters: int) -> None:
    uplift = ", ".join(f"'{a}', round((random() * 0.08 - 0.02)::numeric, 4)" for a in ARMS)
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            INSERT INTO voters_voter (campaign_id, voter_id, household_id, phone, email, precinct,
                                      status, extra, created_at, updated_at)
            SELECT %s, 'V' || i, (i + 1) / 2, '+1919' || lpad(i::text, 7, '0'),
                   'v' || i || '@example.org', 'P' || (i %% 200), 'active', '{}'::jsonb,
                   now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [campaign_id, voters],
        )
        conn.execute(
            f"""
            INSERT INTO scoring_voterscore (run_id, voter_id, turnout, support, uplift, best_arm,
                                            is_backlash, reasons)
            SELECT %s, v.id, random(), random(), jsonb_build_object({uplift}), '', false,
                   '{{}}'::jsonb
            FROM voters_voter v WHERE v.campaign_id = %s
            """,
            [run_id, campaign_id],
        )
        conn.execute("ANALYZE")


COLUMNS = (
    "campaign_id, program_id, arm_id, voter_id, assigned_at, propensity, propensities, unit, "
    "created_at"
)


def committed_rows(url: str, program_id: int, *, as_program: int | None = None) -> bytearray:
    """The committed rows in COPY's text format (under another program id when asked)."""
    program = f"{int(as_program)} AS program_id" if as_program else "program_id"
    columns = COLUMNS.replace("program_id", program)
    data = bytearray()
    with psycopg.connect(url) as conn:
        query = f"SELECT {columns} FROM voters_assignment WHERE program_id = {int(program_id)}"
        with conn.cursor().copy(f"COPY ({query}) TO STDOUT") as copy:
            for block in copy:
                data += block
    return data


def copy_into_the_table_seconds(url: str, program_id: int, campaign_id: int) -> float:
    """COPY of the same rows into voters_assignment itself, under a new program, rolled back:
    the same table, indexes and constraints the commit writes through."""
    with psycopg.connect(url) as conn:
        other = conn.execute(
            "INSERT INTO voters_program (name, description, created_at, campaign_id) "
            "VALUES ('bench baseline', '', now(), %s) RETURNING id",
            [campaign_id],
        ).fetchone()[0]
        data = committed_rows(url, program_id, as_program=other)
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY voters_assignment ({COLUMNS}) FROM STDIN") as copy:
            copy.write(data)
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign keys, checked
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds


def copy_unindexed_seconds(url: str, program_id: int) -> float:
    """COPY of the same rows into an unindexed copy of the table: the floor."""
    data = committed_rows(url, program_id)
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE bench_assignment "
            "(LIKE voters_assignment INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY bench_assignment ({COLUMNS}) FROM STDIN") as copy:
            copy.write(data)
        conn.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=200_000)
    args = parser.parse_args()
    url = recreate_database(os.environ["DATABASE_URL"], BENCH_DB)
    setup_django(url)

    from campaign.services import create_campaign
    from messaging.program_specs import parse_spec
    from messaging.programs import commit_program, create_program, preview_program
    from messaging.services import create_variant
    from scoring.models import ModelVersion, RunStatus, ScoringRun

    campaign, _ = create_campaign(slug="bench", name="Bench", state="NC")
    model = ModelVersion.objects.create(
        campaign=campaign, kind="persuasion", status="approved",
        features_as_of="2030-01-01", feature_spec={}, model_card="", artifact=b"",
        metrics={"arms": {a: {} for a in ARMS}, "best_single_arm": "health", "margin": 0.005},
    )  # fmt: skip
    run = ScoringRun.objects.create(
        campaign=campaign, status=RunStatus.COMPLETE, as_of="2030-01-01",
        persuasion_model=model, finished_at="2030-01-01T00:00:00Z",
    )  # fmt: skip
    started = time.perf_counter()
    load(url, campaign.pk, run.pk, args.voters)
    print(f"loaded {args.voters:,} voters and scores in {time.perf_counter() - started:.1f} s")
    for arm in ARMS:
        create_variant(campaign=campaign, name=arm, channel="door", body="Hello.")
    spec = {"name": "Doors", "channel": "door", "arms": list(ARMS), "policy": "personalized",
            "control_share": 0.1, "exploration_share": 0.1, "seed": 1}  # fmt: skip
    design = create_program(campaign=campaign, spec=parse_spec(spec))

    before = rss_mb()
    started = time.perf_counter()
    summary = preview_program(design=design)
    preview = time.perf_counter() - started
    started = time.perf_counter()
    commit_program(design=design)
    commit = time.perf_counter() - started
    peak = peak_rss_mb()  # before the baseline, which holds its rows in this process
    rows = sum(a["voters"] for a in summary["arms"])
    into_table = copy_into_the_table_seconds(url, design.program_id, campaign.pk)
    unindexed = copy_unindexed_seconds(url, design.program_id)
    print(f"preview: {preview:.1f} s; commit: {commit:.1f} s for {rows:,} assignments")
    print(
        f"raw COPY of the same rows into voters_assignment: {into_table:.2f} s; "
        f"the commit's speed against it: {into_table / commit:.2f} (target: 0.3 or more)"
    )
    print(
        f"raw COPY into an unindexed copy of the table: {unindexed:.2f} s; "
        f"against it: {unindexed / commit:.2f}"
    )
    print(f"peak RSS of this process: {peak:,.0f} MB; before the preview: {before:,.0f} MB;")
    per_voter = (peak - before) * 2**20 / rows
    print(f"  the preview's and commit's own: {peak - before:,.0f} MB ({per_voter:,.0f} B/voter)")


def rss_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**10
    return float("nan")


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


if __name__ == "__main__":
    main()
