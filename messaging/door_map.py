"""A turf's doors placed on a small map: pure geometry shared by the printed walk list (PDF), its
HTML view and the turf's admin page (SVG). No Django, no drawing library.

Only the doors' own coordinates are used: no map tiles, so drawing a map needs no internet and
sends no door's position anywhere. The projection is equirectangular around the doors' mean
latitude, which over a turf (a few hundred metres) is as good as any other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8
# A single building (or doors at one point): drawn as if 20 m across, not divided by zero.
MIN_SPAN_M = 20.0

# (stop, latitude, longitude) of a door; a door without coordinates has None for both.
MapDoor = tuple[int, float | None, float | None]


@dataclass(frozen=True)
class MapLayout:
    """Doors placed in a `width` x `height` box (y grows downwards, as on screen)."""

    points: tuple[tuple[int, float, float], ...]  # (stop, x, y) of each located door, in order
    scale_m: float  # the scale bar's length in metres
    scale_px: float  # and in the box's units
    unplaced: int = 0  # doors without coordinates, left off the map


def map_layout(doors: Sequence[MapDoor], width: float, height: float, pad: float) -> MapLayout:
    """The located doors projected and scaled to fit the box with the same scale on both axes,
    in the order given. Empty points when no door has coordinates."""
    located = [(stop, lat, lon) for stop, lat, lon in doors if lat is not None and lon is not None]
    unplaced = len(doors) - len(located)
    if not located:
        return MapLayout((), 0.0, 0.0, unplaced)
    lat0 = math.radians(sum(lat for _, lat, _ in located) / len(located))
    xs = [EARTH_RADIUS_M * math.radians(lon) * math.cos(lat0) for _, _, lon in located]
    ys = [EARTH_RADIUS_M * math.radians(lat) for _, lat, _ in located]
    span = max(max(xs) - min(xs), max(ys) - min(ys), MIN_SPAN_M)
    per_m = (min(width, height) - 2 * pad) / span
    left = pad + (width - 2 * pad - (max(xs) - min(xs)) * per_m) / 2
    top = pad + (height - 2 * pad - (max(ys) - min(ys)) * per_m) / 2
    points = tuple(
        (stop, left + (x - min(xs)) * per_m, top + (max(ys) - y) * per_m)
        for (stop, _, _), x, y in zip(located, xs, ys, strict=True)
    )
    metres = nice_length(span / 4)
    return MapLayout(points, metres, metres * per_m, unplaced)


def nice_length(metres: float) -> float:
    """1, 2 or 5 times a power of ten, at most `metres` (at least 1 m): a scale bar's length."""
    metres = max(metres, 1.0)
    power = 10 ** math.floor(math.log10(metres))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def scale_label(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
