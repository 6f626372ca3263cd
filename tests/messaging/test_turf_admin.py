"""Turfs in the admin: the list and its filters, cutting, assigning and re-cutting, tenancy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaign.models import AuditEvent
from messaging.canvassing import assign_turfs, cut_program_turfs
from messaging.models import Turf
from tests.factories import ContactAttemptFactory
from tests.messaging.canvass_setup import door_program, make_county
from voters.models import Assignment

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:messaging_turf_changelist")
CUT = reverse("admin:messaging_turf_cut")


@pytest.fixture
def program(campaign):
    make_county(campaign, located=40, street=20, scored=True)
    return door_program(campaign, arms=("health", "economy"))


@pytest.fixture
def turfs(program):
    return cut_program_turfs(design=program, min_doors=5, max_doors=12)


@pytest.fixture
def rival_turfs(other_campaign, make_member):
    make_county(other_campaign, located=20, street=0, scored=False)
    design = door_program(other_campaign, name="Rival doors")
    turfs = cut_program_turfs(design=design, min_doors=5, max_doors=12)
    assign_turfs(turfs=turfs, organizer=make_member(other_campaign, "organizer", "rival-walker"))
    return turfs


def test_the_list_shows_the_users_turfs_by_rank_with_their_figures(
    turfs, rival_turfs, staff_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = staff_client.get(CHANGELIST)

    shown = list(response.context["cl"].result_list)
    assert [t.pk for t in shown] == [t.pk for t in sorted(turfs, key=lambda t: t.rank)]
    page = response.content.decode()
    first = shown[0]
    assert f"{first.net_votes / first.doors:.4f}" in page
    assert "Cut a program into turfs" in page
    assert "P01-001" in page
    assert "Rival doors" not in page
    assert "rival-walker" not in page


def test_the_filters_offer_only_the_users_campaigns_programs_organizers_and_precincts(
    turfs, rival_turfs, staff_client, make_member
):
    walker = make_member(turfs[0].campaign, "organizer", "walker")
    assign_turfs(turfs=turfs[:1], organizer=walker)

    response = staff_client.get(CHANGELIST, {"organizer": str(walker.pk)})

    choices = {
        spec.title: [c["display"] for c in spec.choices(response.context["cl"])]
        for spec in response.context["cl"].filter_specs
    }
    assert choices == {
        "program": ["All", "Doors"],
        "organizer": ["All", "not assigned", "walker"],
        "precinct": ["All", "P01", "P02"],
    }
    assert [t.pk for t in response.context["cl"].result_list] == [turfs[0].pk]


@pytest.mark.parametrize(
    "params",
    [
        {"organizer": "None"}, {"design": "1 OR 1=1"}, {"rank": "abc"}, {"design": "¹"},
        {"design": "٣"}, {"organizer": "9" * 40},
    ],
)  # fmt: skip
def test_hostile_filter_parameters_are_not_a_server_error(turfs, staff_client, params):
    response = staff_client.get(CHANGELIST, params)

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_turf_page_lists_its_doors_in_walking_order_and_links_its_walk_lists(
    turfs, staff_client
):
    turf = turfs[0]

    page = staff_client.get(reverse("admin:messaging_turf_change", args=[turf.pk])).content
    page = page.decode()

    addresses = list(turf.stops.order_by("position").values_list("household__address", flat=True))
    positions = [page.index(f"<td>{address}</td>") for address in addresses]
    assert positions == sorted(positions)
    assert reverse("admin:messaging_turf_pdf", args=[turf.pk]) in page
    assert 'name="_save"' not in page


def test_staff_cut_a_program_from_the_cut_page(program, staff_client, staff_user):
    form = staff_client.get(CUT)
    assert [c[1] for c in form.context["form"].fields["design"].choices] == ["---------", "Doors"]

    response = staff_client.post(CUT, {"design": program.pk, "min_doors": 5, "max_doors": 12})

    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}?design={program.pk}"
    turfs = Turf.objects.filter(design=program)
    assert turfs.exists()
    assert all(5 <= t.doors <= 12 for t in turfs)
    assert AuditEvent.objects.get(action="turf_cut").user == staff_user


def test_the_cut_page_shows_why_a_program_cannot_be_cut_again(turfs, program, staff_client):
    voter = Assignment.objects.filter(program_id=program.program_id).first().voter
    ContactAttemptFactory(voter=voter, campaign=voter.campaign, program=program.program)
    before = sorted(Turf.objects.values_list("pk", flat=True))

    response = staff_client.post(CUT, {"design": program.pk, "min_doors": 5, "max_doors": 40})

    assert response.status_code == 200
    assert "results have been recorded" in response.content.decode()
    assert sorted(Turf.objects.values_list("pk", flat=True)) == before


def test_the_cut_page_refuses_hostile_input_with_a_form_error(program, staff_client):
    response = staff_client.post(CUT, {"design": "x", "min_doors": "-3", "max_doors": "99999"})

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"design", "min_doors", "max_doors"}
    assert not Turf.objects.exists()


def test_another_campaigns_program_cannot_be_cut(rival_turfs, other_campaign, staff_client):
    design = rival_turfs[0].design
    before = sorted(Turf.objects.values_list("pk", flat=True))

    response = staff_client.post(CUT, {"design": design.pk, "min_doors": 5, "max_doors": 40})

    assert response.status_code == 200
    assert "design" in response.context["form"].errors
    assert sorted(Turf.objects.values_list("pk", flat=True)) == before


def test_assigning_offers_the_campaigns_organizers_then_assigns(
    turfs, rival_turfs, staff_client, make_member, staff_user
):
    walker = make_member(turfs[0].campaign, "organizer", "walker")
    make_member(turfs[0].campaign, "viewer", "looker")
    chosen = [turfs[0].pk, turfs[1].pk]

    form = staff_client.post(
        CHANGELIST, {"action": "assign_to_organizer", "_selected_action": chosen}
    )
    offered = [u.username for u in form.context["form"].fields["organizer"].queryset]
    done = staff_client.post(
        CHANGELIST,
        {"action": "assign_to_organizer", "_selected_action": chosen, "apply": "yes",
         "organizer": walker.pk},
    )  # fmt: skip

    assert offered == ["staffer", "walker"]
    assert done.status_code == 302
    assert sorted(Turf.objects.filter(organizer=walker).values_list("pk", flat=True)) == sorted(
        chosen
    )
    assert AuditEvent.objects.filter(action="turf_assign", user=staff_user).count() == 2


def test_assigning_to_another_campaigns_organizer_is_refused(turfs, rival_turfs, staff_client):
    outsider = Turf.objects.get(pk=rival_turfs[0].pk).organizer

    response = staff_client.post(
        CHANGELIST,
        {"action": "assign_to_organizer", "_selected_action": [turfs[0].pk], "apply": "yes",
         "organizer": outsider.pk},
    )  # fmt: skip

    assert response.status_code == 200
    assert "organizer" in response.context["form"].errors
    assert not Turf.objects.filter(campaign=turfs[0].campaign, organizer__isnull=False).exists()


def test_re_cutting_a_selected_turf_splits_it(turfs, staff_client):
    turf = max(turfs, key=lambda t: t.doors)
    count = Turf.objects.count()

    response = staff_client.post(
        CHANGELIST,
        {"action": "recut_selected", "_selected_action": [turf.pk], "apply": "yes",
         "min_doors": 2, "max_doors": 4},
    )  # fmt: skip

    assert response.status_code == 302
    assert Turf.objects.count() > count
    assert all(2 <= t.doors <= 4 for t in Turf.objects.filter(name__in=_names_after(turf)))


def _names_after(turf: Turf) -> list[str]:
    event = AuditEvent.objects.get(action="turf_recut")
    return list(Turf.objects.filter(pk__in=event.detail["turfs"]).values_list("name", flat=True))


def test_a_viewer_may_not_assign_cut_or_re_cut(turfs, client, make_member):
    client.force_login(make_member(turfs[0].campaign, "viewer"))
    walker = make_member(turfs[0].campaign, "organizer", "walker")

    listed = client.get(CHANGELIST)
    cut = client.get(CUT)
    client.post(
        CHANGELIST,
        {"action": "assign_to_organizer", "_selected_action": [turfs[0].pk], "apply": "yes",
         "organizer": walker.pk},
    )  # fmt: skip

    assert listed.status_code == 200
    assert "Cut a program into turfs" not in listed.content.decode()
    assert listed.context["action_form"] is None or not listed.context["cl"].actions
    assert cut.status_code == 403
    assert not Turf.objects.filter(organizer__isnull=False).exists()
    assert not AuditEvent.objects.filter(action__startswith="turf_assign").exists()


def test_another_campaigns_turfs_cannot_be_assigned_by_selecting_their_ids(
    turfs, rival_turfs, staff_client, make_member
):
    walker = make_member(turfs[0].campaign, "organizer", "walker")
    before = dict(Turf.objects.values_list("pk", "organizer_id"))

    staff_client.post(
        CHANGELIST,
        {"action": "assign_to_organizer", "_selected_action": [rival_turfs[0].pk],
         "apply": "yes", "organizer": walker.pk},
    )  # fmt: skip

    assert dict(Turf.objects.values_list("pk", "organizer_id")) == before


def test_re_cutting_with_a_minimum_above_the_maximum_says_why_and_changes_nothing(
    turfs, staff_client
):
    before = sorted(Turf.objects.values_list("pk", "doors"))

    response = staff_client.post(
        CHANGELIST,
        {"action": "recut_selected", "_selected_action": [turfs[0].pk], "apply": "yes",
         "min_doors": 30, "max_doors": 3},
        follow=True,
    )  # fmt: skip

    assert response.status_code == 200
    assert "turf sizes need 1 &lt;= min &lt;= max (got 30-3)" in response.content.decode()
    assert sorted(Turf.objects.values_list("pk", "doors")) == before
    assert not AuditEvent.objects.filter(action="turf_recut").exists()
