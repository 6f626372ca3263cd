"""A turf's walk list page in a real browser: it draws its map and asks nothing of the internet."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from messaging.canvassing import cut_program_turfs
from tests.e2e.browser import SCREENSHOTS
from tests.e2e.browser import browser as browser  # a fixture, used by name
from tests.messaging.canvass_setup import door_program, make_county

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_walk_list_page_draws_every_door_with_outside_requests_refused(
    browser, live_server, campaign, staff_user
):
    make_county(campaign, located=30, street=0, scored=False)
    (turf,) = cut_program_turfs(design=door_program(campaign), min_doors=1, max_doors=40)
    client = Client()
    client.force_login(staff_user)
    ours = urlsplit(live_server.url).netloc
    refused: list[str] = []

    def only_ours(route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME,
          "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}]
    )  # fmt: skip
    context.route("**/*", only_ours)
    page = context.new_page()
    page.goto(live_server.url + reverse("admin:messaging_turf_walk_list", args=[turf.pk]))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "walk-list.png"), full_page=False)
    dots = page.locator("svg circle").count()
    labels = page.locator("svg text").all_text_contents()
    sections = page.locator("section.door").count()
    box = page.locator("svg").bounding_box()
    context.close()

    assert dots == sections == turf.doors
    assert [str(n) for n in range(1, turf.doors + 1)] == labels[: turf.doors]
    assert box is not None
    assert min(box["width"], box["height"]) >= 300
    assert refused == []
