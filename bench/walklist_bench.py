"""1,000 walk-list PDFs of 60-80 doors, end to end, against the CSV of the same turfs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python bench/walklist_bench.py --turfs 1000

On a fresh scratch database, loads with set-based SQL a county of households on street grids
(784 per precinct, every one geocoded, one or two voters each, a name in eight in Cyrillic) with
a complete scoring run whose persuasion model predicts an uplift for the one arm, commits a door
program (10 % control) and cuts it into turfs of 60-80 doors. Then times, once each:
  - one walk list of the biggest turf: read and rendered, and rendered alone (target: < 2 s);
  - `download_walk_list(fmt="pdf")` for the best `--turfs` turfs, one after another as a
    printing run does (read, render, audit), with the process's peak RSS after the first 100
    and after all of them: a flat figure means nothing is kept from one list to the next;
  - baseline: `download_walk_list(fmt="csv")` for the same turfs (the same reads and audit, a
    CSV instead of a PDF);
and prints seconds, PDFs per second and the PDF run's time as a multiple of the CSV run's.
The whole run's target is under 10 minutes.
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

BENCH_DB = "segment_one_bench_walklists"
PER_PRECINCT = 784  # a 28 x 28 grid of houses, 15-20 m apart
REASONS = (
    '{"turnout": [["voted in 3 of the last 4 general elections", 0.12], ["age 34", -0.05]], '
    '"support": [["registered unaffiliated", 0.08]]}'
)


def load(url: str, campaign_id: int, run_id: int, households: int) -> int:
    """Households, their voters and the voters' scores; returns the number of voters."""
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            INSERT INTO voters_household (campaign_id, address_key, address, city, zip5,
                                          latitude, longitude, created_at)
            SELECT %(c)s,
                   (100 + 2 * (k %% 28) + (k / 28) %% 2) || '|P' || p || ' ST ' || (k / 28)
                       || '||27701',
                   (100 + 2 * (k %% 28) + (k / 28) %% 2) || ' P' || p || ' ST ' || (k / 28),
                   'Durham', '27701',
                   36 + (p / 10) * 0.02 + (k / 28) * 0.00015,
                   -79 + (p %% 10) * 0.025 + (k %% 28) * 0.00018,
                   now()
            FROM (SELECT h / %(per)s AS p, h %% %(per)s AS k
                  FROM generate_series(0, %(n)s - 1) AS h) AS grid
            """,
            {"c": campaign_id, "per": PER_PRECINCT, "n": households},
        )
        conn.execute(
            """
            INSERT INTO voters_voter (campaign_id, voter_id, household_id, first_name, last_name,
                                      birth_year, party, phone, email, precinct, status, extra,
                                      created_at, updated_at)
            SELECT %(c)s, 'V' || h.id || '-' || m, h.id,
                   CASE WHEN (h.id + m) %% 8 = 0 THEN 'Дмитрий' ELSE 'Mary' END,
                   CASE WHEN (h.id + m) %% 8 = 0 THEN 'Петров' ELSE 'Smith-' || h.id END,
                   1940 + (h.id * 7 + m) %% 60, (ARRAY['dem', 'rep', 'una'])[1 + (h.id + m) %% 3],
                   '+1919' || lpad((h.id * 2 + m)::text, 7, '0'),
                   'v' || h.id || '-' || m || '@example.org',
                   split_part(split_part(h.address_key, '|', 2), ' ', 1),
                   'active', '{}'::jsonb, now(), now()
            FROM voters_household h, generate_series(1, 1 + h.id %% 2) AS m
            WHERE h.campaign_id = %(c)s
            """,
            {"c": campaign_id},
        )
        conn.execute(
            """
            INSERT INTO scoring_voterscore (run_id, voter_id, turnout, support, uplift, best_arm,
                                            is_backlash, reasons)
            SELECT %(r)s, v.id, random(), random(),
                   jsonb_build_object('health', round((random() * 0.08 - 0.02)::numeric, 4)),
                   'health', false, %(reasons)s::jsonb
            FROM voters_voter v WHERE v.campaign_id = %(c)s
            """,
            {"r": run_id, "c": campaign_id, "reasons": REASONS},
        )
        voters = conn.execute(
            "SELECT count(*) FROM voters_voter WHERE campaign_id = %s", [campaign_id]
        ).fetchone()[0]
        conn.execute("ANALYZE")
    return voters


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run(turfs: list, fmt: str, checkpoint: int) -> tuple[float, float | None, int]:
    """Seconds for every turf's walk list in `fmt`, peak RSS after `checkpoint` lists, bytes."""
    from messaging.walklists import download_walk_list

    at_checkpoint, size = None, 0
    started = time.perf_counter()
    for count, turf in enumerate(turfs, start=1):
        content, _, _ = download_walk_list(turf=turf, fmt=fmt)
        size += len(content)
        if count == checkpoint:
            at_checkpoint = peak_rss_mb()
    return time.perf_counter() - started, at_checkpoint, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turfs", type=int, default=1000)
    parser.add_argument(
        "--households", type=int, help="default: enough for --turfs turfs of ~70 treated doors"
    )
    args = parser.parse_args()
    households = args.households or int(args.turfs * 70 / 0.9) + PER_PRECINCT
    total_started = time.perf_counter()
    url = recreate_database(os.environ["DATABASE_URL"], BENCH_DB)
    setup_django(url)

    from campaign.services import create_campaign
    from messaging.canvassing import cut_program_turfs
    from messaging.program_specs import parse_spec
    from messaging.programs import commit_program, create_program
    from messaging.services import create_variant
    from messaging.walklist_pdf import render_pdf
    from messaging.walklists import build_walk_list
    from scoring.models import ModelVersion, RunStatus, ScoringRun

    campaign, _ = create_campaign(slug="bench", name="Bench", state="NC")
    model = ModelVersion.objects.create(
        campaign=campaign, kind="persuasion", status="approved",
        features_as_of="2030-01-01", feature_spec={}, model_card="", artifact=b"",
        metrics={"arms": {"health": {}}, "best_single_arm": "health"},
    )  # fmt: skip
    scoring_run = ScoringRun.objects.create(
        campaign=campaign, status=RunStatus.COMPLETE, as_of="2030-01-01",
        persuasion_model=model, finished_at="2030-01-01T00:00:00Z",
    )  # fmt: skip
    started = time.perf_counter()
    voters = load(url, campaign.pk, scoring_run.pk, households)
    seconds = time.perf_counter() - started
    print(f"loaded {households:,} households, {voters:,} voters: {seconds:.1f} s")
    create_variant(
        campaign=campaign, name="health", channel="door",
        body="Hi {{ voter.first_name }}, I'm with {{ sender.name }}. Can we count on your vote?",
    )  # fmt: skip
    spec = {"name": "Doors", "channel": "door", "arms": ["health"], "policy": "single",
            "control_share": 0.1, "seed": 1}  # fmt: skip
    started = time.perf_counter()
    design = commit_program(design=create_program(campaign=campaign, spec=parse_spec(spec)))
    print(f"program committed: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    turfs = cut_program_turfs(design=design, min_doors=60, max_doors=80)
    doors = sum(t.doors for t in turfs)
    print(
        f"cut into {len(turfs):,} turfs ({doors:,} doors, {min(t.doors for t in turfs)}-"
        f"{max(t.doors for t in turfs)} each): {time.perf_counter() - started:.1f} s"
    )
    chosen = turfs[: args.turfs]

    biggest = max(turfs, key=lambda t: t.doors)
    render_pdf(build_walk_list(biggest))  # fonts registered once per process
    started = time.perf_counter()
    walk_list = build_walk_list(biggest)
    read = time.perf_counter() - started
    started = time.perf_counter()
    render_pdf(walk_list)
    render = time.perf_counter() - started
    print(
        f"one walk list of {biggest.doors} doors, {walk_list.voter_count} voters: read "
        f"{read:.3f} s + PDF {render:.3f} s = {read + render:.3f} s (target < 2 s)"
    )

    checkpoint = min(100, len(chosen))
    pdf_seconds, rss_early, pdf_bytes = run(chosen, "pdf", checkpoint)
    rss_late = peak_rss_mb()
    csv_seconds, _, csv_bytes = run(chosen, "csv", checkpoint)
    n = len(chosen)
    print(
        f"{n:,} PDFs: {pdf_seconds:.1f} s, {n / pdf_seconds:.1f} PDFs/s, "
        f"{pdf_bytes / n / 1024:.0f} kB each"
    )
    print(f"peak RSS after {checkpoint} PDFs: {rss_early:.0f} MB; after {n:,}: {rss_late:.0f} MB")
    print(
        f"baseline, the same {n:,} turfs as CSV: {csv_seconds:.1f} s, {n / csv_seconds:.1f}/s, "
        f"{csv_bytes / n / 1024:.0f} kB each"
    )
    print(f"PDF run / CSV run: {pdf_seconds / csv_seconds:.2f}x")
    total = time.perf_counter() - total_started
    print(f"whole run: {total / 60:.1f} min (target < 10 min)")


if __name__ == "__main__":
    main()
