"""Roles in the admin: organizers have none of it, viewers read, staff edit campaign data,
admins also manage memberships and vendor keys. Membership changes go through the services."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from campaign.admin import CampaignScopedAdmin
from campaign.models import AuditEvent, Campaign, Membership, Role
from campaign.services import add_member, change_role, remove_member
from tests.factories import ElectionFactory, MembershipFactory, UserFactory, VoterFactory

pytestmark = pytest.mark.django_db


def scoped_admins() -> list[CampaignScopedAdmin]:
    return [a for a in admin.site._registry.values() if isinstance(a, CampaignScopedAdmin)]


def request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


# -- organizers --------------------------------------------------------------------------------


def test_organizer_has_no_admin_module_anywhere(campaign, make_member):
    request = request_as(make_member(campaign, Role.ORGANIZER))

    allowed = [
        type(a).__name__
        for a in scoped_admins()
        if a.has_module_permission(request) or a.has_view_permission(request)
    ]

    assert allowed == []


def test_organizer_sees_an_empty_admin_and_no_pages(client, campaign, make_member):
    ElectionFactory(campaign=campaign)
    client.force_login(make_member(campaign, Role.ORGANIZER))

    index = client.get(reverse("admin:index"))
    changelists = {
        name: client.get(reverse(f"admin:{name}_changelist")).status_code
        for name in ("campaign_campaign", "campaign_election", "voters_voter")
    }

    assert index.context["app_list"] == []
    assert changelists == {"campaign_campaign": 403, "campaign_election": 403, "voters_voter": 403}


def test_organizer_role_in_one_campaign_hides_only_that_campaign(client, campaign, other_campaign):
    user = UserFactory(username="mixed")
    MembershipFactory(user=user, campaign=campaign, role=Role.ORGANIZER)
    MembershipFactory(user=user, campaign=other_campaign, role=Role.STAFF)
    VoterFactory(campaign=campaign)
    theirs = VoterFactory(campaign=other_campaign)
    client.force_login(user)

    response = client.get(reverse("admin:voters_voter_changelist"))
    own_change = client.get(
        reverse("admin:campaign_campaign_change", args=[campaign.pk])
    ).status_code

    assert [v.pk for v in response.context["cl"].result_list] == [theirs.pk]
    assert own_change == 404


# -- viewers and staff -------------------------------------------------------------------------


def test_viewer_reads_but_cannot_add_anything(campaign, make_member):
    request = request_as(make_member(campaign, Role.VIEWER))

    readable = {type(a).__name__ for a in scoped_admins() if a.has_view_permission(request)}
    writable = [
        type(a).__name__
        for a in scoped_admins()
        if a.has_add_permission(request) or a.has_change_permission(request)
    ]

    assert {"CampaignAdmin", "ElectionAdmin", "VoterAdmin", "MembershipAdmin"} <= readable
    assert "VendorApiKeyAdmin" not in readable
    assert "AuditEventAdmin" not in readable
    assert writable == []


def test_staff_edit_campaign_data_but_not_memberships_keys_or_audit(campaign, make_member):
    request = request_as(make_member(campaign, Role.STAFF))
    by_name = {type(a).__name__: a for a in scoped_admins()}

    assert by_name["ElectionAdmin"].has_add_permission(request)
    assert not by_name["MembershipAdmin"].has_add_permission(request)
    assert not by_name["VendorApiKeyAdmin"].has_view_permission(request)
    assert not by_name["AuditEventAdmin"].has_view_permission(request)


def test_campaign_admin_manages_memberships_and_keys(campaign, make_member):
    request = request_as(make_member(campaign, Role.ADMIN))
    by_name = {type(a).__name__: a for a in scoped_admins()}

    assert by_name["MembershipAdmin"].has_add_permission(request)
    assert by_name["VendorApiKeyAdmin"].has_add_permission(request)
    assert by_name["AuditEventAdmin"].has_view_permission(request)
    assert not by_name["AuditEventAdmin"].has_change_permission(request)


# -- membership services -----------------------------------------------------------------------


def test_add_member_audits_an_add(campaign, make_member):
    boss = make_member(campaign, Role.ADMIN)
    newcomer = UserFactory(username="newcomer")

    membership = add_member(
        campaign=campaign, user=newcomer, role=Role.VIEWER, by=boss, client_ip="10.0.0.7"
    )

    event = AuditEvent.objects.get(action="membership_add")
    assert membership.role == Role.VIEWER
    assert (event.campaign_id, event.user, event.client_ip, event.object_id) == (
        campaign.pk,
        boss,
        "10.0.0.7",
        str(membership.pk),
    )
    assert event.detail == {"member": newcomer.pk, "role": "viewer"}


def test_add_member_again_with_another_role_audits_a_change(campaign):
    user = UserFactory(username="member")
    add_member(campaign=campaign, user=user, role=Role.VIEWER)

    add_member(campaign=campaign, user=user, role=Role.STAFF)
    add_member(campaign=campaign, user=user, role=Role.STAFF)

    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "membership_add",
        "membership_change",
    ]
    assert Membership.objects.get(user=user).role == Role.STAFF


def test_change_role_to_the_same_role_writes_nothing(campaign, make_member):
    membership = Membership.objects.get(user=make_member(campaign, Role.STAFF))

    change_role(membership=membership, role=Role.STAFF)

    assert AuditEvent.objects.count() == 0


def test_unknown_role_is_refused(campaign):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        add_member(campaign=campaign, user=UserFactory(), role="owner")
    assert Membership.objects.count() == 0


def test_remove_member_audits_and_deletes(campaign, make_member):
    membership = Membership.objects.get(user=make_member(campaign, Role.VIEWER))

    remove_member(membership=membership)

    assert not Membership.objects.filter(pk=membership.pk).exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id, event.detail["role"]) == (
        "membership_remove",
        str(membership.pk),
        "viewer",
    )


# -- membership admin --------------------------------------------------------------------------


def test_membership_admin_add_change_delete_go_through_audited_services(
    client, campaign, make_member
):
    boss = make_member(campaign, Role.ADMIN)
    client.force_login(boss)
    newcomer = UserFactory(username="newcomer")

    client.post(
        reverse("admin:campaign_membership_add"),
        {"user": newcomer.pk, "campaign": campaign.pk, "role": "staff"},
    )
    membership = Membership.objects.get(user=newcomer)
    client.post(
        reverse("admin:campaign_membership_change", args=[membership.pk]), {"role": "viewer"}
    )
    changed_role = Membership.objects.get(pk=membership.pk).role
    client.post(reverse("admin:campaign_membership_delete", args=[membership.pk]), {"post": "yes"})

    events = AuditEvent.objects.order_by("id")
    assert changed_role == "viewer"
    assert not Membership.objects.filter(user=newcomer).exists()
    assert [(e.action, e.user, e.client_ip) for e in events] == [
        ("membership_add", boss, "127.0.0.1"),
        ("membership_change", boss, "127.0.0.1"),
        ("membership_remove", boss, "127.0.0.1"),
    ]
    assert events[1].detail == {"member": newcomer.pk, "from": "staff", "to": "viewer"}


def test_membership_change_page_cannot_move_a_member(client, campaign, other_campaign, make_member):
    client.force_login(make_member(campaign, Role.ADMIN))
    member = UserFactory(username="member")
    membership = MembershipFactory(user=member, campaign=campaign, role=Role.STAFF)
    other = UserFactory(username="other")

    client.post(
        reverse("admin:campaign_membership_change", args=[membership.pk]),
        {"user": other.pk, "campaign": other_campaign.pk, "role": "staff"},
    )

    membership.refresh_from_db()
    assert (membership.user, membership.campaign) == (member, campaign)


def test_bulk_delete_of_memberships_audits_each(client, campaign, make_member):
    client.force_login(make_member(campaign, Role.ADMIN))
    doomed = [MembershipFactory(campaign=campaign, role=Role.VIEWER) for _ in range(2)]

    client.post(
        reverse("admin:campaign_membership_changelist"),
        {"action": "delete_selected", "_selected_action": [m.pk for m in doomed], "post": "yes"},
    )

    assert not Membership.objects.filter(pk__in=[m.pk for m in doomed]).exists()
    assert AuditEvent.objects.filter(action="membership_remove").count() == 2


def test_staff_cannot_change_a_role(client, campaign, make_member):
    client.force_login(make_member(campaign, Role.STAFF))
    membership = MembershipFactory(campaign=campaign, role=Role.VIEWER)

    response = client.post(
        reverse("admin:campaign_membership_change", args=[membership.pk]), {"role": "admin"}
    )

    assert response.status_code == 403
    assert Membership.objects.get(pk=membership.pk).role == Role.VIEWER
    assert AuditEvent.objects.count() == 0


def test_campaign_itself_is_not_changed_by_viewer(client, campaign, make_member):
    client.force_login(make_member(campaign, Role.VIEWER))

    response = client.post(
        reverse("admin:campaign_campaign_change", args=[campaign.pk]),
        {"name": "Renamed", "slug": "home", "state": "NC"},
    )

    assert response.status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).name == "Home campaign"
