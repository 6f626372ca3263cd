"""How far a door program's canvass has got, for staff: per turf (the program page), per door of
a turf (its map), per organizer and per hour, and the flagged results to settle. Read-only.

Each figure is a set-based query or two, whatever the number of turfs, doors or results: never a
query per turf or per organizer.

Two sources, each for what it knows:
- Turfs and doors count the program's door contact attempts, whoever recorded them (the phones,
  or a paper walk list entered with `import_contacts`). Results stay with the voters, so a turf
  counts the attempts of the households it holds now, however it was re-cut. A door is knocked
  when it has any result, and contacted when a voter there was talked to.
- Organizers and hours count `FieldResult`s, the phones' results, which know who tapped them and
  the phone's time.
A flagged result that staff dismissed is left out of all of them (it stays in the voter's
contact history and the program's delivered counts, which are history).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.db.models.functions import TruncHour

from messaging.models import (
    DoorOutcome,
    FieldResult,
    FieldSettlement,
    ProgramDesign,
    Turf,
    TurfDoor,
)
from voters.models import Channel, ContactAttempt, ContactResult, SurveyQuestion

FLAGGED_SHOWN = 200
# A phone's result that counts in the canvass's figures: any but those staff dismissed.
KEPT = ~Q(settlement=FieldSettlement.DISMISSED)

# A door's state on the turf's map.
NOT_KNOCKED, KNOCKED, CONTACTED = "not_knocked", "knocked", "contacted"
DOOR_STATES = (
    (NOT_KNOCKED, "not knocked"),
    (KNOCKED, "knocked, nobody talked to"),
    (CONTACTED, "contacted (a voter talked)"),
)


def door_attempts(design: ProgramDesign) -> models.QuerySet[ContactAttempt]:
    """The program's door contact attempts, less those of results staff dismissed."""
    dismissed = FieldResult.objects.filter(
        contact_attempt_id=OuterRef("pk"), settlement=FieldSettlement.DISMISSED
    )
    return ContactAttempt.objects.filter(
        campaign_id=design.campaign_id, program_id=design.program_id, channel=Channel.DOOR
    ).exclude(Exists(dismissed))


def phone_results(design: ProgramDesign) -> models.QuerySet[FieldResult]:
    """The program's results from the phones, less those staff dismissed."""
    return FieldResult.objects.filter(KEPT, campaign_id=design.campaign_id, design_id=design.pk)


# --------------------------------------------------------------------------------------------
# Per turf
# --------------------------------------------------------------------------------------------


def turf_progress(design: ProgramDesign) -> list[dict]:
    """Per turf of the program, by rank: its figures, organizer, doors knocked, voters contacted
    and support IDs taken there, and the share of its doors knocked. Two queries whatever the
    number of turfs."""
    counts = _counts_by_turf(design)
    turfs = design.turfs.select_related("organizer").order_by("rank")
    return [_turf_row(t, counts.get(t.pk, (0, 0, 0))) for t in turfs]


def _counts_by_turf(design: ProgramDesign) -> dict[int, tuple[int, int, int]]:
    """{turf id: (doors knocked, voters contacted, voters with a support ID)} in one grouped
    query: each attempt is given the turf its voter's household is in now."""
    turf_of = (
        TurfDoor.objects.filter(design_id=design.pk, household_id=OuterRef("voter__household_id"))
        .order_by()
        .values("turf_id")[:1]
    )
    support = Q(survey_responses__question__slug=SurveyQuestion.SUPPORT_SLUG)
    rows = (
        door_attempts(design)
        .annotate(door_turf=Subquery(turf_of))
        .order_by()  # the model's ordering would join the GROUP BY
        .values("door_turf")
        .annotate(
            knocked=Count("voter__household_id", distinct=True),
            contacts=Count("voter_id", distinct=True, filter=Q(result=ContactResult.CONTACTED)),
            support_ids=Count("voter_id", distinct=True, filter=support),
        )
        .values_list("door_turf", "knocked", "contacts", "support_ids")
    )
    return {turf: (knocked, contacts, ids) for turf, knocked, contacts, ids in rows if turf}


def _turf_row(turf: Turf, counts: tuple[int, int, int]) -> dict:
    knocked, contacts, support_ids = counts
    return {
        "turf": turf.pk,
        "name": turf.name,
        "rank": turf.rank,
        "precinct": turf.precinct,
        "organizer": turf.organizer.get_username() if turf.organizer else None,
        "organizer_id": turf.organizer_id,
        "doors": turf.doors,
        "voters": turf.voters,
        "walking_m": turf.walking_m,
        "net_votes": turf.net_votes,
        "net_votes_per_door": turf.net_votes_per_door,
        "doors_with_result": knocked,
        "contacts": contacts,
        "support_ids": support_ids,
        "share_done": knocked / turf.doors if turf.doors else 0.0,
        "status": turf.status,
    }


def progress_totals(rows: list[dict]) -> dict:
    """The program's totals over its turfs (net votes unknown when any turf's is)."""
    doors = sum(r["doors"] for r in rows)
    knocked = sum(r["doors_with_result"] for r in rows)
    net = [r["net_votes"] for r in rows]
    return {
        "turfs": len(rows),
        "doors": doors,
        "voters": sum(r["voters"] for r in rows),
        "doors_with_result": knocked,
        "contacts": sum(r["contacts"] for r in rows),
        "support_ids": sum(r["support_ids"] for r in rows),
        "share_done": knocked / doors if doors else 0.0,
        "net_votes": None if None in net or not net else sum(net),
    }


# --------------------------------------------------------------------------------------------
# Per door of a turf (its map)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoorState:
    stop: int
    latitude: float | None
    longitude: float | None
    state: str  # NOT_KNOCKED, KNOCKED or CONTACTED


def door_states(turf: Turf) -> list[DoorState]:
    """The turf's doors in walking order with their coordinates and state (one query)."""
    attempts = door_attempts(turf.design).filter(voter__household_id=OuterRef("household_id"))
    rows = (
        turf.stops.order_by("position")
        .annotate(
            knocked=Exists(attempts),
            contacted=Exists(attempts.filter(result=ContactResult.CONTACTED)),
        )
        .values_list(
            "position", "household__latitude", "household__longitude", "knocked", "contacted"
        )
    )
    return [
        DoorState(stop, lat, lon, CONTACTED if contacted else KNOCKED if knocked else NOT_KNOCKED)
        for stop, lat, lon, knocked, contacted in rows
    ]


# --------------------------------------------------------------------------------------------
# Per organizer and per hour (the phones' results)
# --------------------------------------------------------------------------------------------


def _tallies(kept: Q) -> dict[str, models.Aggregate]:
    """What each organizer row and hour row counts, of the results `kept` (voters distinct, so
    a voter recorded twice, a come-back then a talk, is one contact)."""
    return {
        "results": Count("pk", filter=kept),
        "knocked": Count("voter__household_id", distinct=True, filter=kept),
        "contacts": Count(
            "voter_id", distinct=True, filter=kept & Q(outcome=DoorOutcome.CONTACTED)
        ),
        "refusals": Count("voter_id", distinct=True, filter=kept & Q(outcome=DoorOutcome.REFUSED)),
        "support_ids": Count("voter_id", distinct=True, filter=kept & ~Q(support="")),
    }


def organizer_results(design: ProgramDesign) -> list[dict]:
    """Per organizer who sent results for the program, by name: doors knocked, contacts,
    refusals, support IDs (less dismissed results), flagged results (dismissed included) and how
    many are still to settle, the last result's time. One query."""
    flagged = ~Q(flag="")
    return list(
        FieldResult.objects.filter(campaign_id=design.campaign_id, design_id=design.pk)
        .order_by()
        .values("organizer_id", "organizer__username")
        .annotate(
            **_tallies(KEPT),
            flagged=Count("pk", filter=flagged),
            to_settle=Count("pk", filter=flagged & Q(settlement="")),
            last_at=Max("recorded_at"),
        )
        .order_by("organizer__username")
    )


def hourly_results(design: ProgramDesign, time_zone: str) -> list[dict]:
    """Per hour of the campaign's clock with a result, in order: the phones' results then. One
    query; the hour is cut in `time_zone`, so a day's canvass reads as its organizers lived it."""
    zone = ZoneInfo(time_zone)
    rows = (
        phone_results(design)
        .annotate(hour=TruncHour("recorded_at", tzinfo=zone))
        .order_by()
        .values("hour")
        .annotate(**_tallies(KEPT))
        .order_by("hour")
    )
    return [{**row, "hour": row["hour"].astimezone(zone)} for row in rows]


# --------------------------------------------------------------------------------------------
# Flagged results
# --------------------------------------------------------------------------------------------


# What the flagged list reads: the voter by their file id, never a name, phone or email.
FLAGGED_FIELDS = (
    "key", "outcome", "support", "flag", "recorded_at", "turf_ref", "settlement", "settled_at",
    "organizer__username", "settled_by__username", "voter__voter_id", "voter__campaign_id",
)  # fmt: skip


def flagged_results(design: ProgramDesign, limit: int = FLAGGED_SHOWN) -> list[FieldResult]:
    """The program's flagged results, those still to settle first, newest first (one query)."""
    return list(
        FieldResult.objects.filter(campaign_id=design.campaign_id, design_id=design.pk)
        .exclude(flag="")
        .select_related("organizer", "settled_by", "voter")
        .only(*FLAGGED_FIELDS)
        .order_by("settlement", "-recorded_at", "-pk")[:limit]  # "" (to settle) sorts first
    )


def local_time(moment: dt.datetime | None, time_zone: str) -> str:
    """A time as staff read it: the campaign's clock, with the zone's abbreviation."""
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M %Z")
