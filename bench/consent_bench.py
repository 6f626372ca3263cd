"""The consent anti-join against the same count without it, measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python bench/consent_bench.py --voters N

On a fresh scratch database, loads with set-based SQL (INSERT ... SELECT generate_series):
  - N voters in the benchmark campaign; voter i has the phone +1919<i> unless i % 5 == 4 (half of
    those have no phone, half an empty one);
  - SMS opt-outs of every 50th voter's phone (2 %), a tenth of which (i % 500 == 0) later opted back
    in, and half of those opt-outs also carry an older opt-in that undoes nothing (i % 100 == 0);
  - noise that must not count: phone-channel opt-outs (i % 50 == 10), opt-outs of numbers no voter
    has, and a second campaign with voters of the same phones and SMS opt-outs of i % 50 == 25.
Then times, median of several runs:
  - baseline: `Voter.objects.for_campaign(c).filter(phone__isnull=False).exclude(phone="").count()`;
  - `Voter.objects.for_campaign(c).contactable("sms").count()` (the ledger anti-join);
and checks both counts exactly against what the loaded data implies.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import recreate_database, setup_django  # noqa: E402

BENCH_DB = "segment_one_bench_consent"
OPT_OUT_EVERY = 50  # 2 % of voters opt out of SMS
OPT_BACK_IN_EVERY = 500  # a tenth of them later opt back in
EARLIER_OPT_IN_EVERY = 100  # an opt-in older than the opt-out: still opted out
PHONE_RESIDUE = 10  # i % 50 == 10: a phone-channel opt-out, not SMS
OTHER_RESIDUE = 25  # i % 50 == 25: opted out in the other campaign only


def load(url: str, campaign_id: int, other_id: int, voters: int) -> None:
    """Voters and ledger rows, set-based; the index build and ANALYZE are part of loading."""
    # psycopg placeholders: a literal % is written %%.
    phone = "'+1919' || lpad((i + %s)::text, 7, '0')"
    has_phone = f"CASE WHEN i %% 5 <> 4 THEN {phone} WHEN i %% 10 = 4 THEN NULL ELSE '' END"
    voter_sql = f"""
        INSERT INTO voters_voter (campaign_id, voter_id, phone, extra, created_at, updated_at)
        SELECT %s, 'V' || i, {has_phone}, '{{}}'::jsonb, now(), now()
        FROM generate_series(1, %s) AS i
    """
    event_sql = f"""
        INSERT INTO voters_consentevent (campaign_id, channel, address, kind, source, reason,
                                         actor, occurred_at, recorded_at)
        SELECT %s, %s, {phone}, %s, %s, '', 'bench', now() - make_interval(days => %s), now()
        FROM generate_series(1, %s) AS i WHERE i %% %s = %s
    """
    with psycopg.connect(url) as conn:
        conn.execute(voter_sql, [campaign_id, 0, voters])
        # The other campaign: a tenth as many voters carrying the same phones.
        conn.execute(voter_sql, [other_id, 0, voters // 10])
        events = [
            # campaign, channel, kind, source, days ago, every, residue
            (campaign_id, "sms", "opt_out", "stop_reply", 30, OPT_OUT_EVERY, 0),
            (campaign_id, "sms", "opt_in", "start_reply", 10, OPT_BACK_IN_EVERY, 0),
            (campaign_id, "sms", "opt_in", "start_reply", 60, EARLIER_OPT_IN_EVERY, 0),
            (campaign_id, "phone", "opt_out", "stop_reply", 30, OPT_OUT_EVERY, PHONE_RESIDUE),
            (other_id, "sms", "opt_out", "stop_reply", 30, OPT_OUT_EVERY, OTHER_RESIDUE),
        ]  # fmt: skip
        for campaign, channel, kind, source, days, every, residue in events:
            row = [campaign, channel, 0, kind, source, days, voters, every, residue]
            conn.execute(event_sql, row)
        # Numbers no voter carries (a vendor's block list): phones past the last voter's.
        row = [campaign_id, "sms", voters, "opt_out", "vendor_block", 5, voters // 100, 1, 0]
        conn.execute(event_sql, row)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE voters_voter")
        conn.execute("VACUUM ANALYZE voters_consentevent")


def expected_counts(voters: int) -> tuple[int, int]:
    """(voters with a phone, of those the SMS-contactable) implied by `load`."""
    i = range(1, voters + 1)
    with_phone = sum(1 for v in i if v % 5 != 4)
    # Every opted-out voter (i % 50 == 0) has a phone; those also at i % 500 == 0 opted back in.
    opted_out = voters // OPT_OUT_EVERY - voters // OPT_BACK_IN_EVERY
    return with_phone, with_phone - opted_out


def median_seconds(run, repeats: int) -> tuple[float, int]:
    result = run()  # warm the cache: both timings then read from shared buffers
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

    started = time.perf_counter()
    url = recreate_database(base_url, BENCH_DB)
    setup_django(url)
    from django.db import connection

    from campaign.services import create_campaign
    from voters.models import ConsentEvent, Voter

    campaign, _ = create_campaign(slug="bench", name="Benchmark", state="NC")
    other, _ = create_campaign(slug="bench-other", name="Other campaign", state="NC")
    print(f"scratch database {BENCH_DB} migrated in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    load(url, campaign.pk, other.pk, args.voters)
    events = ConsentEvent.objects.count()
    print(
        f"loaded {Voter.objects.count():,} voters and {events:,} consent events "
        f"in {time.perf_counter() - started:.1f}s"
    )

    universe = Voter.objects.for_campaign(campaign)
    baseline = universe.filter(phone__isnull=False).exclude(phone="")
    contactable = universe.contactable("sms")
    base_s, base_count = median_seconds(baseline.count, args.repeats)
    consent_s, consent_count = median_seconds(contactable.count, args.repeats)
    connection.close()

    with_phone, reachable = expected_counts(args.voters)
    print()
    print(f"{'query':<52}{'median s':>10}{'count':>12}")
    print(f"{'baseline: phone present, no consent anti-join':<52}{base_s:>10.3f}{base_count:>12,}")
    label = 'contactable("sms"): with the ledger anti-join'
    print(f"{label:<52}{consent_s:>10.3f}{consent_count:>12,}")
    print()
    print(f"contactable / baseline time: {consent_s / base_s:.2f}x "
          f"({args.voters / consent_s:,.0f} voters/s through the anti-join)")  # fmt: skip
    assert base_count == with_phone, f"baseline counted {base_count:,}, expected {with_phone:,}"
    assert consent_count == reachable, f"contactable {consent_count:,}, expected {reachable:,}"
    print(f"counts exact: {with_phone:,} with a phone, {reachable:,} SMS-contactable "
          f"({with_phone - reachable:,} opted out in force)")  # fmt: skip


if __name__ == "__main__":
    main()
