"""Walk lists of a turf: read from the database, then written as PDF, CSV or HTML (audited).

A walk list is read in seven queries whatever the turf's size (the turf, its doors with their
households, its voters, their latest scores, the scripts) and carries only what a canvasser
needs (`messaging.walklist_pdf.WalkList`): the voters are read with their names, birth date or
year, party and id, never their phones or emails. Every file handed out, and every on-screen view,
is an audit event (`download`, with the format) naming the turf and how many voters it showed.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from campaign.lib import spreadsheet_csv
from campaign.models import AuditAction
from campaign.services import record_audit_event
from messaging.door_map import map_layout, scale_label
from messaging.models import ArmVariant, Turf
from messaging.rendering import message_context
from messaging.services import display_first_name, sender_of, talking_points
from messaging.turfs import parse_address_key
from messaging.walklist_pdf import (
    RESULTS,
    SUPPORT_LEGEND,
    SUPPORT_SCALE,
    WalkDoor,
    WalkList,
    WalkScript,
    WalkVoter,
    map_doors,
    render_pdf,
)
from scoring.models import VoterScore
from voters.models import Assignment, SurveyQuestion, Voter

FORMATS = ("pdf", "csv", "html")
DEFAULT_SUPPORT_QUESTION = "If the election were today, would you support us?"
# The only voter fields a walk list reads: never a phone or an email.
VOTER_FIELDS = (
    "voter_id", "first_name", "middle_name", "last_name", "suffix", "birth_date", "birth_year",
    "party", "household_id",
)  # fmt: skip
CSV_HEADER = (
    "turf", "stop", "address", "unit", "city", "zip", "script", "voter_id", "name", "age",
    "party", "talking_points", "result", "support",
)  # fmt: skip
SCRIPT_NAME_PLACEHOLDER = "[first name]"


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def build_walk_list(turf: Turf, *, today: dt.date | None = None) -> WalkList:
    """The turf's walk list: its doors in walking order with their voters and scripts."""
    today = today or timezone.localdate()
    design = turf.design
    stops = list(
        turf.stops.order_by("position").values_list(
            "position",
            "household_id",
            "arm_id",
            "household__address_key",
            "household__address",
            "household__city",
            "household__zip5",
            "household__latitude",
            "household__longitude",
        )
    )
    households = [row[1] for row in stops]
    voters = _door_voters(turf, households)
    points = _talking_points(turf.campaign_id, [v.pk for vs in voters.values() for v in vs])
    scripts = _scripts(design.pk)
    doors = tuple(
        _door(row, voters.get(row[1], []), points, scripts.get(row[2], ("", ""))[0], today)
        for row in stops
    )
    used = dict.fromkeys(row[2] for row in stops)
    return WalkList(
        campaign=turf.campaign.name,
        program=design.program.name,
        turf=turf.name,
        precinct=turf.precinct,
        organizer=turf.organizer.get_username() if turf.organizer else "",
        rank=turf.rank,
        walking_m=turf.walking_m,
        net_votes_per_door=turf.net_votes_per_door,
        printed_on=today,
        support_question=_support_question(turf.campaign_id),
        doors=doors,
        scripts=tuple(
            WalkScript(*scripts[arm]) for arm in used if arm in scripts and scripts[arm][0]
        ),
    )


def _door_voters(turf: Turf, households: list[int]) -> dict[int, list[Voter]]:
    """The household's voters treated by the program, by household, in name order.

    Two small queries rather than one join: the households' voters by their index, then their
    assignments by the (program, voter) key. As one query the planner may start from the
    program's assignments (all of them, when their statistics are older than the commit) and
    take a second for a list of 80 doors."""
    voters = list(
        Voter.objects.for_campaign(turf.campaign_id)
        .filter(household_id__in=households)
        .only(*VOTER_FIELDS)
        .order_by("last_name", "first_name", "pk")
    )
    # By the (program, voter) key alone, the arm checked here: with the arm in the query the
    # planner may scan the arm's index instead (0.15 s for 80 doors of a 100,000-voter program).
    pins = ArmVariant.objects.filter(design_id=turf.design_id).order_by()
    arms = set(pins.values_list("arm_id", flat=True))
    assigned = Assignment.objects.filter(
        program_id=turf.design.program_id, voter_id__in=[v.pk for v in voters]
    ).values_list("voter_id", "arm_id")
    treated = {voter for voter, arm in assigned if arm in arms}
    by_household: dict[int, list[Voter]] = defaultdict(list)
    for voter in voters:
        if voter.pk in treated:
            by_household[voter.household_id].append(voter)
    return by_household


def _talking_points(campaign_id: int, voter_pks: list[int]) -> dict[int, tuple[str, ...]]:
    reasons = VoterScore.objects.latest_complete(campaign_id).filter(voter_id__in=voter_pks)
    return {
        voter: tuple(talking_points(value))
        for voter, value in reasons.values_list("voter_id", "reasons")
    }


def _scripts(design_id: int) -> dict[int, tuple[str, str]]:
    """{arm id: (variant version, its script as printed)} of the program's arms.

    The script is rendered once per arm with a blank to fill in for the first name and no
    talking points (each voter's are printed beside them)."""
    pins = ArmVariant.objects.filter(design_id=design_id).select_related(
        "variant", "design__campaign"
    )
    scripts = {}
    for pin in pins:
        context = message_context(
            first_name=SCRIPT_NAME_PLACEHOLDER,
            polling_place="",
            talking_points=(),
            sender=sender_of(pin.design.campaign),
        )
        text = pin.variant.compiled().render(context).body.strip()
        scripts[pin.arm_id] = (str(pin.variant), text)
    return scripts


def _support_question(campaign_id: int) -> str:
    question = SurveyQuestion.objects.filter(
        campaign_id=campaign_id, slug=SurveyQuestion.SUPPORT_SLUG
    ).first()
    return question.text if question and question.text.strip() else DEFAULT_SUPPORT_QUESTION


def _door(
    row: tuple,
    voters: list[Voter],
    points: dict[int, tuple[str, ...]],
    script: str,
    today: dt.date,
) -> WalkDoor:
    position, _, _, key, address, city, zip5, latitude, longitude = row
    parts = parse_address_key(key)
    street = f"{parts.number or ''}{parts.number_suffix} {parts.street}".strip()
    return WalkDoor(
        stop=position,
        address=(address or street).strip(),
        unit=parts.unit,
        city=city or "",
        zip5=zip5 or parts.zip5,
        script=script,
        voters=tuple(_voter(v, points.get(v.pk, ()), today) for v in voters),
        latitude=latitude,
        longitude=longitude,
    )


def _voter(voter: Voter, points: tuple[str, ...], today: dt.date) -> WalkVoter:
    names = (display_first_name(voter.first_name), voter.middle_name, voter.last_name, voter.suffix)
    return WalkVoter(
        voter_id=voter.voter_id,
        name=" ".join(n.strip() for n in names if n and n.strip()),
        age=voter.age_on(today),
        party=(voter.party or "").upper(),
        talking_points=points,
    )


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------


def walk_list_rows(walk_list: WalkList) -> Iterable[tuple]:
    """One row per voter in walking order; result and support left blank to fill in."""
    for door in walk_list.doors:
        for voter in door.voters:
            yield (
                walk_list.turf, door.stop, door.address, door.unit, door.city, door.zip5,
                door.script, voter.voter_id, voter.name, "" if voter.age is None else voter.age,
                voter.party, "; ".join(voter.talking_points), "", "",
            )  # fmt: skip


def render_csv(walk_list: WalkList) -> str:
    out = io.StringIO()
    writer = spreadsheet_csv.writer(out)
    writer.writerow(CSV_HEADER)
    writer.writerows(walk_list_rows(walk_list))
    return out.getvalue()


MAP_PX = 320


def html_context(walk_list: WalkList) -> dict:
    """What templates/walklists/walk_list.html needs: the list and its map as SVG coordinates."""
    layout = map_layout(map_doors(walk_list.doors), MAP_PX, MAP_PX, 16)
    return {
        "walk_list": walk_list,
        "map_size": MAP_PX,
        "map_points": layout.points,
        "map_route": " ".join(f"{x:.1f},{y:.1f}" for _, x, y in layout.points),
        "scale_end": 10 + layout.scale_px,
        "scale_label": scale_label(layout.scale_m) if layout.points else "",
        "results": RESULTS,
        "support_scale": SUPPORT_SCALE,
        "support_legend": SUPPORT_LEGEND,
    }


def audit_walk_list(
    *,
    turf: Turf,
    walk_list: WalkList,
    fmt: str,
    by: AbstractBaseUser | None,
    client_ip: str | None = None,
) -> None:
    """One `download` event: the turf, the format and how many voters it showed (no names)."""
    record_audit_event(
        action=AuditAction.DOWNLOAD,
        campaign=turf.campaign_id,
        user=by,
        obj=turf,
        row_count=walk_list.voter_count,
        client_ip=client_ip,
        detail={"format": fmt, "program": turf.design.program_id, "doors": len(walk_list.doors)},
    )


def download_walk_list(
    *,
    turf: Turf,
    fmt: str,
    by: AbstractBaseUser | None = None,
    client_ip: str | None = None,
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the turf's walk list as PDF or CSV (audited)."""
    if fmt not in ("pdf", "csv"):
        raise ValueError(f"unknown walk list format {fmt!r}")
    walk_list = build_walk_list(turf)
    if fmt == "pdf":
        content, kind = render_pdf(walk_list), "application/pdf"
    else:
        content, kind = render_csv(walk_list).encode("utf-8"), "text/csv; charset=utf-8"
    audit_walk_list(turf=turf, walk_list=walk_list, fmt=fmt, by=by, client_ip=client_ip)
    return content, kind, file_name(turf, fmt)


def file_name(turf: Turf, fmt: str) -> str:
    # Ids only: a turf's name carries a precinct, harmless, but file names end up in logs.
    return f"walk-list-{turf.design.program_id}-{turf.pk}.{fmt}"


def download_walk_list_zip(
    *, turfs: Iterable[Turf], by: AbstractBaseUser | None = None, client_ip: str | None = None
) -> bytes:
    """The turfs' PDFs in one zip, by rank (one audit event per turf)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for turf in turfs:
            content, _, name = download_walk_list(turf=turf, fmt="pdf", by=by, client_ip=client_ip)
            archive.writestr(f"{turf.rank:03d}-{name}", content)
    return out.getvalue()
