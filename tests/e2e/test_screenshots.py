"""The screenshot script fails loudly: a page answering an error status fails, not a picture."""

from __future__ import annotations

import pytest

from tests.e2e.browser import browser as browser  # a fixture, used by name
from tests.e2e.screenshots import Run, shoot

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_page_answering_an_error_status_fails_the_run(browser, live_server, tmp_path):
    run = Run(base_url=live_server.url + "/", out=tmp_path)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()

    shoot(run, page, "sign-in-390", "/admin/login/")
    shoot(run, page, "missing-390", "/no-such-page/")
    context.close()

    assert run.failures == ["missing-390: /no-such-page/ answered 404"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["missing-390.png", "sign-in-390.png"]
