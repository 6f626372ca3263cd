"""Turf cutting and walking order for a door program (no Django).

Doors (households) come in as arrays, one entry per door. Out come each door's turf and its stop
number in the turf's walking order, and one `Turf` summary per turf. The same input always gives
the same turfs: every sort breaks ties on a stable key and nothing is random.

How a precinct is cut (turfs never cross a precinct line):
1. Doors without coordinates on a street that has geocoded doors take the position of the geocoded
   door on that street with the nearest house number (with no number, the street's middle one),
   so they join their neighbours' turf instead of forming a stray turf of their own
   (`TurfCut.is_position_imputed` says which ones).
2. Geocoded doors are grouped into buildings (apartments of one building are one stop and never
   split) and cut by recursive coordinate slicing: cut the set across its longer side into strips
   at the weighted quantiles that give each strip a whole number of turfs of the target size, as
   many strips as make the turfs about square, and recurse into each strip. Every cut is a
   straight line, so turfs are axis-aligned rectangles that never interleave, and sizes are
   balanced by construction. It is O(n log n) per level, which k-means with capacities and a
   repair step is not, and it has no random start. A cut cannot fall inside a building, so with
   big buildings a slice can miss the bounds; then buildings move one at a time to the turf of a
   nearest neighbour across the border, while that brings sizes closer to the bounds.
3. Doors still without a position are ordered by street and house number and split into runs by a
   small dynamic program that keeps every run within [min, max] doors and pays a penalty for each
   cut in the middle of a street, so runs end at street ends whenever the sizes allow it.
A precinct with fewer doors than the minimum is one turf, flagged `is_undersized`; a building with
more doors than the maximum is a turf of its own, flagged `is_oversized`.

Walking order:
- with coordinates, the shortest open path through the buildings we can find: nearest neighbour
  from the building nearest the turf's south-west corner, then 2-opt and Or-opt moves until neither
  improves. The path is open because a canvasser ends a turf wherever its last door is; it is
  computed as a closed tour through an extra point at distance zero from every building, which lets
  the moves change the path's ends too;
- without coordinates, street by street (alphabetical), the odd side in ascending house numbers,
  then the even side, also ascending: the order of printed lists, which canvassers look doors up
  in (issue 13). `even_side_ascending=False` walks the even side back down instead, so no stretch
  of street is walked twice without knocking;
- units of a building together, in natural order (#2 before #10).

Distances are in metres on an equirectangular projection centred on the precinct: within the few
kilometres of a precinct it is within 0.1 % of the great-circle distance and it keeps the routing
arithmetic planar and vectorized.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

EARTH_RADIUS_M = 6_371_008.8
MISSING_NUMBER = -1
GEOGRAPHY, STREET = "geography", "street"

# A cut inside a street costs as much as a turf (max - min) doors off the target size, the worst
# an in-bounds turf can be, so the street method ends turfs at street ends whenever sizes allow.
_MID_STREET_CUT_COST = 1.0
# Sizes out of bounds are allowed only when no partition fits (a precinct of 70 with turfs of
# 50-60); each door out of bounds then costs more than any in-bounds choice.
_OUT_OF_BOUNDS_COST = 1_000.0
_MIN_GAIN_M = 1e-7


# -- input -------------------------------------------------------------------------------------


class AddressParts(NamedTuple):
    number: int | None
    number_suffix: str
    street: str
    unit: str
    zip5: str


_NUMBER = re.compile(r"^\s*(\d+)(.*)$")


def parse_address_key(key: str | None) -> AddressParts:
    """`NUMBER|STREET|UNIT|ZIP5` (voters.addresses) into its parts.

    "12B" gives number 12 and suffix "B", "12-1/2" gives 12 and "-1/2", a number with no leading
    digits ("A") gives None and keeps the text as its suffix. Missing trailing parts are empty.
    """
    parts = (key or "").split("|")
    if len(parts) > 4:  # a "|" inside the street: the ends are still number, unit and zip
        parts = [parts[0], "|".join(parts[1:-2]), parts[-2], parts[-1]]
    parts += [""] * (4 - len(parts))
    raw_number, street, unit, zip5 = (p.strip() for p in parts)
    match = _NUMBER.match(raw_number)
    if match is None:
        return AddressParts(None, raw_number, street, unit, zip5)
    return AddressParts(int(match.group(1)), match.group(2).strip(), street, unit, zip5)


def _strings(values: object, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, "", dtype=object)
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def _floats(values: object, n: int, default: float) -> np.ndarray:
    if values is None:
        return np.full(n, default)
    return np.asarray(values, dtype=float)


@dataclass(frozen=True, eq=False)  # arrays: compare fields with np.array_equal
class Doors:
    """One entry per door (household). Unknown coordinates are NaN, an unknown house number is
    `MISSING_NUMBER`, unknown text is "". Doors sharing a non-empty `building` are one building
    (apartments: same number, street and zip, different units) and always share a turf."""

    household_id: np.ndarray
    precinct: np.ndarray
    latitude: np.ndarray | None = None
    longitude: np.ndarray | None = None
    street: np.ndarray | None = None
    house_number: np.ndarray | None = None
    number_suffix: np.ndarray | None = None
    unit: np.ndarray | None = None
    building: np.ndarray | None = None
    voters: np.ndarray | None = None
    net_votes: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.household_id)
        normalized = {
            "household_id": np.asarray(self.household_id),
            "precinct": _strings(self.precinct, n),
            "latitude": _floats(self.latitude, n, np.nan),
            "longitude": _floats(self.longitude, n, np.nan),
            "street": _strings(self.street, n),
            "house_number": np.asarray(
                np.full(n, MISSING_NUMBER) if self.house_number is None else self.house_number,
                dtype=np.int64,
            ),
            "number_suffix": _strings(self.number_suffix, n),
            "unit": _strings(self.unit, n),
            "building": _strings(self.building, n),
            "voters": np.asarray(np.ones(n) if self.voters is None else self.voters, dtype=int),
            "net_votes": _floats(self.net_votes, n, np.nan),
        }
        for name, values in normalized.items():
            if len(values) != n:
                raise ValueError(f"{name} has {len(values)} entries for {n} doors")
            object.__setattr__(self, name, values)
        if len(np.unique(normalized["household_id"])) != n:
            raise ValueError("household_id must be unique: each door is one household")

    def __len__(self) -> int:
        return len(self.household_id)


def doors_from_address_keys(
    *,
    household_id: Sequence | np.ndarray,
    precinct: Sequence | np.ndarray,
    address_key: Sequence[str | None],
    latitude: Sequence | np.ndarray | None = None,
    longitude: Sequence | np.ndarray | None = None,
    voters: Sequence | np.ndarray | None = None,
    net_votes: Sequence | np.ndarray | None = None,
) -> Doors:
    """`Doors` from households' address keys; doors with a unit share the building of their
    number, street and zip."""
    parsed = [parse_address_key(k) for k in address_key]
    return Doors(
        household_id=np.asarray(household_id),
        precinct=np.asarray(precinct, dtype=object),
        latitude=latitude,
        longitude=longitude,
        street=np.array([p.street for p in parsed], dtype=object),
        house_number=np.array(
            [MISSING_NUMBER if p.number is None else p.number for p in parsed], dtype=np.int64
        ),
        number_suffix=np.array([p.number_suffix for p in parsed], dtype=object),
        unit=np.array([p.unit for p in parsed], dtype=object),
        building=np.array(
            [
                f"{'' if p.number is None else p.number}{p.number_suffix}|{p.street}|{p.zip5}"
                if p.unit
                else ""
                for p in parsed
            ],
            dtype=object,
        ),
        voters=voters,
        net_votes=net_votes,
    )


# -- output ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turf:
    name: str
    precinct: str
    method: str  # GEOGRAPHY when its doors have positions, else STREET
    doors: int
    voters: int
    walking_m: float | None  # along the walking order; None without coordinates
    net_votes: float  # sum of the doors' known expected net votes; NaN when none is known
    is_undersized: bool  # fewer doors than the minimum (a small precinct or leftover)
    is_oversized: bool  # more than the maximum (a building bigger than a turf, or no fit)

    @property
    def net_votes_per_door(self) -> float:
        return self.net_votes / self.doors if self.doors else math.nan


@dataclass(frozen=True, eq=False)
class TurfCut:
    """Per door: `turf` (index into `turfs`) and `stop` (0-based position in its walking order)."""

    turf: np.ndarray
    stop: np.ndarray
    turfs: list[Turf]
    is_position_imputed: np.ndarray
    min_doors: int
    max_doors: int
    target_doors: float
    even_side_ascending: bool = True

    def members(self, index: int) -> np.ndarray:
        """Door indices of one turf in walking order."""
        doors = np.flatnonzero(self.turf == index)
        return doors[np.argsort(self.stop[doors], kind="stable")]


# -- preparation -------------------------------------------------------------------------------


def _ranks(values: np.ndarray) -> np.ndarray:
    """Dense ranks of values in sorted order, so text can go into np.lexsort as integers."""
    return np.unique(values, return_inverse=True)[1].astype(np.int64)


def _natural_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks in natural order: '#2' before '#10', then the text itself."""
    distinct, inverse = np.unique(values, return_inverse=True)

    def natural(text: str) -> tuple:
        return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))

    order = sorted(range(len(distinct)), key=lambda i: (natural(distinct[i]), distinct[i]))
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[order] = np.arange(len(distinct))
    return rank[inverse]


@dataclass
class _Prepared:
    """What the cutting and ordering need, computed once for all doors."""

    precinct: np.ndarray  # code per door, in sorted precinct-name order
    precinct_names: np.ndarray
    building: np.ndarray  # code per door; a door outside any building is its own
    street: np.ndarray  # rank
    number: np.ndarray
    suffix: np.ndarray  # rank
    unit: np.ndarray  # natural rank
    x: np.ndarray  # metres east of the precinct's centre; NaN unknown
    y: np.ndarray  # metres north
    has_street: np.ndarray
    is_imputed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _prepare(doors: Doors) -> _Prepared:
    n = len(doors)
    precinct_names, precinct = np.unique(doors.precinct, return_inverse=True)
    in_building = doors.building != ""
    building = np.arange(n, dtype=np.int64) + n  # singletons after the shared buildings' codes
    if in_building.any():
        keys = doors.precinct[in_building] + "\x1f" + doors.building[in_building]
        building[in_building] = _ranks(keys)
    prepared = _Prepared(
        precinct=precinct.astype(np.int64),
        precinct_names=precinct_names,
        building=building,
        street=_ranks(doors.street),
        number=doors.house_number,
        suffix=_ranks(doors.number_suffix),
        unit=_natural_ranks(doors.unit),
        x=np.full(n, np.nan),
        y=np.full(n, np.nan),
        has_street=doors.street != "",
        is_imputed=np.zeros(n, dtype=bool),
    )
    _project(doors, prepared)
    _impute_positions(prepared)
    return prepared


def _project(doors: Doors, prepared: _Prepared) -> None:
    """Equirectangular metres around each precinct's mean position."""
    located = np.isfinite(doors.latitude) & np.isfinite(doors.longitude)
    for code in range(len(prepared.precinct_names)):
        here = located & (prepared.precinct == code)
        if not here.any():
            continue
        lat = np.radians(doors.latitude[here])
        lon = np.radians(doors.longitude[here])
        lat0, lon0 = lat.mean(), lon.mean()
        prepared.x[here] = EARTH_RADIUS_M * (lon - lon0) * math.cos(lat0)
        prepared.y[here] = EARTH_RADIUS_M * (lat - lat0)


def _impute_positions(prepared: _Prepared) -> None:
    """A door without coordinates takes the position of the geocoded door on its street (same
    precinct) with the nearest house number; one with no house number, the street's middle
    geocoded door. Doors of no known street stay without a position."""
    located = np.isfinite(prepared.x)
    numbered = prepared.number != MISSING_NUMBER
    donors = np.flatnonzero(located & numbered & prepared.has_street)
    seekers = np.flatnonzero(~located & prepared.has_street)
    if not len(donors) or not len(seekers):
        return
    # One key per (precinct, street), donors sorted by it and by number: a street's donors are
    # one run [first, last], and a number's neighbours are found by one searchsorted.
    street_key = prepared.precinct * (prepared.street.max() + 1) + prepared.street
    donors = donors[np.lexsort((donors, prepared.number[donors], street_key[donors]))]
    first = np.searchsorted(street_key[donors], street_key[seekers], side="left")
    last = np.searchsorted(street_key[donors], street_key[seekers], side="right") - 1
    has_donor = first <= last
    seekers, first, last = seekers[has_donor], first[has_donor], last[has_donor]
    scale = prepared.number.max() + 2  # house numbers of one street never reach the next street
    donor_key = street_key[donors] * scale + prepared.number[donors]
    seeker_key = street_key[seekers] * scale + prepared.number[seekers]
    right = np.clip(np.searchsorted(donor_key, seeker_key), first, last)
    left = np.maximum(right - 1, first)
    use_left = np.abs(donor_key[left] - seeker_key) <= np.abs(donor_key[right] - seeker_key)
    nearest = np.where(use_left, left, right)
    nearest = np.where(numbered[seekers], nearest, (first + last) // 2)
    prepared.x[seekers] = prepared.x[donors[nearest]]
    prepared.y[seekers] = prepared.y[donors[nearest]]
    prepared.is_imputed[seekers] = True


# -- cutting -----------------------------------------------------------------------------------


def _turf_count(doors: int, min_doors: int, max_doors: int, target: float) -> int:
    """How many turfs `doors` doors make: nearest the target size, within bounds when possible."""
    if doors <= max_doors:
        return 1
    fewest, most = math.ceil(doors / max_doors), max(1, doors // min_doors)
    wanted = max(1, round(doors / target))
    return min(max(wanted, fewest), most) if fewest <= most else fewest


def _slice(
    items: np.ndarray,
    xy: np.ndarray,
    weight: np.ndarray,
    turfs: int,
    bounds: tuple[int, int],
) -> list[np.ndarray]:
    """Items (buildings) split into `turfs` groups: strips across the longer side, each strip
    holding a whole number of turfs, then each strip sliced the same way.

    The number of strips makes the cells about square (a region of 40 x 30 blocks and 20 turfs
    gives 5 strips of 4 turfs, i.e. 8 x 7.5 blocks each), which halving alone does not: halving
    5 turfs as 2 + 3 and 3 as 1 + 2 leaves long thin turfs."""
    if not len(items):
        return []
    if turfs <= 1 or len(items) == 1:
        return [items]
    span = xy[items].max(axis=0) - xy[items].min(axis=0)
    along = 0 if span[0] >= span[1] else 1
    # A side under a metre counts as one: a line of doors (one street) is cut into `turfs` pieces.
    ratio = span[along] / max(span[1 - along], 1.0)
    strips = min(turfs, max(2, round(math.sqrt(turfs * ratio))))
    counts = [turfs // strips + (index < turfs % strips) for index in range(strips)]
    order = items[np.lexsort((items, xy[items, 1 - along], xy[items, along]))]
    cumulative = np.cumsum(weight[order])
    cuts = [0]
    for index, count in enumerate(counts[:-1]):
        cuts.append(_best_cut(cumulative, cuts[-1], count, sum(counts[index + 1 :]), bounds))
    cuts.append(len(order))
    groups = []
    for (start, end), count in zip(pairwise(cuts), counts, strict=True):
        groups += _slice(order[start:end], xy, weight, count, bounds)
    return groups


def _best_cut(
    cumulative: np.ndarray, start: int, strip: int, rest: int, bounds: tuple[int, int]
) -> int:
    """Where the strip that begins at item `start` ends: its weight as near as can be to its share
    (`strip` turfs of the `strip + rest` left) with its turfs and the rest's within bounds."""
    if start >= len(cumulative) - 1:  # nothing left to cut: the rest is empty
        return len(cumulative)
    low, high = bounds
    total = cumulative[-1]
    before = cumulative[start - 1] if start else 0
    # Cutting after item c: the strip holds items start..c, the rest everything after.
    strip_weight = cumulative[:-1] - before
    rest_weight = total - cumulative[:-1]
    fits = (
        (strip_weight >= strip * low)
        & (strip_weight <= strip * high)
        & (rest_weight >= rest * low)
        & (rest_weight <= rest * high)
    )
    share = (total - before) * strip / (strip + rest)
    miss = np.abs(strip_weight - share) + np.where(fits, 0, total)
    miss[:start] = np.inf  # a strip holds at least one item
    return int(np.argmin(miss)) + 1


def _split_by_geography(
    doors: np.ndarray, prepared: _Prepared, bounds: tuple[int, int], target: float
) -> list[np.ndarray]:
    buildings, inverse = np.unique(prepared.building[doors], return_inverse=True)
    weight = np.bincount(inverse, minlength=len(buildings))
    xy = np.zeros((len(buildings), 2))
    np.add.at(xy, inverse, np.column_stack([prepared.x[doors], prepared.y[doors]]))
    xy /= weight[:, None]
    turfs = _turf_count(len(doors), *bounds, target)
    groups = _slice(np.arange(len(buildings)), xy, weight, turfs, bounds)
    label = np.empty(len(buildings), dtype=np.int64)
    for number, group in enumerate(groups):
        label[group] = number
    label = _repair_sizes(label, xy, weight, bounds)
    door_label = label[inverse]
    return [doors[door_label == number] for number in range(len(groups))]


def _size_excess(size: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
    """Doors below the minimum or above the maximum (0 within bounds)."""
    return np.maximum(bounds[0] - size, 0) + np.maximum(size - bounds[1], 0)


def _repair_sizes(
    label: np.ndarray, xy: np.ndarray, weight: np.ndarray, bounds: tuple[int, int]
) -> np.ndarray:
    """Buildings moved one at a time across turf borders until every turf is within bounds or no
    move helps. Big buildings can leave a slice out of bounds (the cut cannot fall inside one);
    a move goes to the turf of one of the building's nearest neighbours, shortest first, so turfs
    stay contiguous. Each move lowers the total excess, so this ends."""
    if len(label) < 2:
        return label
    label = label.copy()
    turfs = int(label.max()) + 1
    neighbours = min(16, len(label) - 1)
    distance, nearby = cKDTree(xy).query(xy, k=neighbours + 1)
    distance, nearby = distance[:, 1:], nearby[:, 1:]  # the first is the building itself
    for _ in range(len(label)):
        size = np.bincount(label, weights=weight, minlength=turfs)
        excess = _size_excess(size, bounds)
        if not excess.any():
            break
        source, target = label[:, None], label[nearby]
        moved = weight[:, None]
        gain = (
            excess[source]
            + excess[target]
            - _size_excess(size[source] - moved, bounds)
            - _size_excess(size[target] + moved, bounds)
        )
        gain = np.where(source == target, 0, gain)
        # The largest gain, then the shortest move: np.lexsort's last key is the primary one.
        best = np.lexsort((distance.ravel(), -gain.ravel()))[0]
        if gain.ravel()[best] <= 0:
            break
        label[best // neighbours] = target.ravel()[best]
    return label


def _street_sequence(doors: np.ndarray, prepared: _Prepared) -> np.ndarray:
    """Doors by street, house number (unknown last), suffix, building and unit."""
    number = np.where(
        prepared.number[doors] == MISSING_NUMBER, np.iinfo(np.int64).max, prepared.number[doors]
    )
    keys = (
        doors,
        prepared.unit[doors],
        prepared.building[doors],
        prepared.suffix[doors],
        number,
        prepared.street[doors],
    )
    return doors[np.lexsort(keys)]


def _split_by_street(
    doors: np.ndarray, prepared: _Prepared, bounds: tuple[int, int], target: float
) -> list[np.ndarray]:
    """Runs of the street sequence, cut only between buildings, sized by `_cheapest_runs`."""
    sequence = _street_sequence(doors, prepared)
    building = prepared.building[sequence]
    starts = np.flatnonzero(np.r_[True, building[1:] != building[:-1]])
    # Buildings in the sequence are contiguous: each shares one street, number and suffix.
    cumulative = np.r_[starts, len(sequence)]
    street = prepared.street[sequence[starts]]
    mid_street = np.r_[False, street[1:] == street[:-1]]
    cuts = _cheapest_runs(cumulative, mid_street, bounds, target)
    return [sequence[cumulative[a] : cumulative[b]] for a, b in pairwise(cuts)]


def _cheapest_runs(
    cumulative: np.ndarray, mid_street: np.ndarray, bounds: tuple[int, int], target: float
) -> list[int]:
    """Building boundaries (0 and the last included) that split the sequence into runs.

    A dynamic program over boundaries: the cost of a run is its squared distance from the target
    size (relative to the bounds' width), plus `_MID_STREET_CUT_COST` when it starts inside a
    street, plus `_OUT_OF_BOUNDS_COST` per door out of bounds. Only runs up to twice the maximum
    are considered, which keeps it linear in the number of buildings.
    """
    low, high = bounds
    width = max(high - low, 1)
    count = len(cumulative) - 1
    cost = np.full(count + 1, np.inf)
    cost[0] = 0.0
    previous = np.zeros(count + 1, dtype=np.int64)
    start_penalty = np.where(mid_street, _MID_STREET_CUT_COST, 0.0)
    for end in range(1, count + 1):
        first = int(np.searchsorted(cumulative, cumulative[end] - 2 * high, side="left"))
        first = min(first, end - 1)
        begin = np.arange(first, end)
        size = cumulative[end] - cumulative[begin]
        outside = np.maximum(low - size, 0) + np.maximum(size - high, 0)
        total = (
            cost[begin]
            + ((size - target) / width) ** 2
            + start_penalty[begin]
            + _OUT_OF_BOUNDS_COST * outside
        )
        best = int(np.argmin(total))
        cost[end], previous[end] = total[best], begin[best]
    cuts = [count]
    while cuts[-1] > 0:
        cuts.append(int(previous[cuts[-1]]))
    return cuts[::-1]


def _split(
    doors: np.ndarray, prepared: _Prepared, bounds: tuple[int, int], target: float
) -> list[np.ndarray]:
    """Doors of one precinct (or of a turf being re-cut) into groups of turf size."""
    located = np.isfinite(prepared.x[doors])
    groups: list[np.ndarray] = []
    if located.any():
        groups += _split_by_geography(doors[located], prepared, bounds, target)
    if (~located).any():
        groups += _split_by_street(doors[~located], prepared, bounds, target)
    return groups


# -- walking order -----------------------------------------------------------------------------


def shortest_open_path(xy: np.ndarray) -> np.ndarray:
    """An order of the points (n x 2, metres) giving a short open path: nearest neighbour from the
    point nearest the south-west corner, improved by 2-opt and Or-opt moves until neither helps;
    returned starting from the end nearer that corner."""
    count = len(xy)
    if count <= 2:
        return np.arange(count)
    # The extra point (index `count`) at distance zero from every point closes the path into a
    # tour, so tour moves may also change where the path starts and ends.
    distance = np.zeros((count + 1, count + 1))
    distance[:count, :count] = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    corner = xy.min(axis=0)
    start = int(np.argmin(np.hypot(*(xy - corner).T)))
    tour = np.r_[count, _nearest_neighbour(distance[:count, :count], start)]
    tour = _improve_tour(tour, distance)
    opened = np.roll(tour, -int(np.flatnonzero(tour == count)[0]))[1:]
    to_corner = np.hypot(*(xy[opened[[0, -1]]] - corner).T)
    return opened[::-1] if to_corner[1] < to_corner[0] else opened


def path_length(xy: np.ndarray, order: np.ndarray) -> float:
    """Metres along `order` through the points, not returning to the start."""
    steps = np.diff(xy[order], axis=0)
    return float(np.hypot(steps[:, 0], steps[:, 1]).sum())


def _nearest_neighbour(distance: np.ndarray, start: int) -> np.ndarray:
    count = len(distance)
    visited = np.zeros(count, dtype=bool)
    order = np.empty(count, dtype=np.int64)
    current = start
    for step in range(count):
        order[step] = current
        visited[current] = True
        if step + 1 < count:
            current = int(np.argmin(np.where(visited, np.inf, distance[current])))
    return order


def _improve_tour(tour: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Best-improvement 2-opt until none helps, then one Or-opt move, and again; ends at a local
    optimum of both. Or-opt is tried only at 2-opt optima because it costs three 2-opt scans."""
    upper = np.triu(np.ones((len(tour), len(tour)), dtype=bool), k=2)
    while True:
        gain, i, j = _best_two_opt(tour, distance, upper)
        if gain > _MIN_GAIN_M:
            tour = np.r_[tour[: i + 1], tour[i + 1 : j + 1][::-1], tour[j + 1 :]]
            continue
        gain, move = _best_or_opt(tour, distance)
        if gain <= _MIN_GAIN_M:
            return tour
        tour = _move_segment(tour, *move)


def _best_two_opt(
    tour: np.ndarray, distance: np.ndarray, upper: np.ndarray
) -> tuple[float, int, int]:
    """The best reversal of tour[i+1..j]: edges (a_i, b_i), (a_j, b_j) become (a_i, a_j), (b_i,
    b_j)."""
    after = tour[_shifted(len(tour), 1)]
    edge = distance[tour, after]
    gain = (
        edge[:, None]
        + edge[None, :]
        - distance[tour[:, None], tour[None, :]]
        - distance[after[:, None], after[None, :]]
    )
    gain = np.where(upper, gain, -np.inf)
    best = int(np.argmax(gain))
    i, j = divmod(best, len(tour))
    return float(gain[i, j]), i, j


def _best_or_opt(
    tour: np.ndarray, distance: np.ndarray
) -> tuple[float, tuple[int, int, int, bool]]:
    """The best move of a segment of 1-3 stops between two other neighbours, maybe reversed."""
    size = len(tour)
    after = tour[_shifted(size, 1)]
    before = tour[_shifted(size, -1)]
    edge = distance[tour, after]
    best_gain, best_move = -np.inf, (0, 1, 0, False)
    for length in range(1, min(3, size - 3) + 1):
        first = tour
        last = tour[_shifted(size, length - 1)]
        following = tour[_shifted(size, length)]
        removed = distance[before, first] + distance[last, following] - distance[before, following]
        forward = distance[tour[None, :], first[:, None]] + distance[last[:, None], after[None, :]]
        backward = distance[tour[None, :], last[:, None]] + distance[first[:, None], after[None, :]]
        inserted = np.minimum(forward, backward) - edge[None, :]
        gain = removed[:, None] - inserted
        gain[_touching_segment(size, length)] = -np.inf
        flat = int(np.argmax(gain))
        i, j = divmod(flat, size)
        if gain[i, j] > best_gain:
            best_gain = float(gain[i, j])
            best_move = (i, length, j, bool(backward[i, j] < forward[i, j]))
    return best_gain, best_move


@cache
def _shifted(size: int, step: int) -> np.ndarray:
    """Indices that read a tour `step` places on, cyclically (np.roll's result without its cost)."""
    return (np.arange(size) + step) % size


@cache
def _touching_segment(size: int, length: int) -> np.ndarray:
    """Mask [i, j]: edge j (tour[j] to its successor) touches the segment of `length` stops that
    starts at i, i.e. j is one of i-1 .. i+length-1 (cyclic); the segment cannot go there."""
    offset = (np.arange(size)[None, :] - np.arange(size)[:, None]) % size
    return (offset >= size - 1) | (offset < length)


def _move_segment(
    tour: np.ndarray, start: int, length: int, edge: int, reverse: bool
) -> np.ndarray:
    """Tour with tour[start..start+length-1] moved between tour[edge] and its successor."""
    size = len(tour)
    taken = (start + np.arange(length)) % size
    segment = tour[taken][::-1] if reverse else tour[taken]
    keep = np.ones(size, dtype=bool)
    keep[taken] = False
    rest = tour[keep]
    position = int(np.flatnonzero(rest == tour[edge])[0]) + 1
    return np.r_[rest[:position], segment, rest[position:]]


def _walk_by_geography(doors: np.ndarray, prepared: _Prepared) -> tuple[np.ndarray, float]:
    """Doors in walking order and metres walked: buildings on the short path, units in order."""
    buildings, first, inverse = np.unique(
        prepared.building[doors], return_index=True, return_inverse=True
    )
    # Units of a building share its place (imputed doors take a neighbour's): the first will do.
    xy = np.column_stack([prepared.x[doors[first]], prepared.y[doors[first]]])
    path = shortest_open_path(xy)
    stop_of_building = np.empty(len(buildings), dtype=np.int64)
    stop_of_building[path] = np.arange(len(buildings))
    order = np.lexsort((doors, prepared.unit[doors], stop_of_building[inverse]))
    return doors[order], path_length(xy, path)


def _walk_by_street(doors: np.ndarray, prepared: _Prepared, even_ascending: bool) -> np.ndarray:
    """Street by street: odd side ascending, then even side (ascending unless asked otherwise),
    then doors with no number; a building's units together."""
    number = prepared.number[doors]
    side = np.where(number == MISSING_NUMBER, 2, np.where(number % 2 == 1, 0, 1))
    along = np.lexsort((prepared.suffix[doors], number))
    rank = np.empty(len(doors), dtype=np.int64)
    rank[along] = np.arange(len(doors))
    if not even_ascending:
        rank = np.where(side == 1, -rank, rank)
    keys = (doors, prepared.unit[doors], prepared.building[doors], rank, side)
    return doors[np.lexsort((*keys, prepared.street[doors]))]


def _walk(
    doors: np.ndarray, prepared: _Prepared, even_ascending: bool
) -> tuple[np.ndarray, float | None]:
    """Located doors on the short path, then any others in street order."""
    located = np.isfinite(prepared.x[doors])
    if not located.any():
        return _walk_by_street(doors, prepared, even_ascending), None
    walked, metres = _walk_by_geography(doors[located], prepared)
    rest = _walk_by_street(doors[~located], prepared, even_ascending)
    return np.r_[walked, rest], metres


# -- assembling the result ---------------------------------------------------------------------


def _summarize(
    name: str,
    walked: np.ndarray,
    metres: float | None,
    doors: Doors,
    bounds: tuple[int, int],
) -> Turf:
    known = doors.net_votes[walked]
    known = known[np.isfinite(known)]
    return Turf(
        name=name,
        precinct=str(doors.precinct[walked[0]]),
        method=STREET if metres is None else GEOGRAPHY,
        doors=len(walked),
        voters=int(doors.voters[walked].sum()),
        walking_m=metres,
        net_votes=float(known.sum()) if len(known) else math.nan,
        is_undersized=len(walked) < bounds[0],
        is_oversized=len(walked) > bounds[1],
    )


def _assemble(
    groups: list[tuple[str, np.ndarray]],
    doors: Doors,
    prepared: _Prepared,
    settings: dict,
) -> TurfCut:
    """Route each named group of doors and build the cut."""
    turf = np.full(len(doors), -1, dtype=np.int64)
    stop = np.full(len(doors), -1, dtype=np.int64)
    turfs = []
    bounds = (settings["min_doors"], settings["max_doors"])
    for index, (name, members) in enumerate(groups):
        walked, metres = _walk(members, prepared, settings["even_side_ascending"])
        turf[walked] = index
        stop[walked] = np.arange(len(walked))
        turfs.append(_summarize(name, walked, metres, doors, bounds))
    return TurfCut(
        turf=turf, stop=stop, turfs=turfs, is_position_imputed=prepared.is_imputed, **settings
    )


def _settings(
    min_doors: int, max_doors: int, target_doors: float | None, even_side_ascending: bool
) -> dict:
    if not 1 <= min_doors <= max_doors:
        raise ValueError("turf sizes need 1 <= min_doors <= max_doors")
    target = (min_doors + max_doors) / 2 if target_doors is None else float(target_doors)
    if not min_doors <= target <= max_doors:
        raise ValueError("target_doors must lie between min_doors and max_doors")
    return {
        "min_doors": min_doors,
        "max_doors": max_doors,
        "target_doors": target,
        "even_side_ascending": even_side_ascending,
    }


def cut_turfs(
    doors: Doors,
    *,
    min_doors: int = 40,
    max_doors: int = 80,
    target_doors: float | None = None,
    even_side_ascending: bool = True,
) -> TurfCut:
    """Every door in exactly one turf of its precinct, each turf in walking order.

    Turfs are numbered precinct by precinct (precincts in sorted order) and named
    "<precinct>-<nnn>" in that order, so the same input gives the same names."""
    settings = _settings(min_doors, max_doors, target_doors, even_side_ascending)
    bounds = (min_doors, max_doors)
    prepared = _prepare(doors)
    by_precinct = np.argsort(prepared.precinct, kind="stable")
    ends = np.searchsorted(
        prepared.precinct[by_precinct], np.arange(len(prepared.precinct_names) + 1)
    )
    groups = []
    for code, name in enumerate(prepared.precinct_names):
        members = by_precinct[ends[code] : ends[code + 1]]
        parts = _split(members, prepared, bounds, settings["target_doors"])
        groups += [(f"{name}-{number:03d}", part) for number, part in enumerate(parts, start=1)]
    return _assemble(groups, doors, prepared, settings)


# -- ranking and re-cutting --------------------------------------------------------------------


def rank_turfs(cut: TurfCut) -> list[int]:
    """Turf indices, best expected net votes per door first; unknown (NaN) last, ties by name."""

    def key(index: int) -> tuple[bool, float, str]:
        per_door = cut.turfs[index].net_votes_per_door
        unknown = math.isnan(per_door)
        return unknown, 0.0 if unknown else -per_door, cut.turfs[index].name

    return sorted(range(len(cut.turfs)), key=key)


def _centroid(members: np.ndarray, prepared: _Prepared) -> np.ndarray | None:
    located = members[np.isfinite(prepared.x[members])]
    if not len(located):
        return None
    return np.array([prepared.x[located].mean(), prepared.y[located].mean()])


def _nearest_turf(cut: TurfCut, index: int, prepared: _Prepared) -> int | None:
    """The turf of the same precinct closest to turf `index`: by centroid when both have
    positions, otherwise the one sharing most of its streets (then the nearest index)."""
    here = cut.turf == index
    mine = _centroid(np.flatnonzero(here), prepared)
    my_streets = np.unique(prepared.street[here])
    candidates = []
    for other, summary in enumerate(cut.turfs):
        if other == index or summary.precinct != cut.turfs[index].precinct:
            continue
        members = np.flatnonzero(cut.turf == other)
        theirs = _centroid(members, prepared)
        if mine is not None and theirs is not None:
            candidates.append((0, float(np.hypot(*(mine - theirs))), abs(other - index), other))
        else:
            shared = np.isin(prepared.street[members], my_streets).sum()
            candidates.append((1, -float(shared), abs(other - index), other))
    return min(candidates)[3] if candidates else None


def _next_names(cut: TurfCut, precinct: str, count: int) -> list[str]:
    used = [t.name for t in cut.turfs if t.precinct == precinct]
    numbers = [int(m.group(1)) for n in used if (m := re.search(r"-(\d+)$", n))]
    start = max(numbers, default=0) + 1
    return [f"{precinct}-{number:03d}" for number in range(start, start + count)]


def recut_turf(
    doors: Doors,
    cut: TurfCut,
    index: int,
    *,
    min_doors: int | None = None,
    max_doors: int | None = None,
) -> TurfCut:
    """Turf `index` made to fit [min, max] again (defaults: the cut's own bounds).

    Too big: re-split into turfs of the target size; the first keeps the turf's name and index,
    the others are appended with the precinct's next names. Too small: merged into the nearest turf
    of its precinct (which keeps its name; the small turf's index is removed and later indices
    shift down by one), re-split when the union is too big. A turf in bounds, or a small turf alone
    in its precinct, is returned unchanged. Other turfs keep their doors, order and names; the
    returned cut carries the bounds used, which flag every turf's size against them."""
    same_bounds = min_doors is None and max_doors is None
    settings = _settings(
        cut.min_doors if min_doors is None else min_doors,
        cut.max_doors if max_doors is None else max_doors,
        cut.target_doors if same_bounds else None,
        cut.even_side_ascending,
    )
    bounds = (settings["min_doors"], settings["max_doors"])
    size = int((cut.turf == index).sum())
    if bounds[0] <= size <= bounds[1]:
        return cut
    prepared = _prepare(doors)
    keep, removed = index, None
    if size < bounds[0]:
        neighbour = _nearest_turf(cut, index, prepared)
        if neighbour is None:
            return cut
        keep, removed = neighbour, index
    members = np.flatnonzero((cut.turf == index) | (cut.turf == keep))
    parts = _split(members, prepared, bounds, settings["target_doors"])
    groups = []
    for other, summary in enumerate(cut.turfs):
        if other == keep:
            groups.append((summary.name, parts[0]))
        elif other != removed:
            groups.append((summary.name, np.flatnonzero(cut.turf == other)))
    names = _next_names(cut, cut.turfs[index].precinct, len(parts) - 1)
    groups += list(zip(names, parts[1:], strict=True))
    return _reassemble(groups, cut, doors, prepared, settings)


def _reassemble(
    groups: list[tuple[str, np.ndarray]],
    cut: TurfCut,
    doors: Doors,
    prepared: _Prepared,
    settings: dict,
) -> TurfCut:
    """Like `_assemble`, but turfs whose doors did not change keep their order and summary."""
    previous = {t.name: i for i, t in enumerate(cut.turfs)}
    changed = [(name, m) for name, m in groups if not _unchanged(cut, previous.get(name), m)]
    fresh = _assemble(changed, doors, prepared, settings)
    turf = np.full(len(doors), -1, dtype=np.int64)
    stop = cut.stop.copy()
    turfs = []
    fresh_index = {t.name: i for i, t in enumerate(fresh.turfs)}
    for index, (name, members) in enumerate(groups):
        turf[members] = index
        if name in fresh_index:
            stop[members] = fresh.stop[members]
            turfs.append(fresh.turfs[fresh_index[name]])
        else:
            kept = cut.turfs[previous[name]]
            turfs.append(
                replace(
                    kept,
                    is_undersized=kept.doors < settings["min_doors"],
                    is_oversized=kept.doors > settings["max_doors"],
                )
            )
    return replace(fresh, turf=turf, stop=stop, turfs=turfs)


def _unchanged(cut: TurfCut, index: int | None, members: np.ndarray) -> bool:
    if index is None:
        return False
    return np.array_equal(np.flatnonzero(cut.turf == index), members)
