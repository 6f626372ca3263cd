"""SMS quiet hours on N synthetic recipients, against a bare zoneinfo check in the same run.

    python bench/quiet_hours_bench.py --recipients 1000000

Recipients are drawn (seeded) from the real ZIPs of the `zipcodes` data: the ZIP's state as the
address state and a phone in one of the ZIP's area codes with a random exchange; 5 % have no
phone, 2 % a toll-free one, 1 % no ZIP. Prints, each the median of several runs:
  - baseline: `at.astimezone(zone)` and an 08:00-21:00 hour test per recipient (what a naive
    check costs, knowing the zone already);
  - profile_of per recipient, with cold and warm caches (profiles/s), and the number of distinct
    profiles;
  - open_for per recipient on its profile (checks/s), and grouped: open_profiles once over the
    distinct profiles, then a set membership per recipient (what an outbox lease does).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zipcodes  # noqa: E402

from messaging import quiet_hours  # noqa: E402

# Monday 21:30 EDT: the East has closed, Central has a 30-minute lease left, the West is open.
AT = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)
LEASE_SECONDS = 1800


def make_recipients(n: int, seed: int) -> list[tuple[str | None, str | None, str | None]]:
    rng = random.Random(seed)
    rows = [r for r in zipcodes.list_all() if r["timezone"] and r["area_codes"]]
    out = []
    for _ in range(n):
        row = rng.choice(rows)
        roll = rng.random()
        if roll < 0.05:
            phone = None
        elif roll < 0.07:
            phone = f"+1800{rng.randrange(2000000, 9999999)}"
        else:
            phone = f"+1{rng.choice(row['area_codes'])}{rng.randrange(2000000, 9999999)}"
        zip5 = None if rng.random() < 0.01 else row["zip_code"]
        out.append((zip5, phone, row["state"]))
    return out


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def clear_caches() -> None:
    quiet_hours._profile.cache_clear()
    quiet_hours._exchange_zones.cache_clear()
    quiet_hours._area_code.cache_clear()
    quiet_hours._intern.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    n = args.recipients

    start = time.perf_counter()
    quiet_hours._zip_table()
    print(f"ZIP table load (once per process): {time.perf_counter() - start:.2f} s")
    recipients = make_recipients(n, args.seed)
    zip_zone = {z: quiet_hours.zip_zone(z)[0] or "America/New_York" for z, _, _ in recipients}
    zones = {name: ZoneInfo(name) for name in set(zip_zone.values())}
    recipient_zones = [zones[zip_zone[z]] for z, _, _ in recipients]

    def baseline() -> int:
        return sum(8 <= AT.astimezone(tz).hour < 21 for tz in recipient_zones)

    def profiles_cold() -> list[quiet_hours.Profile]:
        clear_caches()
        return [quiet_hours.profile_of(z, p, s) for z, p, s in recipients]

    def profiles_warm() -> list[quiet_hours.Profile]:
        return [quiet_hours.profile_of(z, p, s) for z, p, s in recipients]

    def per_recipient() -> int:
        return sum(quiet_hours.open_for(AT, p, LEASE_SECONDS) for p in profiles)

    def grouped() -> int:
        opened = quiet_hours.open_profiles(AT, distinct, LEASE_SECONDS)
        return sum(p in opened for p in profiles)

    base_s, base_open = timed(baseline, args.repeat)
    prof_s, profiles = timed(profiles_cold, args.repeat)
    warm_s, _ = timed(profiles_warm, args.repeat)
    distinct = set(profiles)
    clear_caches()
    start = time.perf_counter()
    quiet_hours.open_profiles(AT, distinct, LEASE_SECONDS)
    cold_intervals_s = time.perf_counter() - start
    check_s, open_count = timed(per_recipient, args.repeat)
    group_s, group_count = timed(grouped, args.repeat)
    assert open_count == group_count

    print(f"recipients: {n:,}; distinct profiles: {len(distinct):,}")
    print(f"baseline zoneinfo hour check: {n / base_s:,.0f} checks/s ({base_open:,} open)")
    print(f"profile_of, cold caches: {n / prof_s:,.0f} profiles/s ({prof_s:.2f} s)")
    print(f"profile_of, warm caches: {n / warm_s:,.0f} profiles/s")
    print(f"first week of intervals for every profile: {cold_intervals_s * 1000:.0f} ms")
    print(
        f"open_for per recipient: {n / check_s:,.0f} checks/s "
        f"({check_s / base_s:.2f}x the baseline's time; {open_count:,} open for the lease)"
    )
    print(
        f"open_profiles + membership: {n / group_s:,.0f} checks/s "
        f"({group_s / base_s:.2f}x the baseline's time)"
    )


if __name__ == "__main__":
    main()
