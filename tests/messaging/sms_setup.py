"""SMS programs and outbox texts for the SMS tests (built through the services), and fixed
instants to set the clock to. 2026-12-07 is a Monday; the US is on standard time."""

from __future__ import annotations

import datetime as dt

from messaging.models import ProgramDesign, SmsMessage, SmsStatus
from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program
from messaging.sms import fill_outbox, release_due_messages
from tests.factories import MessageVariantFactory, VoterFactory

UTC = dt.UTC
# 10:00 in New York (ET), 05:00 in Honolulu: open in the East, closed in Hawaii.
MORNING_ET = dt.datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
# 08:00 in Honolulu: Hawaii's window opens.
HAWAII_OPENS = dt.datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
# 20:50 in New York: ten minutes of the window left.
LATE_ET = dt.datetime(2026, 12, 8, 1, 50, tzinfo=UTC)
# 07:55 in New York: five minutes before the window opens.
EARLY_ET = dt.datetime(2026, 12, 7, 12, 55, tzinfo=UTC)


def sms_program(
    campaign, voters, *, name: str = "Texts", control_share: float = 0.1, seed: int = 3
):
    """A committed single-variant SMS program over `voters` (by their voter ids)."""
    MessageVariantFactory(
        campaign=campaign,
        name=f"{name}-text",
        channel="sms",
        body="Hi {{ voter.first_name }}, it's {{ sender.name }}. Reply STOP to opt out.",
    )
    spec = parse_spec(
        {
            "name": name,
            "channel": "sms",
            "arms": [f"{name}-text"],
            "policy": "single",
            "control_share": control_share,
            "seed": seed,
            "universe": {"voter_ids": [v.voter_id for v in voters]},
        }
    )
    design = create_program(campaign=campaign, spec=spec)
    return commit_program(design=design)


def nc_voters(campaign, n: int, *, first: int = 0, **fields) -> list:
    """`n` voters in Durham, NC (ZIP 27701, area code 919: Eastern time, no state rule), with
    phones +1919555(3000 + first), +1919555(3001 + first)..."""
    return [
        VoterFactory(campaign=campaign, zip5="27701", state="NC",
                     phone=f"+1919555{3000 + first + i:04d}", **fields)
        for i in range(n)
    ]  # fmt: skip


def due_texts(
    campaign, n: int, *, at: dt.datetime = MORNING_ET, name: str = "Texts", first: int = 0
) -> tuple[ProgramDesign, list]:
    """A program `name` of `n` NC voters whose texts are all due at `at` (control share tiny)."""
    voters = nc_voters(campaign, n, first=first)
    design = sms_program(campaign, voters, name=name, control_share=0.001)
    fill_outbox(design=design)
    release_due_messages(now=at)
    texts = list(SmsMessage.objects.filter(design=design, status=SmsStatus.DUE).order_by("pk"))
    return design, texts


def sms_post(client, vendor_key, path: str, payload, *, key: str | None = "k-1", body=None):
    """A signed vendor POST of `payload` (or the raw `body`) with Idempotency-Key `key`."""
    import json

    from campaign.api.authentication import signed_headers

    _, full_key, secret = vendor_key
    raw = body if body is not None else json.dumps(payload).encode()
    headers = signed_headers(full_key, secret, method="POST", path=path, body=raw)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.generic("POST", path, raw, content_type="application/json", headers=headers)
