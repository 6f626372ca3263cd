"""Turf cutting and walking order (messaging.turfs): pure numpy, no database."""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import pytest

from messaging.turfs import (
    GEOGRAPHY,
    MISSING_NUMBER,
    STREET,
    AddressParts,
    Doors,
    cut_turfs,
    doors_from_address_keys,
    parse_address_key,
    path_length,
    rank_turfs,
    recut_turf,
    shortest_open_path,
)

LAT0, LON0 = 35.9, -79.0
METRES_PER_DEGREE = 6_371_008.8 * math.pi / 180


def _lat_lon(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres east and north of (LAT0, LON0) as latitude and longitude."""
    lat = LAT0 + np.asarray(y, dtype=float) / METRES_PER_DEGREE
    lon = LON0 + np.asarray(x, dtype=float) / (METRES_PER_DEGREE * math.cos(math.radians(LAT0)))
    return lat, lon


def _located_doors(x, y, precinct=None, building=None, net_votes=None) -> Doors:
    lat, lon = _lat_lon(x, y)
    n = len(lat)
    return Doors(
        household_id=np.arange(n),
        precinct=np.full(n, "P1", dtype=object) if precinct is None else precinct,
        latitude=lat,
        longitude=lon,
        building=building,
        net_votes=net_votes,
    )


def _street_doors(rows: list[tuple[str, int, str]], precinct: str = "P1") -> Doors:
    """Doors without coordinates from (street, house number, unit) rows; units share a building."""
    return Doors(
        household_id=np.arange(len(rows)),
        precinct=np.full(len(rows), precinct, dtype=object),
        street=np.array([r[0] for r in rows], dtype=object),
        house_number=np.array([r[1] for r in rows]),
        unit=np.array([r[2] for r in rows], dtype=object),
        building=np.array([f"{r[1]}|{r[0]}" if r[2] else "" for r in rows], dtype=object),
    )


def _grid(columns: int, rows: int, spacing: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(np.arange(columns) * spacing, np.arange(rows) * spacing)
    return x.ravel(), y.ravel()


def _sizes(cut) -> list[int]:
    return [t.doors for t in cut.turfs]


def _optimal_paths(xy: np.ndarray, tolerance: float) -> tuple[float, set[tuple[int, ...]]]:
    """Brute force: the shortest open path's length and every order within `tolerance` of it."""
    orders = np.array(list(permutations(range(len(xy)))))
    steps = np.diff(xy[orders], axis=1)
    lengths = np.hypot(steps[..., 0], steps[..., 1]).sum(axis=1)
    best = lengths.min()
    return float(best), {tuple(o) for o in orders[lengths <= best + tolerance]}


# -- address keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("12|MAIN ST|#4|27510", AddressParts(12, "", "MAIN ST", "#4", "27510")),
        ("12B|MAIN ST||27510", AddressParts(12, "B", "MAIN ST", "", "27510")),
        ("12-1/2|OAK AVE||", AddressParts(12, "-1/2", "OAK AVE", "", "")),
        ("12 1/2|OAK AVE||", AddressParts(12, "1/2", "OAK AVE", "", "")),
        ("A|RURAL RTE 2||27510", AddressParts(None, "A", "RURAL RTE 2", "", "27510")),
        ("|MAIN ST||27510", AddressParts(None, "", "MAIN ST", "", "27510")),
        ("7|ELM ST", AddressParts(7, "", "ELM ST", "", "")),
        ("", AddressParts(None, "", "", "", "")),
        (None, AddressParts(None, "", "", "", "")),
        ("5|A|B ST|#2|27510", AddressParts(5, "", "A|B ST", "#2", "27510")),
    ],
)
def test_address_key_parses_into_number_suffix_street_unit_and_zip(key, parts):
    assert parse_address_key(key) == parts


def test_units_of_one_address_share_a_building_and_houses_have_none():
    doors = doors_from_address_keys(
        household_id=[1, 2, 3],
        precinct=["P1", "P1", "P1"],
        address_key=["10|MAIN ST|#1|27510", "10|MAIN ST|#2|27510", "12B|MAIN ST||27510"],
    )
    assert list(doors.building) == ["10|MAIN ST|27510", "10|MAIN ST|27510", ""]
    assert list(doors.house_number) == [10, 10, 12]
    assert list(doors.number_suffix) == ["", "", "B"]


def test_doors_walked_from_address_keys_go_odd_side_then_even_side_both_ascending():
    keys = ["4|MAIN ST||27510", "1|MAIN ST||27510", "3|MAIN ST|#2|27510", "2|MAIN ST||27510"]
    keys += ["3|MAIN ST|#1|27510", "12B|MAIN ST||27510", "12|MAIN ST||27510"]
    doors = doors_from_address_keys(household_id=range(7), precinct=["P1"] * 7, address_key=keys)

    cut = cut_turfs(doors, min_doors=1, max_doors=20)

    assert [keys[i] for i in cut.members(0)] == [
        "1|MAIN ST||27510",
        "3|MAIN ST|#1|27510",
        "3|MAIN ST|#2|27510",
        "2|MAIN ST||27510",
        "4|MAIN ST||27510",
        "12|MAIN ST||27510",
        "12B|MAIN ST||27510",
    ]


def test_doors_walked_from_address_keys_go_odd_side_up_and_even_side_back_when_asked():
    keys = ["4|MAIN ST||27510", "1|MAIN ST||27510", "3|MAIN ST|#2|27510", "2|MAIN ST||27510"]
    keys += ["3|MAIN ST|#1|27510", "12B|MAIN ST||27510", "12|MAIN ST||27510"]
    doors = doors_from_address_keys(household_id=range(7), precinct=["P1"] * 7, address_key=keys)

    cut = cut_turfs(doors, min_doors=1, max_doors=20, even_side_ascending=False)

    assert [keys[i] for i in cut.members(0)] == [
        "1|MAIN ST||27510",
        "3|MAIN ST|#1|27510",
        "3|MAIN ST|#2|27510",
        "12B|MAIN ST||27510",
        "12|MAIN ST||27510",
        "4|MAIN ST||27510",
        "2|MAIN ST||27510",
    ]


def test_doors_refuse_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="street has 1 entries for 2 doors"):
        Doors(household_id=np.array([1, 2]), precinct=["P1", "P1"], street=["MAIN ST"])


def test_doors_refuse_a_household_twice():
    with pytest.raises(ValueError, match="unique"):
        Doors(household_id=np.array([1, 1]), precinct=np.array(["P1", "P1"]))


# -- cutting by geography ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_turf_sizes_are_within_bounds_on_random_doors(seed):
    rng = np.random.default_rng(seed)
    n = 3_000
    precinct = rng.choice(np.array(["A", "B", "C"], dtype=object), n)
    doors = _located_doors(rng.uniform(0, 2_000, n), rng.uniform(0, 1_000, n), precinct=precinct)

    cut = cut_turfs(doors, min_doors=40, max_doors=80)

    assert all(40 <= size <= 80 for size in _sizes(cut))
    assert {t.method for t in cut.turfs} == {GEOGRAPHY}


def test_turf_sizes_are_within_bounds_on_clustered_doors():
    rng = np.random.default_rng(7)
    centres = rng.uniform(0, 3_000, (12, 2))
    counts = rng.integers(20, 400, 12)
    xy = np.vstack([rng.normal(c, 60, (k, 2)) for c, k in zip(centres, counts, strict=True)])

    cut = cut_turfs(_located_doors(xy[:, 0], xy[:, 1]), min_doors=40, max_doors=80)

    assert all(40 <= size <= 80 for size in _sizes(cut))
    assert sum(_sizes(cut)) == counts.sum()


@pytest.mark.parametrize("seed", [0, 3, 156])
def test_turf_sizes_are_within_bounds_when_apartment_buildings_are_lumpy(seed):
    # A tenth of the addresses are buildings of 2-40 units: slices cannot cut inside a building,
    # so only moving buildings across borders brings every turf within bounds.
    rng = np.random.default_rng(seed)
    addresses = rng.integers(20, 400)
    units = np.where(rng.random(addresses) < 0.1, rng.integers(2, 41, addresses), 1)
    x, y = rng.uniform(0, 1500, addresses), rng.uniform(0, rng.uniform(100, 1500), addresses)
    address = np.repeat(np.arange(addresses), units)
    building = np.array([f"B{a}" if units[a] > 1 else "" for a in address], dtype=object)

    cut = cut_turfs(_located_doors(x[address], y[address], building=building))

    assert all(40 <= size <= 80 for size in _sizes(cut))
    assert all(len(set(cut.turf[address == a])) == 1 for a in range(addresses))


def test_every_household_is_in_exactly_one_turf_with_one_stop_each():
    rng = np.random.default_rng(3)
    n = 1_000
    located = rng.random(n) < 0.8
    doors = Doors(
        household_id=np.arange(n) * 7,
        precinct=rng.choice(np.array(["A", "B"], dtype=object), n),
        latitude=np.where(located, LAT0 + rng.uniform(0, 0.01, n), np.nan),
        longitude=np.where(located, LON0 + rng.uniform(0, 0.01, n), np.nan),
        street=rng.choice(np.array(["OAK ST", "ELM ST", "PINE ST"], dtype=object), n),
        house_number=np.arange(n) + 1,
    )

    cut = cut_turfs(doors)

    assert (cut.turf >= 0).all()
    assert sum(_sizes(cut)) == n
    for index in range(len(cut.turfs)):
        stops = np.sort(cut.stop[cut.turf == index])
        assert stops.tolist() == list(range(cut.turfs[index].doors))


def test_a_turf_never_mixes_precincts():
    rng = np.random.default_rng(4)
    n = 2_000
    # Interleaved precincts on the same ground: only the precinct line can keep them apart.
    precinct = rng.choice(np.array(["A", "B", "C", "D"], dtype=object), n)
    doors = _located_doors(rng.uniform(0, 1_000, n), rng.uniform(0, 1_000, n), precinct=precinct)

    cut = cut_turfs(doors)

    for index, turf in enumerate(cut.turfs):
        assert set(doors.precinct[cut.turf == index]) == {turf.precinct}
        assert turf.name.startswith(f"{turf.precinct}-")


def test_a_building_is_never_split_and_its_units_are_walked_together_in_order():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 800, 600), rng.uniform(0, 800, 600)
    building = np.full(600, "", dtype=object)
    unit = np.full(600, "", dtype=object)
    for first, units in ((0, 30), (100, 25), (300, 12)):  # three apartment buildings
        building[first : first + units] = f"B{first}"
        unit[first : first + units] = [f"#{u}" for u in range(1, units + 1)]
        x[first : first + units], y[first : first + units] = x[first], y[first]
    doors = Doors(
        household_id=np.arange(600),
        precinct=np.full(600, "P1", dtype=object),
        latitude=_lat_lon(x, y)[0],
        longitude=_lat_lon(x, y)[1],
        unit=unit,
        building=building,
    )

    cut = cut_turfs(doors, min_doors=40, max_doors=80)

    for first, units in ((0, 30), (100, 25), (300, 12)):
        members = np.arange(first, first + units)
        assert len(set(cut.turf[members])) == 1
        stops = cut.stop[members]
        assert sorted(stops) == list(range(stops.min(), stops.min() + units))
        assert stops.tolist() == sorted(stops.tolist())  # #1, #2, ... #10 in natural order


def test_a_precinct_smaller_than_the_minimum_is_one_undersized_turf():
    x, y = _grid(5, 5)
    cut = cut_turfs(_located_doors(x, y), min_doors=40, max_doors=80)

    assert _sizes(cut) == [25]
    assert cut.turfs[0].is_undersized
    assert cut.turfs[0].name == "P1-001"


def test_a_building_bigger_than_the_maximum_is_one_oversized_turf():
    x, y = _grid(10, 10)
    building = np.array(["TOWER" if i < 90 else "" for i in range(100)], dtype=object)
    x[:90], y[:90] = 0.0, 0.0

    cut = cut_turfs(_located_doors(x, y, building=building), min_doors=4, max_doors=8)

    tower = cut.turfs[cut.turf[0]]
    assert (tower.doors, tower.is_oversized) == (90, True)
    assert [t.is_oversized for t in cut.turfs].count(True) == 1


def test_turfs_on_a_grid_are_compact():
    """Each door's nearest turf centroid is its own turf's, and no two turfs' bounding boxes
    overlap by any area: turfs are blocks, not interleaved."""
    x, y = _grid(40, 30)
    cut = cut_turfs(_located_doors(x, y), min_doors=40, max_doors=80)

    xy = np.column_stack([x, y])
    centroids = np.array([xy[cut.turf == i].mean(axis=0) for i in range(len(cut.turfs))])
    nearest = np.argmin(np.hypot(*(xy[:, None, :] - centroids[None, :, :]).transpose(2, 0, 1)), 1)
    assert (nearest == cut.turf).mean() >= 0.95
    boxes = np.array(
        [[*xy[cut.turf == i].min(0), *xy[cut.turf == i].max(0)] for i in range(len(cut.turfs))]
    )
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            overlap_x = min(boxes[a, 2], boxes[b, 2]) - max(boxes[a, 0], boxes[b, 0])
            overlap_y = min(boxes[a, 3], boxes[b, 3]) - max(boxes[a, 1], boxes[b, 1])
            assert min(overlap_x, overlap_y) <= 0  # at most an edge in common


def test_the_same_doors_give_the_same_turfs():
    rng = np.random.default_rng(6)
    n = 1_500
    located = rng.random(n) < 0.9
    doors = Doors(
        household_id=np.arange(n),
        precinct=rng.choice(np.array(["A", "B"], dtype=object), n),
        latitude=np.where(located, LAT0 + rng.uniform(0, 0.01, n), np.nan),
        longitude=np.where(located, LON0 + rng.uniform(0, 0.01, n), np.nan),
        street=rng.choice(np.array(["OAK ST", "ELM ST"], dtype=object), n),
        house_number=rng.integers(1, 500, n),
    )

    first, second = cut_turfs(doors), cut_turfs(doors)

    assert np.array_equal(first.turf, second.turf)
    assert np.array_equal(first.stop, second.stop)
    assert first.turfs == second.turfs


# -- doors without coordinates -----------------------------------------------------------------


def test_without_coordinates_the_street_can_be_walked_up_the_odd_side_and_back_down_the_even():
    rows = [("MAIN ST", n, "") for n in (8, 3, 1, 6, 2, 5, 4, 7)] + [
        ("ASH ST", 2, ""),
        ("ASH ST", 1, ""),
    ]
    doors = _street_doors(rows)

    cut = cut_turfs(doors, min_doors=1, max_doors=20, even_side_ascending=False)

    walked = [(doors.street[i], int(doors.house_number[i])) for i in cut.members(0)]
    assert walked == [("ASH ST", 1), ("ASH ST", 2)] + [
        ("MAIN ST", n) for n in (1, 3, 5, 7, 8, 6, 4, 2)
    ]
    assert cut.turfs[0].walking_m is None
    assert cut.turfs[0].method == STREET


def test_without_coordinates_streets_go_odd_side_then_even_side_both_ascending_by_default():
    rows = [("MAIN ST", n, "") for n in (8, 3, 1, 6, 2, 5, 4, 7)] + [
        ("ASH ST", 2, ""),
        ("ASH ST", 1, ""),
    ]
    doors = _street_doors(rows)

    cut = cut_turfs(doors, min_doors=1, max_doors=20)

    walked = [(doors.street[i], int(doors.house_number[i])) for i in cut.members(0)]
    assert walked == [("ASH ST", 1), ("ASH ST", 2)] + [
        ("MAIN ST", n) for n in (1, 3, 5, 7, 2, 4, 6, 8)
    ]
    assert cut.even_side_ascending is True


def test_without_coordinates_units_of_a_building_stay_together_in_natural_order():
    rows = [("MAIN ST", 3, "#10"), ("MAIN ST", 1, ""), ("MAIN ST", 3, "#2"), ("MAIN ST", 2, "")]
    rows += [("MAIN ST", 3, "#1"), ("MAIN ST", 5, "")]
    doors = _street_doors(rows)

    cut = cut_turfs(doors, min_doors=1, max_doors=20)

    walked = [(int(doors.house_number[i]), doors.unit[i]) for i in cut.members(0)]
    assert walked == [(1, ""), (3, "#1"), (3, "#2"), (3, "#10"), (5, ""), (2, "")]


def test_without_coordinates_turfs_end_at_street_ends_when_sizes_allow():
    rows = []
    for street, count in (("ASH ST", 30), ("BAY ST", 30), ("CAY ST", 50), ("DUNE ST", 50)):
        rows += [(street, n, "") for n in range(1, count + 1)]
    doors = _street_doors(rows)

    cut = cut_turfs(doors, min_doors=40, max_doors=80)

    streets = [sorted(set(doors.street[cut.turf == i])) for i in range(len(cut.turfs))]
    assert streets == [["ASH ST", "BAY ST"], ["CAY ST"], ["DUNE ST"]]
    assert _sizes(cut) == [60, 50, 50]


def test_without_coordinates_a_long_street_is_cut_into_runs_of_neighbouring_numbers():
    doors = _street_doors([("MAIN ST", n, "") for n in range(1, 201)])

    cut = cut_turfs(doors, min_doors=40, max_doors=80)

    runs = [sorted(doors.house_number[cut.turf == i].tolist()) for i in range(len(cut.turfs))]
    assert [(r[0], r[-1]) for r in runs] == [(1, 66), (67, 133), (134, 200)]


def test_a_door_without_coordinates_joins_the_turf_of_its_street_neighbour():
    x = np.arange(60) * 15.0
    lat, lon = _lat_lon(x, np.zeros(60))
    lat[30], lon[30] = np.nan, np.nan  # 61 MAIN ST not geocoded; 59 and 63 are
    lat[59], lon[59] = np.nan, np.nan  # a house on a street with no geocoded door
    street = np.array(["MAIN ST"] * 59 + ["LOST LN"], dtype=object)
    doors = Doors(
        household_id=np.arange(60),
        precinct=np.full(60, "P1", dtype=object),
        latitude=lat,
        longitude=lon,
        street=street,
        house_number=np.r_[np.arange(59) * 2 + 1, 9],
    )

    cut = cut_turfs(doors, min_doors=20, max_doors=40)

    assert cut.is_position_imputed.tolist() == [i == 30 for i in range(60)]
    assert cut.turf[30] in (cut.turf[29], cut.turf[31])
    lost = cut.turfs[cut.turf[59]]
    assert (lost.method, lost.doors, lost.is_undersized) == (STREET, 1, True)


def test_a_door_with_no_number_is_placed_mid_street_and_one_with_no_street_is_not_placed():
    lat, lon = _lat_lon(np.r_[np.arange(5) * 15.0, 0.0, 0.0], np.zeros(7))
    lat[5:], lon[5:] = np.nan, np.nan
    doors = Doors(
        household_id=np.arange(7),
        precinct=np.full(7, "P1", dtype=object),
        latitude=lat,
        longitude=lon,
        street=np.array(["MAIN ST"] * 6 + [""], dtype=object),
        house_number=np.array([1, 3, 5, 7, 9, MISSING_NUMBER, 11]),
    )

    cut = cut_turfs(doors, min_doors=1, max_doors=20)

    assert cut.is_position_imputed.tolist() == [False] * 5 + [True, False]
    assert cut.turf[5] == cut.turf[2]
    assert abs(int(cut.stop[5]) - int(cut.stop[2])) == 1  # knocked with 5 MAIN ST
    assert cut.turfs[cut.turf[6]].method == STREET


# -- walking order -----------------------------------------------------------------------------


def test_walking_order_on_a_3_by_3_grid_is_a_shortest_open_path():
    x, y = _grid(3, 3, spacing=10.0)
    xy = np.column_stack([x, y])

    order = shortest_open_path(xy)

    best, optimal = _optimal_paths(xy, tolerance=1e-9)
    assert best == 80.0
    assert tuple(order.tolist()) in optimal
    assert order[0] == 0  # starts at the south-west corner


def test_walking_order_on_a_2_by_4_grid_zigzags_across_the_short_side():
    # Columns 30 m apart, rows 10 m apart: crossing the short side each time is the best route.
    x, y = _grid(4, 2, spacing=1.0)
    xy = np.column_stack([x * 30.0, y * 10.0])

    order = shortest_open_path(xy)

    best, optimal = _optimal_paths(xy, tolerance=1e-9)
    assert best == 3 * 30.0 + 4 * 10.0
    assert tuple(order.tolist()) in optimal
    assert order.tolist() == [0, 4, 5, 1, 2, 6, 7, 3]


def test_walking_order_of_a_turf_is_the_shortest_route_through_its_doors():
    # An irregular handful, as lat/lon: the whole path (cut, projection, route) against brute force.
    x = np.array([0.0, 40.0, 10.0, 55.0, 30.0, 5.0, 60.0, 25.0])
    y = np.array([0.0, 5.0, 30.0, 35.0, 60.0, 70.0, 80.0, 20.0])
    cut = cut_turfs(_located_doors(x, y), min_doors=1, max_doors=20)

    walked = cut.members(0)

    best, optimal = _optimal_paths(np.column_stack([x, y]), tolerance=1e-3)
    assert tuple(walked.tolist()) in optimal
    assert cut.turfs[0].walking_m == pytest.approx(best, rel=1e-4)


def test_walking_distance_along_a_street_is_the_distance_between_its_ends():
    x = np.arange(6) * 12.0
    cut = cut_turfs(_located_doors(x, np.zeros(6)), min_doors=1, max_doors=20)

    assert cut.members(0).tolist() == [0, 1, 2, 3, 4, 5]
    assert cut.turfs[0].walking_m == pytest.approx(60.0, rel=1e-4)


def test_path_length_is_open():
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 0.0]])
    assert path_length(xy, np.array([0, 1, 2])) == 9.0


# -- totals, ranking and re-cutting ------------------------------------------------------------


def test_a_turf_reports_its_voters_and_known_net_votes():
    doors = Doors(
        household_id=np.arange(4),
        precinct=np.full(4, "P1", dtype=object),
        street=np.array(["MAIN ST"] * 4, dtype=object),
        house_number=np.array([1, 2, 3, 4]),
        voters=np.array([1, 2, 3, 4]),
        net_votes=np.array([0.5, np.nan, 0.25, 0.25]),
    )
    cut = cut_turfs(doors, min_doors=1, max_doors=10)

    turf = cut.turfs[0]
    assert (turf.doors, turf.voters, turf.net_votes) == (4, 10, 1.0)
    assert turf.net_votes_per_door == 0.25


def test_turfs_rank_by_net_votes_per_door_with_unknown_last():
    x, y = _grid(4, 1)
    precinct = np.array(["A", "B", "C", "D"], dtype=object)
    net = np.array([0.1, np.nan, 0.3, 0.2])
    cut = cut_turfs(_located_doors(x, y, precinct=precinct, net_votes=net), min_doors=1)

    assert [cut.turfs[i].name for i in rank_turfs(cut)] == ["C-001", "D-001", "A-001", "B-001"]


def test_recutting_a_turf_that_is_too_big_splits_it_and_keeps_the_others():
    x, y = _grid(20, 10)
    doors = _located_doors(x, y)
    cut = cut_turfs(doors, min_doors=40, max_doors=80)  # 200 doors: 3 turfs
    untouched = [cut.members(i).tolist() for i in (1, 2)]

    recut = recut_turf(doors, cut, 0, min_doors=20, max_doors=40)

    assert [t.name for t in recut.turfs][:3] == ["P1-001", "P1-002", "P1-003"]
    assert all(20 <= t.doors <= 40 for i, t in enumerate(recut.turfs) if i not in (1, 2))
    assert [recut.members(i).tolist() for i in (1, 2)] == untouched
    assert sum(t.doors for t in recut.turfs) == 200
    assert len(recut.turfs) == 2 + math.ceil(cut.turfs[0].doors / 40)


def test_recutting_a_turf_that_is_too_small_merges_it_into_its_nearest_neighbour():
    x, y = _grid(12, 10)
    doors = _located_doors(x, y)
    cut = cut_turfs(doors, min_doors=40, max_doors=80)  # 120 doors: 2 turfs of 60
    assert _sizes(cut) == [60, 60]

    recut = recut_turf(doors, cut, 1, min_doors=61, max_doors=160)

    assert [t.name for t in recut.turfs] == ["P1-001"]
    assert _sizes(recut) == [120]
    assert sorted(recut.stop.tolist()) == list(range(120))


def test_recutting_a_street_turf_that_is_too_big_splits_it_into_runs_of_the_street():
    doors = _street_doors([("MAIN ST", n, "") for n in range(1, 101)])
    cut = cut_turfs(doors, min_doors=50, max_doors=100)
    assert _sizes(cut) == [100]

    recut = recut_turf(doors, cut, 0, min_doors=20, max_doors=40)

    assert [t.name for t in recut.turfs] == ["P1-001", "P1-002", "P1-003"]
    runs = [sorted(doors.house_number[recut.turf == i].tolist()) for i in range(3)]
    assert [(r[0], r[-1]) for r in runs] == [(1, 33), (34, 66), (67, 100)]
    assert [t.method for t in recut.turfs] == [STREET] * 3


def test_recutting_a_turf_within_bounds_changes_nothing():
    x, y = _grid(12, 10)
    doors = _located_doors(x, y)
    cut = cut_turfs(doors, min_doors=40, max_doors=80)

    assert recut_turf(doors, cut, 0) is cut


def test_a_house_number_can_be_missing():
    doors = _street_doors([("MAIN ST", 2, ""), ("MAIN ST", MISSING_NUMBER, ""), ("MAIN ST", 1, "")])

    cut = cut_turfs(doors, min_doors=1, max_doors=10)

    assert doors.house_number[cut.members(0)].tolist() == [1, 2, MISSING_NUMBER]
