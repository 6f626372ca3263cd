"""Pages checked in a real browser: the two-factor QR code scans, the API docs need no internet."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import zxingcpp
from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from tests.e2e.browser import SCREENSHOTS
from tests.e2e.browser import browser as browser  # a fixture, used by name
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_in_context(browser, live_server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return context


def test_the_enrolment_qr_code_scans_to_the_devices_otpauth_uri(browser, live_server, settings):
    settings.REQUIRE_2FA = True
    user = UserFactory(username="enrolling", is_staff=True)
    context = _signed_in_context(browser, live_server, user)
    page = context.new_page()

    page.goto(f"{live_server.url}/account/two-factor/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "two-factor-qr.png"
    page.screenshot(path=str(shot), full_page=True)
    box = page.locator("#content-main svg").bounding_box()
    context.close()

    device = TOTPDevice.objects.get(user=user, confirmed=False)
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]
    assert decoded == [device.config_url]  # what a phone's camera would read
    assert device.config_url.startswith("otpauth://totp/")
    assert box is not None
    assert min(box["width"], box["height"]) >= 200  # drawn, at a size a phone can scan


def test_the_api_docs_render_with_every_outside_request_refused(browser, live_server):
    ours = urlsplit(live_server.url).netloc
    refused: list[str] = []

    def only_ours(route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context = browser.new_context()
    context.route("**/*", only_ours)
    page = context.new_page()
    page.goto(f"{live_server.url}/api/docs/")
    title = page.locator(".swagger-ui .info .title")
    title.wait_for(timeout=20_000)
    text = title.inner_text()
    operations = page.locator(".opblock").count()
    context.close()

    assert text.startswith("Segment One API")
    assert operations >= 5  # the endpoints, drawn from /api/schema/
    assert refused == []
