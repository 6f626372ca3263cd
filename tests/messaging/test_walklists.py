"""Walk lists (messaging.walklists): what a PDF, a CSV and the page hold, who may get them, and
that every one is audited."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile

import pypdf
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from campaign.models import AuditEvent
from messaging.canvassing import assign_turfs, cut_program_turfs
from messaging.models import Turf
from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program
from messaging.services import create_variant
from messaging.walklist_pdf import RESULTS, WalkDoor, WalkList, WalkVoter, render_pdf
from messaging.walklists import CSV_HEADER, build_walk_list, download_walk_list
from tests.factories import (
    HouseholdFactory,
    ScoringRunFactory,
    VoterFactory,
    VoterScoreFactory,
)
from tests.messaging.canvass_setup import door_program, make_county
from voters.models import SurveyQuestion

pytestmark = pytest.mark.django_db

SCRIPT = "Hi {{ voter.first_name }}, I'm with {{ sender.name }}. Health care is on the ballot."
POINT = "voted in 3 of the last 4 general elections"
# (first, last, birth date, party, household number, latitude, longitude)
PEOPLE = [
    ("Zoë", "Ångström", dt.date(1990, 5, 1), "dem", 3, 36.0000, -78.9000),
    ("Дмитрий", "Петров", dt.date(1961, 12, 31), "rep", 3, 36.0000, -78.9000),
    ("MARY", "O'Neil", dt.date(2001, 1, 15), "una", 5, 36.0004, -78.9000),
    ("Kenji", "Tanaka", dt.date(1975, 7, 4), "lib", 7, 36.0008, -78.9003),
]


def age(born: dt.date) -> int:
    today = timezone.localdate()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@pytest.fixture
def turf(campaign, staff_user):
    """One turf of three households (two voters at number 3), scored, with a support question."""
    create_variant(campaign=campaign, name="health", channel="door", body=SCRIPT)
    # Every campaign has the support question; its wording is the campaign's.
    SurveyQuestion.objects.update_or_create(
        campaign=campaign, slug="support", defaults={"text": "Will you vote for Ana Díaz?"}
    )
    run = ScoringRunFactory(campaign=campaign)
    households = {}
    for first, last, born, party, number, lat, lon in PEOPLE:
        if number not in households:
            households[number] = HouseholdFactory(
                campaign=campaign, address_key=f"{number}|MAIN ST||27701",
                address=f"{number} MAIN ST", city="Durham", latitude=lat, longitude=lon,
            )  # fmt: skip
        voter = VoterFactory(
            campaign=campaign, household=households[number], first_name=first, last_name=last,
            birth_date=born, birth_year=born.year, party=party,
        )  # fmt: skip
        VoterScoreFactory(run=run, voter=voter, reasons={"turnout": [[POINT, 0.12]]})
    spec = {"name": "Doors", "channel": "door", "arms": ["health"], "policy": "single",
            "control_share": 0.01, "seed": 5}  # fmt: skip
    design = commit_program(design=create_program(campaign=campaign, spec=parse_spec(spec)))
    (turf,) = cut_program_turfs(design=design, min_doors=1, max_doors=10)
    assert turf.doors == 3  # the draw put no household in control
    return turf


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def phones_and_emails(campaign) -> list[str]:
    values = list(campaign.voters.values_list("phone", "email"))
    return [v for pair in values for v in pair if v]


def url(name: str, turf: Turf) -> str:
    return reverse(f"admin:messaging_turf_{name}", args=[turf.pk])


# -- content ------------------------------------------------------------------------------------


def test_a_walk_list_holds_the_doors_in_walking_order_with_their_voters_together(turf):
    walk_list = build_walk_list(turf)

    assert [(d.stop, d.address, d.script) for d in walk_list.doors] == [
        (1, "3 MAIN ST", "health v1"),
        (2, "5 MAIN ST", "health v1"),
        (3, "7 MAIN ST", "health v1"),
    ]
    assert [[(v.name, v.age, v.party) for v in d.voters] for d in walk_list.doors] == [
        [("Zoë Ångström", age(PEOPLE[0][2]), "DEM"), ("Дмитрий Петров", age(PEOPLE[1][2]), "REP")],
        [("Mary O'Neil", age(PEOPLE[2][2]), "UNA")],
        [("Kenji Tanaka", age(PEOPLE[3][2]), "LIB")],
    ]
    assert {v.talking_points for d in walk_list.doors for v in d.voters} == {(POINT,)}
    assert [(s.name, s.text) for s in walk_list.scripts] == [
        ("health v1", "Hi [first name], I'm with Home campaign. Health care is on the ballot.")
    ]
    assert walk_list.support_question == "Will you vote for Ana Díaz?"


def test_the_pdf_holds_names_ages_party_script_talking_points_and_result_boxes(turf):
    content, kind, name = download_walk_list(turf=turf, fmt="pdf")

    text = pdf_text(content)
    assert (kind, name) == ("application/pdf", f"walk-list-{turf.design.program_id}-{turf.pk}.pdf")
    for first, last, born, party, *_ in PEOPLE:
        shown = "Mary" if first == "MARY" else first
        assert f"{shown} {last}" in text
        assert f"age {age(born)} · {party.upper()}" in text
    for expected in (
        "Script: health v1", "Hi [first name], I'm with Home campaign.", POINT,
        "Will you vote for Ana Díaz?", "Support:", "1. 3 MAIN ST", "3. 7 MAIN ST",
        *RESULTS,
    ):  # fmt: skip
        assert expected in text
    assert text.count("Come back") == 4  # one row of boxes per voter


def test_no_phone_or_email_is_in_any_format(turf, staff_client):
    secrets = phones_and_emails(turf.campaign)
    assert len(secrets) == 8

    pdf = pdf_text(download_walk_list(turf=turf, fmt="pdf")[0])
    csv = download_walk_list(turf=turf, fmt="csv")[0].decode()
    page = staff_client.get(url("walk_list", turf)).content.decode()

    for value in secrets:
        assert value not in pdf
        assert value not in csv
        assert value not in page


def test_the_csv_has_one_row_per_voter_with_the_exact_header(turf):
    content, kind, _ = download_walk_list(turf=turf, fmt="csv")

    lines = content.decode().splitlines()
    assert kind == "text/csv; charset=utf-8"
    assert lines[0] == (
        "turf,stop,address,unit,city,zip,script,voter_id,name,age,party,talking_points,result,"
        "support"
    )
    assert tuple(lines[0].split(",")) == CSV_HEADER
    ids = {v.first_name: v.voter_id for v in turf.campaign.voters.all()}
    assert lines[1:] == [
        f"P01-001,1,3 MAIN ST,,Durham,27701,health v1,{ids['Zoë']},Zoë Ångström,"
        f"{age(PEOPLE[0][2])},DEM,{POINT},,",
        f"P01-001,1,3 MAIN ST,,Durham,27701,health v1,{ids['Дмитрий']},Дмитрий Петров,"
        f"{age(PEOPLE[1][2])},REP,{POINT},,",
        f"P01-001,2,5 MAIN ST,,Durham,27701,health v1,{ids['MARY']},Mary O'Neil,"
        f"{age(PEOPLE[2][2])},UNA,{POINT},,",
        f"P01-001,3,7 MAIN ST,,Durham,27701,health v1,{ids['Kenji']},Kenji Tanaka,"
        f"{age(PEOPLE[3][2])},LIB,{POINT},,",
    ]


def test_a_csv_cell_that_a_spreadsheet_would_run_is_escaped(turf):
    turf.campaign.voters.filter(first_name="Kenji").update(first_name="=cmd", last_name="")

    csv = download_walk_list(turf=turf, fmt="csv")[0].decode()

    assert ",'=cmd," in csv
    assert ",=cmd," not in csv


def test_a_control_household_of_the_program_is_on_no_walk_list(campaign):
    make_county(campaign, located=40, street=0, scored=False)
    design = door_program(campaign)
    turfs = cut_program_turfs(design=design, min_doors=5, max_doors=40)
    control = set(
        design.program.assignments.filter(arm__is_control=True).values_list(
            "voter__voter_id", flat=True
        )
    )
    assert control

    listed = {v.voter_id for t in turfs for d in build_walk_list(t).doors for v in d.voters}

    assert not listed & control
    assert len(listed) == sum(t.voters for t in turfs)


def _door(i: int) -> WalkDoor:
    voters = tuple(
        WalkVoter(f"V{i}-{j}", f"Zoë Петрова {i}-{j}", 40 + j, "DEM", (POINT,))
        for j in range(1 + i % 3)
    )
    return WalkDoor(
        stop=i + 1, address=f"{100 + i} OAK ST", unit="", city="Durham", zip5="27701",
        script="health v1", voters=voters, latitude=36 + (i % 9) * 4e-4,
        longitude=-78.9 + (i // 9) * 5e-4,
    )  # fmt: skip


def _door(i: int) -> WalkDoor:
    voters = tuple(
        WalkVoter(f"V{i}-{j}", f"Zoë Петрова {i}-{j}", 40 + j, "DEM", (POINT,))
        for j in range(1 + i % 3)
    )
    return WalkDoor(
        stop=i + 1, address=f"{100 + i} OAK ST", unit="", city="Durham", zip5="27701",
        script="health v1", voters=voters, latitude=36 + (i % 9) * 4e-4,
        longitude=-78.9 + (i // 9) * 5e-4,
    )  # fmt: skip


def test_an_80_door_pdf_renders_in_under_two_seconds():
    doors = tuple(_door(i) for i in range(80))
    walk_list = WalkList(
        "Home", "Doors", "P01-001", "P01", "walker", 1, 2400.0, 0.03, dt.date(2026, 10, 1),
        "Will you vote for Ana Díaz?", doors,
    )  # fmt: skip
    render_pdf(walk_list)  # fonts registered once per process

    started = time.perf_counter()
    content = render_pdf(walk_list)
    seconds = time.perf_counter() - started

    assert seconds < 2.0
    assert "80. 179 OAK ST" in pdf_text(content)


# -- the admin: downloads, audit, roles, tenancy -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "kind"),
    [("pdf", "pdf", "application/pdf"), ("csv", "csv", "text/csv; charset=utf-8"),
     ("walk_list", "html", "text/html; charset=utf-8")],
)  # fmt: skip
def test_every_download_and_view_is_one_audit_event(
    turf, staff_client, staff_user, name, fmt, kind
):
    before = AuditEvent.objects.filter(action="download").count()

    response = staff_client.get(url(name, turf))

    assert response.status_code == 200
    assert response["Content-Type"] == kind
    events = list(AuditEvent.objects.filter(action="download"))
    assert len(events) == before + 1
    event = events[0]
    assert (event.user, event.object_type, event.object_id, event.row_count) == (
        staff_user, "messaging.turf", str(turf.pk), 4,
    )  # fmt: skip
    assert event.detail == {"format": fmt, "program": turf.design.program_id, "doors": 3}


def test_the_page_shows_the_doors_voters_map_and_boxes(turf, staff_client):
    page = staff_client.get(url("walk_list", turf)).content.decode()

    for expected in ("Zoë Ångström", "Дмитрий Петров", "1. 3 MAIN ST", "Script: health v1",
                     "Talking points: " + POINT, "Come back", "<svg", "<polyline"):  # fmt: skip
        assert expected in page


def test_a_viewer_sees_the_page_but_may_not_download_files(turf, client, make_member):
    client.force_login(make_member(turf.campaign, "viewer"))

    page = client.get(url("walk_list", turf))
    pdf = client.get(url("pdf", turf))
    csv = client.get(url("csv", turf))

    assert page.status_code == 200
    assert (pdf.status_code, csv.status_code) == (403, 403)
    assert list(AuditEvent.objects.filter(action="download").values_list("detail", flat=True)) == [
        {"format": "html", "program": turf.design.program_id, "doors": 3}
    ]


@pytest.mark.parametrize("name", ["change", "pdf", "csv", "walk_list"])
def test_another_campaigns_turf_is_a_404_at_every_url(
    turf, other_campaign, client, make_member, name
):
    client.force_login(make_member(other_campaign, "admin"))
    args = [turf.pk]

    response = client.get(reverse(f"admin:messaging_turf_{name}", args=args))

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="download").exists()


def test_an_organizer_has_no_admin_access_to_turfs(turf, client, make_member):
    organizer = make_member(turf.campaign, "organizer")
    assign_turfs(turfs=[turf], organizer=organizer)
    client.force_login(organizer)

    assert client.get(url("pdf", turf)).status_code == 404
    assert not AuditEvent.objects.filter(action="download").exists()


def test_the_zip_action_holds_one_pdf_per_selected_turf_and_audits_each(campaign, staff_client):
    make_county(campaign, located=40, street=0, scored=False)
    design = door_program(campaign)
    turfs = cut_program_turfs(design=design, min_doors=5, max_doors=12)

    response = staff_client.post(
        reverse("admin:messaging_turf_changelist"),
        {"action": "download_pdfs", "_selected_action": [t.pk for t in turfs[:2]]},
    )

    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [
        f"{t.rank:03d}-walk-list-{design.program_id}-{t.pk}.pdf" for t in turfs[:2]
    ]
    assert turfs[0].name in pdf_text(archive.read(archive.namelist()[0]))
    events = AuditEvent.objects.filter(action="download")
    assert sorted(int(e.object_id) for e in events) == sorted(t.pk for t in turfs[:2])


# -- the command --------------------------------------------------------------------------------


def test_the_walk_lists_command_writes_one_file_per_turf_and_audits_each(turf, tmp_path, capsys):
    call_command("walk_lists", "--campaign", "home", "--program", "Doors", "--format", "csv",
                 "--out", str(tmp_path))  # fmt: skip

    name = f"001-walk-list-{turf.design.program_id}-{turf.pk}.csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert (tmp_path / name).read_text().splitlines()[0].startswith("turf,stop,address")
    assert capsys.readouterr().out.strip() == f"1 walk lists (csv) written to {tmp_path}"
    event = AuditEvent.objects.get(action="download")
    assert (event.object_id, event.detail["format"], event.user) == (str(turf.pk), "csv", None)


def test_the_walk_lists_command_names_a_missing_turf(turf, tmp_path):
    with pytest.raises(CommandError, match="no turf P09-001 in program 'Doors'"):
        call_command("walk_lists", "--campaign", "home", "--program", "Doors", "--turf",
                     "P09-001", "--out", str(tmp_path))  # fmt: skip

    assert list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.filter(action="download").exists()
