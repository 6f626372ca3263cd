"""Cutting a generated county's doors into turfs in walking order, against a sort-and-chunk floor.

    python bench/turf_bench.py --doors 60000 --precincts 60

Generates (seeded, no database) doors on street grids: each precinct a few east-west streets and
north-south avenues with houses every 15 m on both sides (odd numbers north or east, even numbers
south or west, a hundred block per block), some apartment buildings of 8-40 units, one precinct in
eight with no coordinates at all and 2 % of the other doors not geocoded. Then times, once each:
  - `cut_turfs` with turfs of 40-80 doors (cutting, routing and the summaries);
  - baseline: sort by precinct, street and house number, then cut every 60 doors (no routing);
and prints the sizes, the metres walked, the throughput ratio against the baseline and the
issue's target: 60,000 doors in about 1,000 turfs in under 30 s.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from messaging.turfs import Doors, cut_turfs, path_length  # noqa: E402

TARGET_SECONDS = 30.0
STREET_NAMES = ("OAK", "ELM", "PINE", "MAPLE", "CEDAR", "BIRCH", "ASH", "WALNUT", "HICKORY", "ELK")
METRES_PER_DEGREE = 111_195.0


def _precinct_doors(rng: np.random.Generator, code: int, doors: int) -> dict[str, list]:
    """One precinct's doors on a grid of streets 120 m apart, houses every 15 m each side."""
    rows: dict[str, list] = {k: [] for k in ("x", "y", "street", "number", "unit", "building")}
    streets = max(2, round(math.sqrt(doors / 40)))
    for index in range(2 * streets):
        runs_east = index < streets
        name = f"{STREET_NAMES[index % len(STREET_NAMES)]} {'ST' if runs_east else 'AVE'}"
        if index >= len(STREET_NAMES):
            name = f"{index} {name}"
        offset = 120.0 * (index % streets)
        for slot in range(doors // (2 * streets) // 2 + 1):
            along = 15.0 * slot
            number = 100 * (1 + slot // 8) + 2 * (slot % 8)
            for side in (1, 0):  # odd north/east, even south/west
                across = offset + (8.0 if side else -8.0)
                x, y = (along, across) if runs_east else (across, along)
                units = int(rng.integers(8, 41)) if rng.random() < 0.01 else 0
                key = f"P{code}|{name}|{number + side}"
                for unit in range(max(units, 1)):
                    rows["x"].append(x)
                    rows["y"].append(y)
                    rows["street"].append(name)
                    rows["number"].append(number + side)
                    rows["unit"].append(f"#{unit + 1}" if units else "")
                    rows["building"].append(key if units else "")
    return rows


def generate(doors: int, precincts: int, seed: int = 1) -> Doors:
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(doors, np.full(precincts, 1 / precincts))
    columns: dict[str, list] = {}
    for code, size in enumerate(sizes):
        rows = _precinct_doors(rng, code, int(size))
        keep = np.sort(rng.choice(len(rows["x"]), size=min(size, len(rows["x"])), replace=False))
        lat0, lon0 = 35.7 + 0.03 * (code // 8), -79.1 + 0.03 * (code % 8)
        has_position = np.full(len(keep), code % 8 != 7) & (rng.random(len(keep)) >= 0.02)
        x, y = np.asarray(rows["x"])[keep], np.asarray(rows["y"])[keep]
        lat = np.where(has_position, lat0 + y / METRES_PER_DEGREE, np.nan)
        lon = lon0 + x / (METRES_PER_DEGREE * math.cos(math.radians(lat0)))
        columns.setdefault("latitude", []).extend(lat)
        columns.setdefault("longitude", []).extend(np.where(has_position, lon, np.nan))
        columns.setdefault("precinct", []).extend([f"P{code:02d}"] * len(keep))
        for name in ("street", "number", "unit", "building"):
            columns.setdefault(name, []).extend(np.asarray(rows[name], dtype=object)[keep])
    count = len(columns["precinct"])
    net = rng.normal(0.05, 0.05, count)
    net[rng.random(count) < 0.05] = np.nan
    return Doors(
        household_id=np.arange(count),
        precinct=np.array(columns["precinct"], dtype=object),
        latitude=np.array(columns["latitude"]),
        longitude=np.array(columns["longitude"]),
        street=np.array(columns["street"], dtype=object),
        house_number=np.array(columns["number"], dtype=np.int64),
        unit=np.array(columns["unit"], dtype=object),
        building=np.array(columns["building"], dtype=object),
        voters=rng.integers(1, 5, count),
        net_votes=net,
    )


def sort_and_chunk(doors: Doors, size: int = 60) -> list[np.ndarray]:
    """The floor: walk lists as printed by sorting, chunks that ignore streets and buildings."""
    order = np.lexsort((doors.unit, doors.house_number, doors.street, doors.precinct))
    chunks = []
    ends = np.flatnonzero(doors.precinct[order][1:] != doors.precinct[order][:-1]) + 1
    for precinct in np.split(order, ends):
        chunks += np.array_split(precinct, max(1, math.ceil(len(precinct) / size)))
    return chunks


def _metres(doors: Doors, chunk: np.ndarray) -> float:
    """Metres walked in the given order (equirectangular), skipping doors without coordinates."""
    lat, lon = doors.latitude[chunk], doors.longitude[chunk]
    known = np.isfinite(lat)
    if known.sum() < 2:
        return 0.0
    xy = np.column_stack(
        [np.radians(lon[known]) * math.cos(np.radians(lat[known]).mean()), np.radians(lat[known])]
    )
    return path_length(xy * 6_371_008.8, np.arange(known.sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doors", type=int, default=60_000)
    parser.add_argument("--precincts", type=int, default=60)
    args = parser.parse_args()
    doors = generate(args.doors, args.precincts)
    located = np.isfinite(doors.latitude).mean()
    print(
        f"{len(doors):,} doors in {args.precincts} precincts, {located:.0%} geocoded, "
        f"{(doors.building != '').sum():,} in apartment buildings"
    )

    started = time.perf_counter()
    cut = cut_turfs(doors, min_doors=40, max_doors=80)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    chunks = sort_and_chunk(doors)
    baseline = time.perf_counter() - started

    sizes = np.array([t.doors for t in cut.turfs])
    walked = [t.walking_m for t in cut.turfs if t.walking_m is not None]
    geo = [i for i, t in enumerate(cut.turfs) if t.walking_m is not None]
    geo_doors = sum(cut.turfs[i].doors for i in geo)
    ours_per_door = sum(walked) / geo_doors
    floor_metres = [_metres(doors, c) for c in chunks]
    floor_doors = sum(int(np.isfinite(doors.latitude[c]).sum()) for c in chunks)
    print(
        f"cut_turfs: {seconds:.2f} s for {len(cut.turfs):,} turfs "
        f"({len(geo):,} by geography, {len(cut.turfs) - len(geo):,} by street)"
    )
    print(
        f"sizes: min {sizes.min()}, p10 {np.percentile(sizes, 10):.0f}, median "
        f"{np.median(sizes):.0f}, p90 {np.percentile(sizes, 90):.0f}, max {sizes.max()}; "
        f"undersized {sum(t.is_undersized for t in cut.turfs)}, "
        f"oversized {sum(t.is_oversized for t in cut.turfs)}"
    )
    print(
        f"walking: mean {np.mean(walked):,.0f} m a turf, {ours_per_door:.1f} m a door; "
        f"sort-and-chunk order: {sum(floor_metres) / floor_doors:.1f} m a door"
    )
    print(
        f"baseline sort-and-chunk: {baseline:.3f} s; throughput {len(doors) / seconds:,.0f} "
        f"doors/s vs {len(doors) / baseline:,.0f} doors/s, ratio {baseline / seconds:.4f}"
    )
    verdict = "meets" if seconds < TARGET_SECONDS else "misses"
    print(f"target: under {TARGET_SECONDS:.0f} s for 60,000 doors; {verdict} it ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
