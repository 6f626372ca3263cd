"""/api/docs/ loads Swagger UI from our own static files: it works with no internet."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_every_script_and_style_from_our_static_files(client):
    response = client.get("/api/docs/")

    html = response.content.decode()
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert response.status_code == 200
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no CDN, no other host
    assert len(assets) == 4  # favicon, stylesheet, bundle, preset
    for url in assets:
        assert url.startswith(settings.STATIC_URL), url
        assert finders.find(url.removeprefix(settings.STATIC_URL)) is not None, url
