"""`Idempotency-Key` on vendors' POSTs, with Stripe's semantics.

- The first request with a key runs; its answer (status and exact bytes) is stored in the same
  transaction as its work, so either both are written or neither is.
- The same key again with the same request (method, path, body): the stored answer, byte for
  byte, and the work is not done again.
- The same key with another request: 422, nothing done.
- The same key while the first is still running: 409, nothing done (the client retries later
  and gets the stored answer). On PostgreSQL a transaction-level advisory lock on (vendor key,
  idempotency key) decides who runs; the loser does not wait for it.
- A request that fails (a 4xx raised, a 500) stores nothing, so it may be retried with its key.
Keys are kept a day (campaign.tasks prunes them), as Stripe keeps them 24 hours.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable

from django.db import connection, transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from campaign.api.access import vendor_key
from campaign.models import IdempotentResponse

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT = dt.timedelta(hours=24)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    location=OpenApiParameter.HEADER,
    required=True,
    description="1-255 printable ASCII characters, unique per operation. A retry with the same "
    "key and body gets the first answer byte for byte (header Idempotent-Replayed: true); the "
    "same key with another body is a 422; while the first is still running, a 409.",
)
IN_PROGRESS = "a request with this Idempotency-Key is still being processed; retry shortly"
MISMATCH = "this Idempotency-Key was used with a different request"


def idempotent(request: Request, run: Callable[[], Response]) -> HttpResponse | Response:
    """The answer to `request`, running `run()` at most once per vendor key and Idempotency-Key."""
    owner = vendor_key(request)
    key = _key_of(request)
    digest = _digest(request)
    with transaction.atomic():
        if not _claim(owner.pk, key):
            return Response({"detail": IN_PROGRESS}, status=409)
        stored = IdempotentResponse.objects.filter(vendor_key=owner, key=key).first()
        if stored is not None:
            if stored.request_digest != digest:
                return Response({"detail": MISMATCH}, status=422)
            replay = _json(bytes(stored.body), stored.status_code)
            replay[REPLAYED_HEADER] = "true"
            return replay
        response = run()
        body = JSONRenderer().render(response.data)
        IdempotentResponse.objects.create(
            vendor_key=owner,
            key=key,
            request_digest=digest,
            status_code=response.status_code,
            body=body,
        )
    return _json(body, response.status_code)


def prune_idempotent_responses(*, now: dt.datetime) -> int:
    deleted, _ = IdempotentResponse.objects.filter(created_at__lt=now - KEPT).delete()
    return deleted


def _key_of(request: Request) -> str:
    key = request.headers.get(HEADER, "").strip()
    if not _KEY.match(key):
        raise ValidationError(
            {HEADER: "required on every POST: 1-255 printable ASCII characters, no spaces"}
        )
    return key


def _digest(request: Request) -> str:
    raw = request._request
    parts = (raw.method.encode(), raw.get_full_path().encode(), raw.body)
    return hashlib.sha256(b"\n".join(parts)).hexdigest()


def _claim(owner_pk: int, key: str) -> bool:
    """Whether this transaction may work on (owner, key): False while another one does."""
    if connection.vendor != "postgresql":
        return True  # SQLite runs one writer at a time anyway
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [owner_pk % 2**31, key]
        )
        return bool(cursor.fetchone()[0])


def _json(body: bytes, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="application/json")
