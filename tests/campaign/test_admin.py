"""The campaign admin pages and the tenancy rules of `CampaignScopedAdmin`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from campaign.models import Campaign, Election, Membership, Role
from tests.factories import (
    ElectionFactory,
    MembershipFactory,
    UserFactory,
    VoteRecordFactory,
    VoterFactory,
)

pytestmark = pytest.mark.django_db


def shown(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def member_client(client, campaign, role: str, username: str = "member"):
    user = UserFactory(username=username, is_staff=True)
    MembershipFactory(user=user, campaign=campaign, role=role)
    client.force_login(user)
    return client


# -- campaigns -------------------------------------------------------------------------------


def test_campaign_changelist_lists_only_member_campaigns_with_voter_counts(
    staff_client, campaign, other_campaign
):
    VoterFactory.create_batch(3, campaign=campaign)
    VoterFactory.create_batch(2, campaign=other_campaign)

    response = staff_client.get(reverse("admin:campaign_campaign_changelist"))

    assert response.status_code == 200
    assert shown(response) == {campaign.pk}
    assert [c.voter_total for c in response.context["cl"].result_list] == [3]
    assert "Rival campaign" not in response.content.decode()


def test_superuser_sees_both_campaigns(client, campaign, other_campaign):
    VoterFactory.create_batch(2, campaign=campaign)
    VoterFactory(campaign=other_campaign)
    client.force_login(UserFactory(username="root", is_superuser=True))

    response = client.get(reverse("admin:campaign_campaign_changelist"))

    assert response.status_code == 200
    assert shown(response) == {campaign.pk, other_campaign.pk}
    counts = {c.pk: c.voter_total for c in response.context["cl"].result_list}
    assert counts == {campaign.pk: 2, other_campaign.pk: 1}


def test_campaign_changelist_query_count_does_not_grow_with_campaigns(
    client, campaign, other_campaign, django_assert_num_queries
):
    client.force_login(UserFactory(username="root", is_superuser=True))
    url = reverse("admin:campaign_campaign_changelist")
    client.get(url)  # warm the session

    with django_assert_num_queries(4):  # session, user, count, rows with their counts
        client.get(url)
    Campaign.objects.create(name="Third", slug="third", state="NC")
    with django_assert_num_queries(4):
        client.get(url)


def test_foreign_campaign_change_page_is_404(staff_client, other_campaign):
    url = reverse("admin:campaign_campaign_change", args=[other_campaign.pk])

    assert staff_client.get(url).status_code == 404


def test_staff_member_sees_own_campaign_read_only(staff_client, campaign):
    url = reverse("admin:campaign_campaign_change", args=[campaign.pk])

    response = staff_client.get(url)
    post = staff_client.post(url, {"name": "Renamed", "slug": "home", "state": "NC"})

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert post.status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).name == "Home campaign"


def test_staff_without_membership_sees_no_campaign_pages(client, campaign):
    client.force_login(UserFactory(username="drifter", is_staff=True))

    index = client.get(reverse("admin:index"))
    voters = client.get(reverse("admin:voters_voter_changelist"))

    assert index.status_code == 200
    assert index.context["app_list"] == []
    assert voters.status_code == 403


def test_member_without_is_staff_cannot_enter_the_admin(client, campaign):
    user = UserFactory(username="organizer", is_staff=False)
    MembershipFactory(user=user, campaign=campaign, role=Role.ORGANIZER)
    client.force_login(user)

    response = client.get(reverse("admin:voters_voter_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# -- elections -------------------------------------------------------------------------------


def test_election_changelist_shows_own_elections_with_votes_cast(
    staff_client, campaign, other_campaign
):
    election = ElectionFactory(campaign=campaign, label="General 2024")
    for _ in range(2):
        VoteRecordFactory(voter=VoterFactory(campaign=campaign), election=election, voted=True)
    VoteRecordFactory(voter=VoterFactory(campaign=campaign), election=election, voted=False)
    ElectionFactory(campaign=other_campaign, label="Rival general")

    response = staff_client.get(reverse("admin:campaign_election_changelist"))

    assert response.status_code == 200
    assert shown(response) == {election.pk}
    assert [e.votes for e in response.context["cl"].result_list] == [2]
    assert "Rival general" not in response.content.decode()


def test_foreign_election_change_page_is_404(staff_client, other_campaign):
    election = ElectionFactory(campaign=other_campaign, label="Theirs")
    url = reverse("admin:campaign_election_change", args=[election.pk])

    get = staff_client.get(url)
    post = staff_client.post(url, {"label": "Ours now"})

    assert get.status_code == 404
    assert post.status_code == 404
    assert Election.objects.get(pk=election.pk).label == "Theirs"


def test_staff_member_edits_own_election(staff_client, campaign):
    election = ElectionFactory(campaign=campaign, election_on=dt.date(2024, 11, 5))
    url = reverse("admin:campaign_election_change", args=[election.pk])

    response = staff_client.post(
        url,
        {
            "campaign": campaign.pk,
            "election_on": "2024-11-05",
            "election_type": "general",
            "label": "General 2024",
            "state": "NC",
        },
    )

    assert response.status_code == 302
    assert Election.objects.get(pk=election.pk).label == "General 2024"


def test_viewer_cannot_edit_elections(client, campaign):
    member_client(client, campaign, Role.VIEWER)
    election = ElectionFactory(campaign=campaign, label="Before")
    url = reverse("admin:campaign_election_change", args=[election.pk])

    get = client.get(url)
    post = client.post(url, {"campaign": campaign.pk, "label": "After"})

    assert get.status_code == 200
    assert get.context["has_change_permission"] is False
    assert post.status_code == 403
    assert client.get(reverse("admin:campaign_election_add")).status_code == 403
    assert Election.objects.get(pk=election.pk).label == "Before"


def test_election_add_form_offers_only_own_campaigns(staff_client, campaign, other_campaign):
    response = staff_client.get(reverse("admin:campaign_election_add"))

    choices = response.context["adminform"].form.fields["campaign"].queryset
    assert response.status_code == 200
    assert list(choices) == [campaign]


def test_election_add_refuses_a_foreign_campaign(staff_client, campaign, other_campaign):
    response = staff_client.post(
        reverse("admin:campaign_election_add"),
        {"campaign": other_campaign.pk, "election_on": "2024-11-05", "election_type": "general"},
    )

    assert response.status_code == 200  # the form again, with an error
    assert "campaign" in response.context["adminform"].form.errors
    assert Election.objects.count() == 0


def test_election_autocomplete_excludes_foreign_campaigns(staff_client, campaign, other_campaign):
    own = ElectionFactory(campaign=campaign, label="Home general")
    ElectionFactory(campaign=other_campaign, label="Home general (rival)")

    response = staff_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "voters", "model_name": "voterecord", "field_name": "election", "term": ""},
    )

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(own.pk)]


def test_campaign_autocomplete_excludes_foreign_campaigns(staff_client, campaign, other_campaign):
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "campaign", "model_name": "election", "field_name": "campaign", "term": ""},
    )

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(campaign.pk)]


# -- memberships -----------------------------------------------------------------------------


def test_staff_member_sees_memberships_but_cannot_manage_them(
    staff_client, staff_user, campaign, other_campaign
):
    MembershipFactory(campaign=other_campaign, user=UserFactory(username="rival-staff"))
    own = Membership.objects.get(user=staff_user)

    changelist = staff_client.get(reverse("admin:campaign_membership_changelist"))
    add = staff_client.get(reverse("admin:campaign_membership_add"))
    delete = staff_client.post(
        reverse("admin:campaign_membership_delete", args=[own.pk]), {"post": "yes"}
    )

    assert shown(changelist) == {own.pk}
    assert add.status_code == 403
    assert delete.status_code == 403
    assert Membership.objects.count() == 2


def test_campaign_admin_adds_a_member_to_own_campaign_only(client, campaign, other_campaign):
    member_client(client, campaign, Role.ADMIN, username="boss")
    rival = UserFactory(username="rival-staff")
    MembershipFactory(campaign=other_campaign, user=rival)
    newcomer = UserFactory(username="newcomer")
    url = reverse("admin:campaign_membership_add")

    form = client.get(url).context["adminform"].form
    refused = client.post(
        url, {"user": newcomer.pk, "campaign": other_campaign.pk, "role": "staff"}
    )
    added = client.post(url, {"user": newcomer.pk, "campaign": campaign.pk, "role": "staff"})

    assert list(form.fields["campaign"].queryset) == [campaign]
    assert rival not in form.fields["user"].queryset
    assert newcomer in form.fields["user"].queryset
    assert "campaign" in refused.context["adminform"].form.errors
    assert added.status_code == 302
    assert list(Membership.objects.filter(user=newcomer).values_list("campaign_id", "role")) == [
        (campaign.pk, "staff")
    ]
