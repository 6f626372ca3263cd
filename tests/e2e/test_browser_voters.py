"""The voter list and the model page in a real browser: at a laptop's size (1366 x 900) the list's
score columns are on screen, not behind a horizontal scroll; on a phone (390 x 844) the
reliability chart is scaled to the column, not cropped. Screenshots are saved under
var/test/screenshots/ (SEGMENT_ONE_VAR_DIR): voter-list.png and model-reliability-phone.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.e2e.browser import SCREENSHOTS
from tests.e2e.browser import browser as browser  # a fixture, used by name
from tests.factories import ModelVersionFactory, ScoringRunFactory, VoterFactory, VoterScoreFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _page(browser, live_server, user, width: int, height: int):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME,
          "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}]
    )  # fmt: skip
    return context.new_page()


def test_the_voter_lists_score_columns_fit_a_laptop_screen(
    browser, live_server, campaign, staff_user
):
    run = ScoringRunFactory(campaign=campaign, finished_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    for n in range(5):
        voter = VoterFactory(
            campaign=campaign, first_name="Christina", middle_name="Ashley", last_name=f"Bai{n}",
            party="una", precinct=f"P0{n}",
        )  # fmt: skip
        VoterScoreFactory(run=run, voter=voter, turnout=0.2 * n, best_arm="social_pressure")
    page = _page(browser, live_server, staff_user, 1366, 900)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(live_server.url + reverse("admin:voters_voter_changelist"))
    page.screenshot(path=str(SCREENSHOTS / "voter-list.png"))
    table = page.locator("#result_list").bounding_box()
    column = page.locator(".results").bounding_box()
    message = page.locator("td.field-latest_best_message").first.bounding_box()
    headers = page.locator("#result_list thead th").all_inner_texts()

    assert [h.strip().lower() for h in headers[-3:]] == ["turnout", "support", "best message"]
    # The whole table inside its column: the last cell ends where the column does, or before.
    assert table["x"] + table["width"] <= column["x"] + column["width"] + 1
    assert message["x"] + message["width"] <= 1366
    assert page.locator("td.field-latest_best_message").first.inner_text() == "Social pressure"


def test_the_reliability_chart_is_scaled_not_cropped_on_a_phone(
    browser, live_server, campaign, staff_user
):
    version = ModelVersionFactory(campaign=campaign)
    page = _page(browser, live_server, staff_user, 390, 844)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(live_server.url + reverse("admin:scoring_modelversion_change", args=[version.pk]))
    chart = page.locator("img[src$='reliability.png']")
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "model-reliability-phone.png"))
    box = chart.bounding_box()

    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    assert box["height"] == pytest.approx(box["width"] * 400 / 500, abs=1)  # scaled, not squashed
