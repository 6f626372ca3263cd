"""The staff side of the canvass: turfs with progress on the program page, results per organizer
and per hour, flagged results settled, and each turf's map (messaging.field_progress and
messaging.canvass_admin)."""

from __future__ import annotations

import re
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaign.models import AuditEvent
from messaging.canvass_admin import canvass_context, turf_map_context
from messaging.canvassing import cut_program_turfs
from messaging.field import settle_field_results
from messaging.field_progress import (
    door_states,
    hourly_results,
    organizer_results,
    progress_totals,
    turf_progress,
)
from messaging.models import FieldResult, ProgramDesign
from tests.factories import HouseholdFactory
from tests.messaging.canvass_setup import door_program, make_county
from tests.messaging.field_setup import (
    Field,
    field_program,
    one_voter_per_door,
    record_canvass,
    yesterday_at,
)
from voters.models import Voter

pytestmark = pytest.mark.django_db


@pytest.fixture
def field(campaign) -> Field:
    return field_program(campaign)


@pytest.fixture
def canvass(field) -> Field:
    return record_canvass(field)


def flagged(field: Field) -> FieldResult:
    return FieldResult.objects.exclude(flag="").get(design=field.design)


def page_url(design: ProgramDesign) -> str:
    return reverse("admin:messaging_programdesign_change", args=[design.pk])


def settle_url(design: ProgramDesign) -> str:
    return reverse("admin:messaging_programdesign_settle", args=[design.pk])


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of each row's cells of the table with that id (tags stripped)."""
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    return [
        [
            re.sub(r"<[^>]+>|\s+", " ", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
        if "<td" in row
    ]


# -- per turf ----------------------------------------------------------------------------------


def test_turf_progress_counts_doors_knocked_contacts_and_support_ids_per_turf(
    canvass, django_assert_num_queries
):
    with django_assert_num_queries(2):
        rows = turf_progress(canvass.design)

    figures = [
        (r["name"], r["organizer"], r["doors_with_result"], r["contacts"], r["support_ids"])
        for r in rows
    ]
    assert len(rows) == 3
    assert figures == [
        (canvass.turf.name, "oscar", 4, 1, 1),
        (canvass.other_turf.name, "oscar", 1, 1, 0),
        (rows[2]["name"], None, 0, 0, 0),
    ]
    assert rows[0]["share_done"] == 4 / canvass.turf.doors
    totals = progress_totals(rows)
    assert (totals["doors_with_result"], totals["contacts"], totals["support_ids"]) == (5, 2, 1)
    assert totals["doors"] == sum(r["doors"] for r in rows)


def test_turf_progress_counts_imported_door_results_by_the_turf_the_household_is_in_now(
    field, django_assert_num_queries
):
    from tests.factories import ContactAttemptFactory

    voter = one_voter_per_door(field, field.other_turf)[1]
    ContactAttemptFactory(
        voter=voter, campaign=voter.campaign, program=field.design.program, channel="door",
        result="contacted", occurred_at=yesterday_at(9, 0),
    )  # fmt: skip
    ContactAttemptFactory(  # another channel is not a door knocked
        voter=voter, campaign=voter.campaign, program=field.design.program, channel="phone",
        result="contacted", occurred_at=yesterday_at(9, 5),
    )  # fmt: skip

    rows = turf_progress(field.design)

    assert [(r["doors_with_result"], r["contacts"]) for r in rows] == [(0, 0), (1, 1), (0, 0)]


# -- per organizer and per hour ----------------------------------------------------------------


def test_organizer_results_count_each_organizers_results_flags_and_last_time(
    canvass, django_assert_num_queries
):
    with django_assert_num_queries(1):
        rows = organizer_results(canvass.design)

    picked = [
        {k: r[k] for k in ("organizer__username", "knocked", "contacts", "refusals",
                           "support_ids", "flagged", "to_settle", "last_at")}
        for r in rows
    ]  # fmt: skip
    assert picked == [
        {"organizer__username": "olive", "knocked": 4, "contacts": 1, "refusals": 1,
         "support_ids": 1, "flagged": 1, "to_settle": 1, "last_at": yesterday_at(11, 30)},
        {"organizer__username": "oscar", "knocked": 1, "contacts": 1, "refusals": 0,
         "support_ids": 0, "flagged": 0, "to_settle": 0, "last_at": yesterday_at(11, 20)},
    ]  # fmt: skip


def test_hourly_results_are_cut_in_the_campaigns_time_zone(canvass, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = hourly_results(canvass.design, "America/New_York")
    chicago = hourly_results(canvass.design, "America/Chicago")

    assert [(r["hour"], r["results"], r["knocked"], r["contacts"], r["refusals"], r["support_ids"])
            for r in rows] == [
        (yesterday_at(10, 0), 2, 2, 1, 0, 1),
        (yesterday_at(11, 0), 3, 3, 1, 1, 0),
    ]  # fmt: skip
    assert str(rows[0]["hour"].tzinfo) == "America/New_York"
    assert [r["hour"].hour for r in chicago] == [9, 10]


# -- the program page --------------------------------------------------------------------------


def test_the_program_page_lists_turfs_with_progress_totals_and_links(canvass, staff_client):
    page = staff_client.get(page_url(canvass.design)).content.decode()

    rows = cells(page, "turf-progress")
    turf = canvass.turf
    assert rows[0] == [
        "1", turf.name, "P01", "oscar", str(turf.doors), "4", "1", "1",
        f"{4 / turf.doors:.0%}", "unknown",
    ]  # fmt: skip
    assert rows[1][:8] == ["2", canvass.other_turf.name, "P01", "oscar",
                           str(canvass.other_turf.doors), "1", "1", "0"]  # fmt: skip
    assert rows[2][3:8] == ["not assigned", rows[2][4], "0", "0", "0"]
    total_doors = sum(t.doors for t in canvass.design.turfs.all())
    assert rows[3][1:8] == ["Total: 3 turfs", "", "", str(total_doors), "5", "2", "1"]
    assert reverse("admin:messaging_turf_change", args=[turf.pk]) in page


def test_the_program_page_shows_results_by_organizer_and_by_hour_with_the_zone(
    canvass, staff_client
):
    page = staff_client.get(page_url(canvass.design)).content.decode()
    day = yesterday_at(10, 0)

    assert cells(page, "organizer-results") == [
        ["olive", "4", "1", "1", "1", "1", "1", f"{day:%Y-%m-%d} 11:30 {day:%Z}"],
        ["oscar", "1", "1", "0", "0", "0", "0", f"{day:%Y-%m-%d} 11:20 {day:%Z}"],
    ]
    assert "last result (America/New_York)" in page
    hours = cells(page, "hourly-results")
    assert [row[0] for row in hours] == [
        f"{day:%a %Y-%m-%d} 10:00-11:00 {day:%Z}",
        f"{day:%a %Y-%m-%d} 11:00-12:00 {day:%Z}",
    ]
    assert [row[1:] for row in hours] == [
        ["2", "", "2", "1", "0", "1"],
        ["3", "", "3", "1", "1", "0"],
    ]
    assert "Results by hour (America/New_York)" in page


def test_numbers_on_the_program_page_have_thousands_separators():
    from messaging.canvass_admin import _total_cells

    cells_ = _total_cells({"turfs": 1200, "doors": 61234, "doors_with_result": 12345,
                           "contacts": 4321, "support_ids": 1000, "share_done": 0.2,
                           "net_votes": 1234.56})  # fmt: skip
    assert cells_["doors"] == "61,234"
    assert cells_["knocked"] == "12,345"
    assert cells_["turfs"] == "1,200"
    assert cells_["net_votes"] == "1,234.6"


def test_the_canvass_section_takes_the_same_queries_however_many_turfs(field, staff_client):
    design = ProgramDesign.objects.select_related("campaign").get(pk=field.design.pk)
    with CaptureQueriesContext(connection) as few:
        assert len(canvass_context(design, may_settle=True)["turfs"]) == 3
    FieldResult.objects.all().delete()
    cut_program_turfs(design=design, min_doors=1, max_doors=3)
    with CaptureQueriesContext(connection) as many:
        assert len(canvass_context(design, may_settle=True)["turfs"]) >= 6

    assert len(few) == len(many) == 5
    _page_queries(staff_client, design)  # warms per-process caches (content types)
    page_few = _page_queries(staff_client, design)
    cut_program_turfs(design=design, min_doors=1, max_doors=10)
    assert _page_queries(staff_client, design) == page_few


def _page_queries(client, design) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page_url(design)).status_code == 200
    return len(queries)


def test_a_program_not_yet_cut_says_so(campaign, staff_client):
    make_county(campaign, located=6, street=0, scored=False)
    design = door_program(campaign)

    page = staff_client.get(page_url(design)).content.decode()

    assert "Not cut into turfs yet" in page
    assert (
        "No results from the organizers&#x27; phones yet." in page
        or "No results from the organizers' phones yet." in page
    )


def test_a_text_program_has_no_canvass_section(campaign, staff_client):
    make_county(campaign, located=4, street=0, scored=False)
    design = door_program(campaign, name="Texts", channel="sms")

    page = staff_client.get(page_url(design)).content.decode()

    assert 'id="program-canvass"' not in page


# -- flagged results ---------------------------------------------------------------------------


def test_staff_accept_a_flagged_result_from_the_program_page_with_who_when_and_an_audit_row(
    canvass, staff_client, staff_user
):
    result = flagged(canvass)
    page = staff_client.get(page_url(canvass.design)).content.decode()
    assert cells(page, "flagged-results")[0][:7] == [
        f"{yesterday_at(11, 30):%Y-%m-%d %H:%M %Z}", result.voter.voter_id, "olive",
        str(canvass.turf.pk), "Not home", "—", "Turf since given to another organizer",
    ]  # fmt: skip
    assert "1 to settle" in page

    response = staff_client.post(
        settle_url(canvass.design), {"result": result.pk, "settlement": "accepted"}
    )

    result.refresh_from_db()
    assert response.status_code == 302
    assert (result.settlement, result.settled_by) == ("accepted", staff_user)
    assert abs((timezone.now() - result.settled_at).total_seconds()) < 60
    event = AuditEvent.objects.get(action="field_result_settle")
    assert (event.user, event.campaign_id, event.object_type, event.object_id) == (
        staff_user,
        canvass.design.campaign_id,
        "messaging.fieldresult",
        str(result.pk),
    )
    assert event.detail == {"settlement": "accepted", "flag": "reassigned",
                            "program": canvass.design.program_id,
                            "organizer": canvass.organizer.pk}  # fmt: skip
    after = staff_client.get(page_url(canvass.design)).content.decode()
    assert "Accepted: counts in the canvass" in cells(after, "flagged-results")[0][7]
    assert "by staffer" in cells(after, "flagged-results")[0][7]
    assert turf_progress(canvass.design)[0]["doors_with_result"] == 4


def test_a_dismissed_result_is_left_out_of_the_canvass_figures_but_not_history(canvass, staff_user):
    result = flagged(canvass)

    settled = settle_field_results(results=[result], settlement="dismissed", by=staff_user)

    assert settled == 1
    assert turf_progress(canvass.design)[0]["doors_with_result"] == 3
    olive = organizer_results(canvass.design)[0]
    assert (olive["knocked"], olive["flagged"], olive["to_settle"]) == (3, 1, 0)
    assert [r["results"] for r in hourly_results(canvass.design, "America/New_York")] == [2, 2]
    stop = canvass.turf.stops.get(household_id=result.voter.household_id).position
    assert {d.stop: d.state for d in door_states(canvass.turf)}[stop] == "not_knocked"
    assert result.contact_attempt.__class__.objects.filter(pk=result.contact_attempt_id).exists()


def test_a_result_is_settled_once_and_an_unflagged_one_never(canvass, staff_user, make_member):
    result = flagged(canvass)
    plain = FieldResult.objects.filter(flag="").first()
    settle_field_results(results=[result], settlement="accepted", by=staff_user)

    again = settle_field_results(
        results=[result, plain],
        settlement="dismissed",
        by=make_member(canvass.design.campaign, "staff", "boss"),
    )

    result.refresh_from_db()
    plain.refresh_from_db()
    assert again == 0
    assert (result.settlement, result.settled_by) == ("accepted", staff_user)
    assert (plain.settlement, plain.settled_at) == ("", None)
    assert AuditEvent.objects.filter(action="field_result_settle").count() == 1


def test_a_viewer_sees_the_canvass_but_cannot_settle_and_never_a_phone_or_email(
    canvass, client, make_member
):
    client.force_login(make_member(canvass.design.campaign, "viewer"))
    result = flagged(canvass)

    page = client.get(page_url(canvass.design)).content.decode()
    refused = client.post(
        settle_url(canvass.design), {"result": result.pk, "settlement": "dismissed"}
    )

    assert 'id="turf-progress"' in page
    assert 'id="flagged-results"' in page
    assert "to settle (staff)" in page
    assert settle_url(canvass.design) not in page
    for voter in Voter.objects.filter(campaign=canvass.design.campaign):
        assert voter.phone not in page
        assert voter.email not in page
    assert refused.status_code == 403
    result.refresh_from_db()
    assert result.settlement == ""


def test_another_campaigns_program_page_and_settle_are_404s(
    canvass, other_campaign, make_member, client
):
    client.force_login(make_member(other_campaign, "staff", "rival-staff"))
    result = flagged(canvass)

    page = client.get(page_url(canvass.design))
    settle = client.post(
        settle_url(canvass.design), {"result": result.pk, "settlement": "dismissed"}
    )

    assert (page.status_code, settle.status_code) == (404, 404)
    result.refresh_from_db()
    assert result.settlement == ""


def test_settling_through_another_program_settles_nothing_of_this_one(
    canvass, campaign, staff_client
):
    other = door_program(campaign, name="Other doors", commit=False)
    result = flagged(canvass)

    staff_client.post(settle_url(other), {"result": result.pk, "settlement": "dismissed"})

    result.refresh_from_db()
    assert result.settlement == ""


@pytest.mark.parametrize("bad", ["¹", "٣", "9" * 40, "-1", ""])
def test_a_result_id_that_is_no_id_settles_nothing_and_is_no_server_error(
    canvass, staff_client, bad
):
    result = flagged(canvass)

    response = staff_client.post(
        settle_url(canvass.design), {"result": bad, "settlement": "dismissed"}
    )

    assert response.status_code == 302
    result.refresh_from_db()
    assert result.settlement == ""


def test_the_field_results_list_settles_selected_flagged_results(canvass, staff_client, staff_user):
    result = flagged(canvass)
    ids = list(FieldResult.objects.values_list("pk", flat=True))

    response = staff_client.post(
        reverse("admin:messaging_fieldresult_changelist"),
        {"action": "dismiss_selected", "_selected_action": ids},
    )

    result.refresh_from_db()
    assert response.status_code == 302
    assert (result.settlement, result.settled_by) == ("dismissed", staff_user)
    assert FieldResult.objects.filter(settlement="").count() == len(ids) - 1


def test_the_field_results_list_shows_times_on_the_campaigns_clock_with_the_zone(
    canvass, staff_client
):
    page = staff_client.get(reverse("admin:messaging_fieldresult_changelist")).content.decode()

    assert f"{yesterday_at(11, 30):%Y-%m-%d %H:%M %Z}" in page
    assert f"{yesterday_at(10, 15):%Y-%m-%d %H:%M %Z}" in page


# -- the turf's map ----------------------------------------------------------------------------


def test_the_turf_page_maps_its_doors_in_order_by_state_with_a_legend_and_scale(
    canvass, staff_client
):
    turf = canvass.turf
    response = staff_client.get(reverse("admin:messaging_turf_change", args=[turf.pk]))
    page = response.content.decode()

    doors = re.findall(r'<g class="door (\w+)" data-stop="(\d+)">', page)
    assert [int(stop) for _, stop in doors] == list(range(1, turf.doors + 1))
    states = [state for state, _ in doors]
    assert states.count("knocked") == 3  # two not-homes and a refusal
    assert states.count("contacted") == 1
    assert states.count("not_knocked") == turf.doors - 4
    assert '<polyline class="route"' in page
    assert "not knocked: " + str(turf.doors - 4) in page
    assert "contacted (a voter talked): 1" in page
    assert re.search(r">\d+ k?m</text>", page)  # the scale bar's label
    turf.refresh_from_db()
    assert f"{turf.assigned_at.astimezone(ZoneInfo('America/New_York')):%Y-%m-%d %H:%M %Z}" in page
    assert "http" not in re.search(r'<div id="turf-map".*?</div>\s*</div>', page, re.S).group(0)


def test_a_turf_without_coordinates_says_so_instead_of_an_empty_map(campaign, staff_client):
    make_county(campaign, located=0, street=12, scored=False)
    (turf, *_) = cut_program_turfs(design=door_program(campaign), min_doors=1, max_doors=40)

    page = staff_client.get(reverse("admin:messaging_turf_change", args=[turf.pk])).content.decode()

    assert 'id="turf-map-none"' in page
    assert "No door of this turf has coordinates" in page
    assert "<polyline" not in page


def test_doors_without_coordinates_are_counted_off_the_map(field):
    turf = field.turf
    door = turf.stops.order_by("position").first()
    moved = HouseholdFactory(campaign=field.design.campaign, latitude=None, longitude=None)
    door.household.latitude = door.household.longitude = None
    door.household.save(update_fields=["latitude", "longitude"])

    context = turf_map_context(turf)

    assert moved.pk  # an unrelated household changes nothing
    assert context["unplaced"] == 1
    assert [stop for stop, *_ in context["points"]] == list(range(2, turf.doors + 1))


# -- the program's report counts the phones' results -------------------------------------------


def test_door_results_from_the_field_pages_appear_in_the_programs_delivered_counts(
    field, staff_client
):
    import json

    from django.test import Client

    voters = one_voter_per_door(field, field.turf)
    client = Client()
    client.force_login(field.organizer)
    for voter, outcome in zip(voters[:3], ("contacted", "not_home", "refused"), strict=True):
        posted = client.post(
            "/field/results/",
            json.dumps({"key": str(uuid.uuid4()), "turf": field.turf.pk,
                        "program": field.design.pk, "voter": voter.voter_id,
                        "outcome": outcome, "recorded_at": timezone.now().isoformat()}),
            content_type="application/json",
        )  # fmt: skip
        assert posted.status_code == 201, posted.content

    page = staff_client.get(page_url(field.design)).content.decode()

    assert "<h3>Door: 3 attempts</h3>" in page
    assert "<tr><td>health</td><td>3</td><td>1</td><td>1</td><td>1</td></tr>" in page
