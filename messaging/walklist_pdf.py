"""A walk list's content and its printed form: a PDF drawn with reportlab (no Django).

`WalkList` holds only what a canvasser needs at the doors: addresses in walking order, the
household's voters (name, age, party, talking points), the script their arm was given, and boxes
to tick for each result and the support question. Phones and emails are never part of it, so no
format built from it can print them.

The map is drawn here too, from the doors' coordinates alone (`messaging.door_map` places them):
a dot per door numbered in walking order, the route between them, and a scale bar. No map tiles,
so printing needs no internet and sends no door's position anywhere.

Text is set in DejaVu Sans, which covers Latin, Greek and Cyrillic names (reportlab's built-in
fonts stop at Latin-1). The font files come with matplotlib, one of our dependencies, so every
installation has the same ones; the system's DejaVu is the fallback.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from messaging.door_map import MapDoor, map_layout, scale_label

RESULTS = (
    "Not home",
    "Contacted",
    "Refused",
    "Moved",
    "Inaccessible",
    "Deceased",
    "Come back",
)
SUPPORT_SCALE = ("1", "2", "3", "4", "5")
SUPPORT_LEGEND = "1 strong support · 2 lean support · 3 undecided · 4 lean oppose · 5 strong oppose"


@dataclass(frozen=True)
class WalkVoter:
    voter_id: str
    name: str
    age: int | None
    party: str
    talking_points: tuple[str, ...] = ()


@dataclass(frozen=True)
class WalkDoor:
    stop: int
    address: str
    unit: str
    city: str
    zip5: str
    script: str  # the variant version of the household's arm, e.g. "health v2"
    voters: tuple[WalkVoter, ...]
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class WalkScript:
    name: str
    text: str


@dataclass(frozen=True)
class WalkList:
    campaign: str
    program: str
    turf: str
    precinct: str
    organizer: str
    rank: int
    walking_m: float | None
    net_votes_per_door: float | None
    printed_on: dt.date
    support_question: str
    doors: tuple[WalkDoor, ...]
    scripts: tuple[WalkScript, ...] = field(default=())

    @property
    def voter_count(self) -> int:
        return sum(len(d.voters) for d in self.doors)


def map_doors(doors: tuple[WalkDoor, ...]) -> list[MapDoor]:
    return [(d.stop, d.latitude, d.longitude) for d in doors]


# --------------------------------------------------------------------------------------------
# The PDF
# --------------------------------------------------------------------------------------------

FONT, BOLD = "WalkSans", "WalkSans-Bold"
PAGE_W, PAGE_H = LETTER
MARGIN = 36.0
MAP_SIZE = 200.0
BOX = 7.0


def _font_files() -> tuple[Path, Path]:
    candidates = []
    try:
        import matplotlib

        candidates.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        pass
    candidates.append(Path("/usr/share/fonts/truetype/dejavu"))
    for folder in candidates:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            return regular, bold
    raise RuntimeError("DejaVu Sans not found (it comes with matplotlib): cannot print names")


@cache
def register_fonts() -> None:
    regular, bold = _font_files()
    pdfmetrics.registerFont(TTFont(FONT, str(regular)))
    pdfmetrics.registerFont(TTFont(BOLD, str(bold)))


def render_pdf(walk_list: WalkList) -> bytes:
    """The walk list as a PDF: header, map and scripts on the first page, then the doors in
    walking order, each door's block kept on one page."""
    register_fonts()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=LETTER, pageCompression=1, invariant=1)
    canvas.setTitle(f"Walk list {walk_list.turf}")
    canvas.setAuthor(walk_list.campaign)
    page = _Page(canvas, walk_list)
    page.first_page()
    for door in walk_list.doors:
        page.door(door)
    page.finish()
    canvas.save()
    return out.getvalue()


class _Page:
    """A cursor down the page that starts a new page when the next block does not fit."""

    def __init__(self, canvas: Canvas, walk_list: WalkList) -> None:
        self.canvas, self.walk_list = canvas, walk_list
        self.y = PAGE_H - MARGIN
        self.number = 1

    # -- text helpers -------------------------------------------------------------------------

    def text(self, x: float, y: float, text: str, size: float = 9, bold: bool = False) -> None:
        self.canvas.setFont(BOLD if bold else FONT, size)
        self.canvas.drawString(x, y, text)

    def wrapped(self, x: float, text: str, width: float, size: float = 8.5) -> list[str]:
        return simpleSplit(text, FONT, size, width)

    # -- page furniture ----------------------------------------------------------------------

    def first_page(self) -> None:
        wl = self.walk_list
        has_map = self._map()
        width = PAGE_W - 2 * MARGIN - (MAP_SIZE + 12 if has_map else 0)
        self.text(MARGIN, self.y - 14, f"Walk list · turf {wl.turf}", 15, bold=True)
        self.y -= 32
        facts = [
            f"Program: {wl.program} ({wl.campaign})",
            f"Precinct: {wl.precinct or '—'} · rank {wl.rank}",
            f"Organizer: {wl.organizer or 'not assigned'}",
            f"{len(wl.doors)} doors · {wl.voter_count} voters"
            + (f" · walk about {wl.walking_m:,.0f} m" if wl.walking_m is not None else ""),
            "Expected net votes per door: "
            + ("unknown" if wl.net_votes_per_door is None else f"{wl.net_votes_per_door:.3f}"),
            f"Printed {wl.printed_on:%Y-%m-%d}",
        ]
        for fact in facts:
            for line in self.wrapped(MARGIN, fact, width, 9.5):  # clear of the map
                self.text(MARGIN, self.y, line, 9.5)
                self.y -= 13
        self.y -= 4
        self.text(MARGIN, self.y, "Support question:", 9.5, bold=True)
        self.y -= 12
        for line in self.wrapped(MARGIN, wl.support_question, width, 9):
            self.text(MARGIN, self.y, line, 9)
            self.y -= 11
        for line in self.wrapped(MARGIN, SUPPORT_LEGEND, width, 8):
            self.text(MARGIN, self.y, line, 8)
            self.y -= 10
        if has_map:
            self.y = min(self.y, PAGE_H - MARGIN - MAP_SIZE - 20)
        for script in wl.scripts:
            self._script(script)
        self.y -= 6

    def _script(self, script: WalkScript) -> None:
        lines = [
            line
            for paragraph in script.text.splitlines() or [""]
            for line in (self.wrapped(MARGIN, paragraph, PAGE_W - 2 * MARGIN - 12, 9) or [""])
        ]
        self.room(16 + 11 * min(len(lines), 4))
        self.text(MARGIN, self.y - 4, f"Script: {script.name}", 10, bold=True)
        self.y -= 16
        for line in lines:
            self.room(11)
            self.text(MARGIN + 8, self.y, line, 9)
            self.y -= 11
        self.y -= 4

    def room(self, height: float) -> None:
        """A new page unless `height` points fit above the bottom margin."""
        if self.y - height >= MARGIN + 14:
            return
        self._footer()
        self.canvas.showPage()
        self.number += 1
        self.y = PAGE_H - MARGIN
        self.text(MARGIN, self.y - 10, f"Walk list · turf {self.walk_list.turf}", 10, bold=True)
        self.y -= 24

    def _footer(self) -> None:
        self.canvas.setFont(FONT, 7.5)
        self.canvas.drawRightString(
            PAGE_W - MARGIN, MARGIN - 12, f"{self.walk_list.turf} · page {self.number}"
        )

    def finish(self) -> None:
        self._footer()

    # -- the map ------------------------------------------------------------------------------

    def _map(self) -> bool:
        layout = map_layout(map_doors(self.walk_list.doors), MAP_SIZE, MAP_SIZE, 12)
        if not layout.points:
            return False
        c = self.canvas
        left, top = PAGE_W - MARGIN - MAP_SIZE, PAGE_H - MARGIN
        c.setLineWidth(0.5)
        c.setStrokeGray(0.6)
        c.rect(left, top - MAP_SIZE, MAP_SIZE, MAP_SIZE)

        def at(x: float, y: float) -> tuple[float, float]:
            return left + x, top - y

        c.setStrokeGray(0.45)
        c.setLineWidth(0.8)
        path = c.beginPath()
        for i, (_, x, y) in enumerate(layout.points):
            (path.lineTo if i else path.moveTo)(*at(x, y))
        c.drawPath(path, stroke=1, fill=0)
        c.setFillGray(0)
        c.setFont(FONT, 5.5)
        for stop, x, y in layout.points:
            px, py = at(x, y)
            c.circle(px, py, 1.6, stroke=0, fill=1)
            c.drawString(px + 2.2, py + 1.2, str(stop))
        bar_y = top - MAP_SIZE + 8
        c.setLineWidth(1.5)
        c.setStrokeGray(0)
        c.line(left + 8, bar_y, left + 8 + layout.scale_px, bar_y)
        c.drawString(left + 10 + layout.scale_px, bar_y - 2, scale_label(layout.scale_m))
        c.drawString(left + 4, top - 8, "N ↑")
        return True

    # -- a door -------------------------------------------------------------------------------

    def door(self, door: WalkDoor) -> None:
        talking = [self._talking_lines(v) for v in door.voters]
        height = 18 + sum(24 + 9.5 * len(lines) for lines in talking)
        self.room(min(height, PAGE_H - 2 * MARGIN - 40))
        c = self.canvas
        c.setStrokeGray(0.75)
        c.setLineWidth(0.5)
        c.line(MARGIN, self.y + 2, PAGE_W - MARGIN, self.y + 2)
        address = door.address + (f" {door.unit}" if door.unit else "")
        self.text(MARGIN, self.y - 10, f"{door.stop}. {address}", 10.5, bold=True)
        self.canvas.setFont(FONT, 8.5)
        self.canvas.drawRightString(PAGE_W - MARGIN, self.y - 10, f"Script: {door.script}")
        self.y -= 22
        for voter, lines in zip(door.voters, talking, strict=True):
            self.room(24 + 9.5 * len(lines))
            self._voter(voter, lines)

    def _talking_lines(self, voter: WalkVoter) -> list[str]:
        if not voter.talking_points:
            return []
        text = "Talking points: " + "; ".join(voter.talking_points)
        return self.wrapped(MARGIN + 14, text, PAGE_W - 2 * MARGIN - 14, 8)

    def _voter(self, voter: WalkVoter, talking: list[str]) -> None:
        age = "age ?" if voter.age is None else f"age {voter.age}"
        self.text(MARGIN + 14, self.y, voter.name or "(no name)", 9.5, bold=True)
        details = f"{age} · {voter.party or 'no party'} · id {voter.voter_id}"
        name_width = pdfmetrics.stringWidth(voter.name or "(no name)", BOLD, 9.5)
        self.text(MARGIN + 22 + name_width, self.y, details, 8.5)
        self.y -= 10
        for line in talking:
            self.text(MARGIN + 14, self.y, line, 8)
            self.y -= 9.5
        self._boxes(MARGIN + 14, self.y - 3)
        self.y -= 14

    def _boxes(self, x: float, y: float) -> None:
        c = self.canvas
        c.setStrokeGray(0)
        c.setLineWidth(0.6)
        c.setFont(FONT, 7.5)
        for label in RESULTS:
            c.rect(x, y, BOX, BOX)
            c.drawString(x + BOX + 2, y + 0.8, label)
            x += BOX + 8 + pdfmetrics.stringWidth(label, FONT, 7.5)
        x += 6
        c.drawString(x, y + 0.8, "Support:")
        x += pdfmetrics.stringWidth("Support:", FONT, 7.5) + 4
        for code in SUPPORT_SCALE:
            c.rect(x, y, BOX, BOX)
            c.drawString(x + BOX + 1.5, y + 0.8, code)
            x += BOX + 10
