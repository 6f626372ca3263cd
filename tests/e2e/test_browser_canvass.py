"""The staff side of the canvass in a real browser at a laptop's size (1366 x 900): the program
page's turf section and a turf's map, with every request off this server refused. Screenshots are
saved under var/test/screenshots/ (SEGMENT_ONE_VAR_DIR): canvass-program.png (the section),
canvass-program-page.png (the whole page), canvass-turf-map.png and canvass-turf-page.png."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.e2e.browser import SCREENSHOTS
from tests.e2e.browser import browser as browser  # a fixture, used by name
from tests.messaging.field_setup import field_program, record_canvass

pytestmark = pytest.mark.django_db(transaction=True)
WIDTH, HEIGHT = 1366, 900


def _context(browser, live_server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME,
          "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}]
    )  # fmt: skip
    return context


def _only_ours(context, live_server) -> list[str]:
    ours = urlsplit(live_server.url).netloc
    refused: list[str] = []

    def route(request_route) -> None:
        if urlsplit(request_route.request.url).netloc == ours:
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    return refused


def test_the_program_page_shows_turf_progress_and_the_turf_page_its_map(
    browser, live_server, campaign, staff_user
):
    field = record_canvass(field_program(campaign))
    context = _context(browser, live_server, staff_user)
    refused = _only_ours(context, live_server)
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(
        live_server.url + reverse("admin:messaging_programdesign_change", args=[field.design.pk])
    )
    section = page.locator("#program-canvass")
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(SCREENSHOTS / "canvass-program.png"))
    page.screenshot(path=str(SCREENSHOTS / "canvass-program-page.png"), full_page=True)
    turf_rows = page.locator("#turf-progress tbody tr").count()
    first_row = page.locator("#turf-progress tbody tr").first.locator("td").all_inner_texts()
    bar = page.locator("#turf-progress tbody tr").first.locator(".bar span").bounding_box()
    widest = page.evaluate("() => document.documentElement.scrollWidth")
    buttons = page.locator("#flagged-results button").all_inner_texts()

    page.goto(live_server.url + reverse("admin:messaging_turf_change", args=[field.turf.pk]))
    figure = page.locator("#turf-map")
    figure.scroll_into_view_if_needed()
    figure.screenshot(path=str(SCREENSHOTS / "canvass-turf-map.png"))
    page.screenshot(path=str(SCREENSHOTS / "canvass-turf-page.png"), full_page=True)
    markers = page.locator("#turf-map svg[role=img] g.door").count()
    contacted = page.locator("#turf-map svg[role=img] g.door.contacted").count()
    box = page.locator("#turf-map svg[role=img]").bounding_box()
    legend = page.locator(".map-legend li").all_inner_texts()
    turf_widest = page.evaluate("() => document.documentElement.scrollWidth")
    context.close()

    assert turf_rows == 3
    assert first_row[1] == field.turf.name
    assert first_row[5:8] == ["4", "1", "1"]  # knocked, contacts, support IDs
    assert bar is not None
    assert bar["width"] == pytest.approx(80 * 4 / field.turf.doors, abs=1.5)
    assert buttons == ["Accept", "Dismiss"]
    assert widest <= WIDTH
    assert markers == field.turf.doors
    assert contacted == 1
    assert box is not None
    assert min(box["width"], box["height"]) >= 400
    assert legend[0].strip().startswith("not knocked: ")
    assert turf_widest <= WIDTH
    assert refused == []
    shots = ("canvass-program.png", "canvass-program-page.png", "canvass-turf-map.png",
             "canvass-turf-page.png")  # fmt: skip
    for name in shots:
        assert (SCREENSHOTS / name).stat().st_size > 5_000
