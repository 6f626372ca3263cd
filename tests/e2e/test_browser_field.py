"""The organizer's phone end to end in Chromium at phone size: sign in, open a turf, record results
at doors, lose the signal, record more, get it back, and find each result in the database once.

Screenshots of each step go to var/test/screenshots/field-*.png.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from messaging.models import FieldResult
from tests.e2e.browser import SCREENSHOTS
from tests.e2e.browser import browser as browser  # a fixture, used by name
from tests.messaging.field_setup import PASSWORD, field_program
from voters.models import ConsentEvent, ContactAttempt, SurveyResponse

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"field-{name}.png"))


def _door(page, stop: int):
    page.evaluate(f"location.hash = '#door-{stop}'")
    return page.locator(f"section.door[data-stop='{stop}']")


def _save(page, card, outcome: str, support: str | None = None) -> None:
    card.locator(f"button[data-outcome='{outcome}']").click()
    if support:
        card.locator(f"[data-question='support'] button[data-code='{support}']").click()
    card.locator("button[data-save]").click()


def test_results_recorded_online_and_offline_reach_the_database_once(
    browser, live_server, campaign
):
    field = field_program(campaign, located=24, max_doors=10)
    doors = [list(d) for d in _doors_by_stop(field)]
    ours = urlsplit(live_server.url).netloc
    refused: list[str] = []

    def only_ours(route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.route("**/*", only_ours)
    page = context.new_page()

    # Sign in as the organizer.
    page.goto(live_server.url + "/field/")
    page.fill("input[name=username]", "olive")
    page.fill("input[name=password]", PASSWORD)
    _shot(page, "1-sign-in")
    page.click("button.primary")
    page.wait_for_url(live_server.url + "/field/")
    _shot(page, "2-my-turfs")

    # Open the turf: its doors in walking order.
    page.click(f"text={field.turf.name}")
    page.wait_for_selector("ul.doors a")
    stops = page.locator("ul.doors a").evaluate_all("els => els.map(e => e.dataset.stop)")
    _shot(page, "3-turf")

    # Online: a conversation with support 2, a door nobody answered, a refusal.
    card = _door(page, 1).locator("article.voter").first
    card.locator("button[data-outcome='contacted']").click()
    card.locator("[data-question='support'] button[data-code='2']").click()
    _shot(page, "4-door-1-talked")
    card.locator("button[data-save]").click()
    _door(page, 2).locator("button.whole-door").click()
    _save(page, _door(page, 3).locator("article.voter").first, "refused")
    page.wait_for_selector("#queue-badge.sent")
    _shot(page, "5-online-sent")
    online_rows = FieldResult.objects.count()

    # Offline: a door nobody answered and a "do not contact".
    context.set_offline(True)
    _door(page, 4).locator("button.whole-door").click()
    _save(page, _door(page, 5).locator("article.voter").first, "do_not_contact")
    page.wait_for_function("!navigator.onLine")
    badge_offline = page.locator("#queue-badge").inner_text()
    _shot(page, "6-offline-queued")
    offline_rows = FieldResult.objects.count()

    # Back online: the queue is sent on its own.
    context.set_offline(False)
    page.wait_for_selector("#queue-badge.sent", timeout=15_000)
    after = _door(page, 5).locator("article.voter").first.locator(".recorded").inner_text()
    door_text = page.locator("#view").inner_text()
    _shot(page, "7-back-online")
    page.goto(live_server.url + f"/field/turfs/{field.turf.pk}/")
    page.wait_for_selector("ul.doors a")
    _shot(page, "8-turf-after")
    context.close()

    expected = 1 + len(doors[1]) + 1 + len(doors[3]) + 1
    waiting = len(doors[3]) + 1
    assert stops == [str(n) for n in range(1, field.turf.doors + 1)]
    assert online_rows == 1 + len(doors[1]) + 1
    assert offline_rows == online_rows
    assert badge_offline == f"{waiting} results waiting to send"
    assert after.startswith("✓ Do not contact at ")
    assert after.endswith("(America/New_York) · sent")
    assert "null" not in door_text
    assert FieldResult.objects.count() == expected
    assert ContactAttempt.objects.count() == expected
    assert FieldResult.objects.values("key").distinct().count() == expected
    recorded = sorted(ContactAttempt.objects.values_list("voter__voter_id", "result"))
    assert recorded == sorted(
        [(doors[0][0], "contacted"), (doors[2][0], "refused"), (doors[4][0], "opted_out")]
        + [(v, "not_home") for v in doors[1] + doors[3]]
    )
    assert list(SurveyResponse.objects.values_list("voter__voter_id", "option__code")) == [
        (doors[0][0], "2")
    ]
    assert ConsentEvent.objects.filter(voter__voter_id=doors[4][0]).count() == 5
    assert refused == []


def _doors_by_stop(field) -> list[list[str]]:
    """Each door's treated voters' ids in the order the page lists them (walk list order)."""
    from messaging.walklists import build_walk_list

    return [[v.voter_id for v in door.voters] for door in build_walk_list(field.turf).doors]
