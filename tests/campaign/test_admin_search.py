"""Admin search keeps names and phones out of URLs (DESIGN §5)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import VoterFactory

pytestmark = pytest.mark.django_db

VOTERS = reverse("admin:voters_voter_changelist")


def hrefs(response) -> list[str]:
    return re.findall(r'href="([^"]*)"', response.content.decode())


def test_search_form_posts_and_the_list_url_carries_only_a_token(staff_client, campaign):
    jones = VoterFactory(campaign=campaign, last_name="Jones", phone="+19195550123")
    VoterFactory(campaign=campaign, last_name="Smith")
    page = staff_client.get(VOTERS)
    assert 'id="changelist-search" method="post"' in page.content.decode()

    response = staff_client.post(VOTERS, {"q": "(919) 555-0123", "status__exact": "active"})

    assert response.status_code == 302
    location = response["Location"]
    assert re.fullmatch(r"/admin/voters/voter/\?qs=[\w-]+&status__exact=active", location) or (
        re.fullmatch(r"/admin/voters/voter/\?status__exact=active&qs=[\w-]+", location)
    )
    results = staff_client.get(location)
    assert [v.pk for v in results.context["cl"].result_list] == [jones.pk]
    body = results.content.decode()
    assert "555" not in "".join(hrefs(results))
    assert "q=" not in "".join(h for h in hrefs(results) if "qs=" not in h)
    assert 'value="(919) 555-0123"' in body  # the box still shows what was typed


def test_a_typed_query_string_search_is_moved_out_of_the_url(staff_client, campaign):
    VoterFactory(campaign=campaign, last_name="Jones")

    response = staff_client.get(VOTERS, {"q": "jones"})

    assert response.status_code == 302
    assert "jones" not in response["Location"].lower()
    assert "qs=" in response["Location"]


def test_another_sessions_token_finds_nothing_of_its_search(client, staff_user, campaign):
    VoterFactory(campaign=campaign, last_name="Jones")
    VoterFactory(campaign=campaign, last_name="Smith")
    client.force_login(staff_user)
    location = client.post(VOTERS, {"q": "jones"})["Location"]
    client.logout()
    client.force_login(staff_user)  # a new session

    response = client.get(location)

    assert response.status_code == 200
    assert response.context["cl"].query == ""
    assert len(response.context["cl"].result_list) == 2


def test_an_empty_search_clears_the_token(staff_client, campaign):
    response = staff_client.post(VOTERS, {"q": "  "})

    assert response.status_code == 302
    assert response["Location"] == VOTERS


def test_actions_still_post_to_the_list(staff_client, staff_user, campaign):
    voter = VoterFactory(campaign=campaign)

    response = staff_client.post(VOTERS, {"action": "export_csv", "_selected_action": [voter.pk]})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
