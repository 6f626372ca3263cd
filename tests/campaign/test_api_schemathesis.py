"""schemathesis over the whole /api/v1/ schema (issue 14 §6), in-process against the WSGI app:
every operation is called with generated requests, signed as a vendor would (SMS paths) or with
a staff token (the rest), and every answer must be no 5xx and match the schema (status code,
content type, body). Bounded by MAX_EXAMPLES per operation so it stays well under two minutes."""

from __future__ import annotations

import io

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from campaign.api.authentication import signed_headers
from messaging.api import sms_views
from tests.messaging.sms_setup import MORNING_ET, due_texts

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class Credentials:
    """WSGI middleware standing for the callers' HTTP clients: it signs SMS vendor requests over
    the exact bytes sent (as a vendor's client does) and gives the rest a staff token. The
    credentials are the running test's (set by the `callers` fixture)."""

    full_key = secret = token = ""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        path = environ["PATH_INFO"]
        if path.startswith("/api/v1/sms/"):
            signed = signed_headers(
                self.full_key, self.secret, method=environ["REQUEST_METHOD"], path=path,
                query=environ.get("QUERY_STRING", ""), body=body,
            )  # fmt: skip
            for name, value in signed.items():
                environ[f"HTTP_{name.upper().replace('-', '_')}"] = value
        elif path.startswith("/api/v1/"):
            environ["HTTP_AUTHORIZATION"] = f"Token {self.token}"
        return self.app(environ, start_response)


app = Credentials(get_wsgi_application())
# The schema as the API serves it (AllowAny, no database): read once, when the tests are collected.
schema = schemathesis.openapi.from_wsgi("/api/schema/", app)


@pytest.fixture
def callers(db, campaign, staff_user, vendor_key, monkeypatch):
    """Texts due to lease, the vendor key and a staff token; requests keep the test's
    transaction open, as Django's test client does."""
    monkeypatch.setattr(sms_views, "clock", lambda: MORNING_ET)
    due_texts(campaign, 5)
    _, full_key, secret = vendor_key
    token = Token.objects.create(user=staff_user).key
    monkeypatch.setattr(Credentials, "full_key", full_key)
    monkeypatch.setattr(Credentials, "secret", secret)
    monkeypatch.setattr(Credentials, "token", token)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_within_its_schema(case, callers):
    case.call_and_validate(checks=CHECKS)


def test_the_fuzzer_sees_every_operation_of_the_api():
    operations = [op.ok() for op in schema.get_all_operations()]
    paths = sorted({f"{op.method.upper()} {op.path}" for op in operations})
    assert "POST /api/v1/sms/lease" in paths
