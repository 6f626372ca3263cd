"""Sections later apps add to the voter page (`voters.admin_panels`): scoring's scores and
messaging's texts, so the voters app never imports either."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import format_html

from tests.factories import VoterFactory
from voters.admin_panels import (
    register_voter_panel,
    unregister_voter_panel,
    voter_panels,
    with_panels,
)

pytestmark = pytest.mark.django_db

PAGE_SECTIONS = [("Consent", {}), ("Timeline", {}), ("Programs", {})]


@pytest.fixture
def extra_panels():
    """Registers test panels by name; unregisters them afterwards."""
    names: list[str] = []

    def register(name: str, title: str, after: str, render=None):
        names.append(name)
        return register_voter_panel(
            name=name,
            title=title,
            label=f"{title} label",
            after=after,
            render=render or (lambda voter: format_html("<p>{}</p>", title)),
        )

    yield register
    for name in names:
        unregister_voter_panel(name)


def section_titles(fieldsets) -> list[str]:
    return [title for title, _ in fieldsets]


def test_scoring_and_messaging_register_their_panels():
    scores, texts = voter_panels()

    assert (scores.name, scores.title, scores.after) == ("latest_scores", "Scores", "Consent")
    assert scores.field.short_description == "latest scores and their reasons"
    assert (texts.name, texts.title, texts.after) == (
        "sms_conversation", "Text messages", "Timeline",
    )  # fmt: skip
    assert section_titles(with_panels(PAGE_SECTIONS)) == [
        "Consent", "Scores", "Timeline", "Text messages", "Programs",
    ]  # fmt: skip


def test_voter_page_shows_a_registered_panel_after_the_section_it_names(
    staff_client, campaign, extra_panels
):
    voter = VoterFactory(campaign=campaign, voter_id="NC123")
    extra_panels(
        "door_notes",
        "Door notes",
        after="Programs",
        render=lambda v: format_html("<p>notes of {}</p>", v.voter_id),
    )

    html = staff_client.get(reverse("admin:voters_voter_change", args=[voter.pk])).text

    assert '<div class="form-row field-door_notes">' in html
    assert "<p>notes of NC123</p>" in html
    assert "Door notes label" in html
    programs, notes = html.index(">Programs</h2>"), html.index(">Door notes</h2>")
    assert programs < notes < html.index(">Household members</h2>")
    assert html.index(">Consent</h2>") < html.index(">Scores</h2>") < html.index(">Timeline</h2>")


def test_panels_after_one_section_keep_the_order_they_were_registered_in(extra_panels):
    extra_panels("walk_lists", "Walk lists", after="Consent")
    extra_panels("messages", "Messages", after="Consent")
    extra_panels("last", "Last", after="No such section")

    assert section_titles(with_panels(PAGE_SECTIONS)) == [
        "Consent", "Scores", "Walk lists", "Messages", "Timeline", "Text messages", "Programs",
        "Last",
    ]  # fmt: skip


def test_registering_a_panel_again_replaces_it(extra_panels):
    extra_panels("messages", "Messages", after="Consent")
    extra_panels("messages", "Messages sent", after="Timeline")

    assert [p.name for p in voter_panels()] == ["latest_scores", "sms_conversation", "messages"]
    assert section_titles(with_panels(PAGE_SECTIONS)) == [
        "Consent", "Scores", "Timeline", "Text messages", "Messages sent", "Programs",
    ]  # fmt: skip
