"""Every CSV the product writes escapes spreadsheet formulas the same way, through one writer."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from campaign.lib import spreadsheet_csv
from scoring.services import export_scores
from tests.factories import ScoringRunFactory, VoterFactory, VoterScoreFactory

ROOT = Path(__file__).resolve().parents[2]
APPS = ("campaign", "voters", "scoring", "messaging")


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-0.03125", "-0.03125"),  # a number: a spreadsheet reads it as one
        ("+19195550101", "+19195550101"),
        ("-1.5e-3", "-1.5e-3"),
        ("Smith", "Smith"),
        ("a=b", "a=b"),
        (-3, -3),
        (None, None),
    ],
)  # fmt: skip
def test_a_cell_a_spreadsheet_would_run_gets_a_quote(cell, written):
    assert spreadsheet_csv.safe_cell(cell) == written


def test_the_writer_escapes_every_cell_and_keeps_the_rest_as_csv_writes_it():
    out = io.StringIO()
    writer = spreadsheet_csv.writer(out, lineterminator="\n")

    writer.writerow(["voter_id", "=1+1", -0.5, None])
    writer.writedicts(["arm", "lift"], [{"arm": "@evil", "lift": "-0.01"}, {"arm": "ok"}])

    assert out.getvalue() == "voter_id,'=1+1,-0.5,\narm,lift\n'@evil,-0.01\nok,\n"


def test_no_module_writes_csv_but_through_the_one_writer():
    writers = re.compile(r"(?<![\w.])csv\.(writer|DictWriter)\(")
    offenders = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if writers.search(path.read_text()) and path.name != "spreadsheet_csv.py"
    ]
    assert offenders == []


@pytest.mark.django_db
def test_export_scores_escapes_formulas_in_ids_and_reasons(campaign):
    run = ScoringRunFactory(campaign=campaign)
    VoterScoreFactory(
        run=run,
        voter=VoterFactory(campaign=campaign, voter_id="=cmd|' /C calc'!A0"),
        turnout=0.25,
        uplift={},
        best_arm="",
        reasons={"turnout": [["@SUM(1) precinct", -0.04]]},
    )
    out = io.StringIO()

    written = export_scores(campaign=campaign, out=out, actor="test")

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert written == 1
    assert rows == [
        ["voter_id", "turnout", "support", "best_arm", "why", "reason_1", "reason_2", "reason_3"],
        ["'=cmd|' /C calc'!A0", "0.25000", "0.48000", "", "", "'@SUM(1) precinct: -4.0 pts",
         "", ""],
    ]  # fmt: skip
