"""The canvass as staff see it in the admin: the turfs section of a door program's page (progress
per turf, results per organizer and per hour, flagged results to settle) and a turf's map.

Figures come from `messaging.field_progress`; this module only shapes them for the templates
(numbers with thousands separators, times on the campaign's clock with its zone). No voter's
name, phone or email is read: a flagged result is shown by the voter's file id.
"""

from __future__ import annotations

import datetime as dt
import math

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from messaging.door_map import map_layout, scale_label
from messaging.field_progress import (
    DOOR_STATES,
    FLAGGED_SHOWN,
    door_states,
    flagged_results,
    hourly_results,
    local_time,
    organizer_results,
    progress_totals,
    turf_progress,
)
from messaging.models import FieldResult, ProgramDesign, Turf

MAP_PX = 480
MAP_PAD = 34  # clear of the north arrow and the scale bar drawn in the corners


def _count(value: int) -> str:
    return f"{value:,}"


def _share(value: float) -> dict:
    return {"text": f"{value:.0%}", "width": f"{min(max(value, 0.0), 1.0) * 100:.1f}"}


def _votes(value: float | None) -> str:
    return "unknown" if value is None or math.isnan(value) else f"{value:,.1f}"


# --------------------------------------------------------------------------------------------
# The program page
# --------------------------------------------------------------------------------------------


def canvass_context(design: ProgramDesign, *, may_settle: bool) -> dict:
    """What templates/admin/messaging/programdesign/canvass.html shows of a door program."""
    zone = design.campaign.time_zone
    rows = turf_progress(design)
    organizers = organizer_results(design)
    flagged = flagged_results(design)
    return {
        "time_zone": zone,
        "turfs": [_turf_cells(row) for row in rows],
        "totals": _total_cells(progress_totals(rows)),
        "organizers": [_organizer_cells(row, zone) for row in organizers],
        "hours": _hour_cells(hourly_results(design, zone)),
        "flagged": [_flagged_cells(result, zone) for result in flagged],
        "flagged_cut": len(flagged) == FLAGGED_SHOWN,  # more than are listed
        "to_settle": sum(row["to_settle"] for row in organizers),
        "may_settle": may_settle,
        "settle_url": reverse("admin:messaging_programdesign_settle", args=[design.pk]),
        "turf_list_url": f"{reverse('admin:messaging_turf_changelist')}?design={design.pk}",
        "field_results_url": (
            f"{reverse('admin:messaging_fieldresult_changelist')}?design__id__exact={design.pk}"
        ),
    }


def _turf_cells(row: dict) -> dict:
    return {
        "rank": row["rank"],
        "name": row["name"],
        "url": reverse("admin:messaging_turf_change", args=[row["turf"]]),
        "precinct": row["precinct"] or "—",
        "organizer": row["organizer"] or "not assigned",
        "doors": _count(row["doors"]),
        "knocked": _count(row["doors_with_result"]),
        "contacts": _count(row["contacts"]),
        "support_ids": _count(row["support_ids"]),
        "share": _share(row["share_done"]),
        "net_votes": _votes(row["net_votes"]),
    }


def _total_cells(totals: dict) -> dict:
    return {
        "turfs": _count(totals["turfs"]),
        "doors": _count(totals["doors"]),
        "knocked": _count(totals["doors_with_result"]),
        "contacts": _count(totals["contacts"]),
        "support_ids": _count(totals["support_ids"]),
        "share": _share(totals["share_done"]),
        "net_votes": _votes(totals["net_votes"]),
    }


def _organizer_cells(row: dict, zone: str) -> dict:
    return {
        "organizer": row["organizer__username"],
        **{
            key: _count(row[key])
            for key in ("knocked", "contacts", "refusals", "support_ids", "flagged", "to_settle")
        },
        "last_at": local_time(row["last_at"], zone),
    }


def _hour_cells(rows: list[dict]) -> list[dict]:
    most = max((row["results"] for row in rows), default=0)
    return [
        {
            "hour": _hour_label(row["hour"]),
            **{
                key: _count(row[key])
                for key in ("results", "knocked", "contacts", "refusals", "support_ids")
            },
            "bar": f"{row['results'] / most * 100:.1f}" if most else "0",
        }
        for row in rows
    ]


def _hour_label(start: dt.datetime) -> str:
    end = start + dt.timedelta(hours=1)
    return f"{start:%a %Y-%m-%d %H:00}-{end:%H:00} {start:%Z}"


def _flagged_cells(result: FieldResult, zone: str) -> dict:
    return {
        "pk": result.pk,
        "recorded_at": local_time(result.recorded_at, zone),
        "voter": result.voter.voter_id,
        "organizer": result.organizer.get_username(),
        "turf": result.turf_ref,
        "outcome": result.get_outcome_display(),
        "support": result.support or "—",
        "flag": result.get_flag_display(),
        "settlement": result.settlement,
        "settled": (
            f"{result.get_settlement_display()} by "
            f"{result.settled_by.get_username() if result.settled_by else 'a removed user'}, "
            f"{local_time(result.settled_at, zone)}"
            if result.settlement
            else ""
        ),
    }


# --------------------------------------------------------------------------------------------
# A turf's map
# --------------------------------------------------------------------------------------------


def turf_map(turf: Turf) -> SafeString:
    """The turf's doors as an inline SVG, in walking order along the route, each marked by its
    state (not knocked, knocked, contacted), with a legend and a scale; words when no door has
    coordinates. Drawn from the doors' own coordinates: no tiles, nothing from the internet."""
    return render_to_string("admin/messaging/turf/_map.html", turf_map_context(turf))


def turf_map_context(turf: Turf) -> dict:
    doors = door_states(turf)
    layout = map_layout([(d.stop, d.latitude, d.longitude) for d in doors], MAP_PX, MAP_PX, MAP_PAD)
    state = {d.stop: d.state for d in doors}
    counts = {code: sum(d.state == code for d in doors) for code, _ in DOOR_STATES}
    return {
        "size": MAP_PX,
        "doors": len(doors),
        "points": [(stop, x, y, state[stop]) for stop, x, y in layout.points],
        "route": " ".join(f"{x:.1f},{y:.1f}" for _, x, y in layout.points),
        "scale_end": 14 + layout.scale_px,  # the bar starts 14 px from the left edge
        "scale_label": scale_label(layout.scale_m) if layout.points else "",
        "unplaced": layout.unplaced,
        "legend": [(code, label, _count(counts[code])) for code, label in DOOR_STATES],
    }
