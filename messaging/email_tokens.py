"""Signed unsubscribe tokens (issue 15 §2): what a List-Unsubscribe URL and mailto carry.

A token names the campaign and the email it came in, and through the email its address: the
address itself is never in the token, since a token travels in URLs and URLs end up in logs
(DESIGN §5). Signed with django.core.signing under its own salt; its issue time is inside the
signed payload and checked against a `now` the caller passes, so tests set the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core import signing

SALT = "segment-one.email.unsubscribe"
# Long past the 60 days an old email must still work; after this an unsubscribe link is dead
# (the confirmation page says so) and the person can still write to us.
MAX_AGE = dt.timedelta(days=365)


@dataclass(frozen=True)
class UnsubscribeToken:
    campaign_id: int
    message_id: int
    issued_at: dt.datetime


class BadToken(ValueError):
    """Not one of ours, tampered with, or expired."""


def make_token(*, campaign_id: int, message_id: int, now: dt.datetime) -> str:
    payload = {"c": campaign_id, "m": message_id, "t": int(now.timestamp())}
    return signing.dumps(payload, salt=SALT)


def read_token(token: str, *, now: dt.datetime) -> UnsubscribeToken:
    try:
        payload = signing.loads(token, salt=SALT)
        found = UnsubscribeToken(
            campaign_id=int(payload["c"]),
            message_id=int(payload["m"]),
            issued_at=dt.datetime.fromtimestamp(int(payload["t"]), tz=dt.UTC),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadToken("not a valid unsubscribe token") from exc
    if now - found.issued_at > MAX_AGE:
        raise BadToken("the unsubscribe token has expired")
    return found
