"""The doors' map geometry shared by the PDF, the walk list page and the turf's admin page
(messaging.door_map): pure, no database."""

from __future__ import annotations

import math

import pytest

from messaging.door_map import EARTH_RADIUS_M, map_layout, nice_length, scale_label


def test_doors_keep_their_order_and_fit_the_box_with_one_scale_on_both_axes():
    # Three doors 100 m apart east-west, and one 100 m north of the first.
    lat = 36.0
    dlon = math.degrees(100 / (EARTH_RADIUS_M * math.cos(math.radians(lat + 100 / 4 / 111_195))))
    dlat = math.degrees(100 / EARTH_RADIUS_M)
    doors = [
        (1, lat, -78.9),
        (2, lat, -78.9 + dlon),
        (3, lat, -78.9 + 2 * dlon),
        (4, lat + dlat, -78.9),
    ]

    layout = map_layout(doors, 240, 240, 20)

    assert [stop for stop, _, _ in layout.points] == [1, 2, 3, 4]
    (_, x1, y1), (_, x2, _), (_, x3, _), (_, x4, y4) = layout.points
    assert (x1, x3) == pytest.approx((20, 220), abs=0.5)  # 200 m across 200 px
    assert x2 - x1 == pytest.approx(100, abs=0.5)
    assert (x4, y1 - y4) == pytest.approx((20, 100), abs=0.5)  # north is up, same scale
    assert (layout.scale_m, layout.scale_px) == pytest.approx((50, 50), abs=0.5)
    assert layout.unplaced == 0


def test_doors_without_coordinates_are_left_off_and_counted():
    layout = map_layout([(1, None, None), (2, 36.0, -78.9), (3, None, None)], 100, 100, 10)

    assert [stop for stop, _, _ in layout.points] == [2]
    assert layout.unplaced == 2


def test_no_located_door_is_an_empty_layout():
    assert map_layout([(1, None, None)], 100, 100, 10).points == ()


def test_one_building_is_drawn_as_20_metres_across_not_divided_by_zero():
    layout = map_layout([(1, 36.0, -78.9), (2, 36.0, -78.9)], 100, 100, 10)

    assert [(x, y) for _, x, y in layout.points] == [(50.0, 50.0), (50.0, 50.0)]
    assert layout.scale_m == 5


@pytest.mark.parametrize(("metres", "nice"), [(0.2, 1), (3, 2), (7.5, 5), (49, 20), (1234, 1000)])
def test_scale_bars_are_1_2_or_5_times_a_power_of_ten(metres, nice):
    assert nice_length(metres) == nice


def test_scale_labels_switch_to_km_at_1000_m():
    assert (scale_label(500), scale_label(2000)) == ("500 m", "2 km")
