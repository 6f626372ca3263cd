"""Leases never hand a text out of its recipient's window (issue 14 §6): every 15-minute instant
over the 48 hours around each of 2026's DST switches, recipients in every US zone, an unknown one
and a conflicting one; each lease checked against messaging.quiet_hours on the voter's own ZIP,
phone and state (not the profile the outbox stored), both ways: nothing out of window is leased,
and everything in window is."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaign.services import create_vendor_key
from messaging import quiet_hours
from messaging.models import SmsMessage, SmsStatus
from messaging.sms import fill_outbox, lease_messages
from tests.factories import VoterFactory
from tests.messaging.sms_setup import sms_program

pytestmark = pytest.mark.django_db

LEASE_SECONDS = 900
RECIPIENTS = {
    "eastern": ("27701", "+19195550301", "NC"),
    "central": ("60601", "+13125550302", "IL"),
    "mountain": ("80202", "+13035550303", "CO"),
    "arizona": ("85004", "+16025550304", "AZ"),
    "pacific": ("94103", "+14155550305", "CA"),
    "alaska": ("99501", "+19075550306", "AK"),
    "hawaii": ("96813", "+18085550307", "HI"),
    "florida": ("33101", "+13055550308", "FL"),  # a state rule: 20:00
    "unknown": (None, "+18005550309", None),  # toll-free, no address: legal everywhere only
    "conflicting": ("27701", "+18085550310", "NC"),  # lives in ET, Hawaiian number: both
}
# Saturday 00:00 UTC to Monday 00:00 UTC: DST starts on Sunday 8 March, ends on Sunday 1 November.
SWEEPS = (dt.datetime(2026, 3, 7, tzinfo=dt.UTC), dt.datetime(2026, 10, 31, tzinfo=dt.UTC))


def instants():
    for start in SWEEPS:
        for step in range(48 * 4):
            yield start + dt.timedelta(minutes=15 * step)


def test_no_lease_hands_out_a_text_outside_its_window(campaign):
    voters = {
        name: VoterFactory(campaign=campaign, zip5=zip5, phone=phone, state=state)
        for name, (zip5, phone, state) in RECIPIENTS.items()
    }
    design = sms_program(campaign, list(voters.values()), control_share=0.001, seed=5)
    fill_outbox(design=design)
    SmsMessage.objects.filter(design=design).update(status=SmsStatus.DUE)
    texts = dict(SmsMessage.objects.filter(design=design).values_list("phone", "pk"))
    by_text = {
        texts[v.phone]: (name, quiet_hours.Recipient(v.zip5, v.phone, v.state))
        for name, v in voters.items()
    }
    key = create_vendor_key(campaign=campaign, name="Sweep", user=None)[0]
    out_of_window, missed = [], []
    leased_ever: set[str] = set()

    for at in instants():
        lease = lease_messages(key=key, limit=100, now=at, lease_seconds=LEASE_SECONDS)
        leased = {m.pk for m in lease.messages}
        allowed = {
            pk
            for pk, (_, recipient) in by_text.items()
            if quiet_hours.open_for(at, recipient, LEASE_SECONDS)
        }
        out_of_window += [(at, by_text[pk][0]) for pk in leased - allowed]
        missed += [(at, by_text[pk][0]) for pk in allowed - leased]
        leased_ever |= {by_text[pk][0] for pk in leased}
        SmsMessage.objects.filter(pk__in=leased).update(
            status=SmsStatus.DUE, lease_id=None, lease_expires_at=None, leased_by=None
        )

    assert out_of_window == []
    assert missed == []
    # Not vacuous: every recipient with a weekend window was handed texts. The unknown one has
    # none (some states allow no texts on Saturday or Sunday, and any of them might apply).
    assert leased_ever == set(RECIPIENTS) - {"unknown"}


@pytest.mark.parametrize(
    ("name", "local_open", "local_close"),
    [("eastern", "08:00", "21:00"), ("florida", "08:00", "20:00"), ("hawaii", "08:00", "21:00")],
)
def test_the_first_and_last_lease_of_a_monday_follow_the_local_clock(campaign, name, local_open,
                                                                     local_close):  # fmt: skip
    zip5, phone, state = RECIPIENTS[name]
    voter = VoterFactory(campaign=campaign, zip5=zip5, phone=phone, state=state)
    design = sms_program(campaign, [voter], control_share=0.001)
    fill_outbox(design=design)
    SmsMessage.objects.filter(design=design).update(status=SmsStatus.DUE)
    key = create_vendor_key(campaign=campaign, name="Edges", user=None)[0]
    zone = quiet_hours.zip_zone(zip5)[0]
    day = dt.date(2026, 3, 9)  # the Monday after DST began

    def local(hhmm: str) -> dt.datetime:
        hour, minute = map(int, hhmm.split(":"))
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(zone))

    def leases(at: dt.datetime, seconds: int) -> int:
        count = len(lease_messages(key=key, limit=1, now=at, lease_seconds=seconds).messages)
        SmsMessage.objects.filter(design=design).update(status=SmsStatus.DUE, lease_id=None)
        return count

    opens, closes = local(local_open), local(local_close)
    assert leases(opens - dt.timedelta(seconds=1), 60) == 0
    assert leases(opens, 60) == 1
    assert leases(closes - dt.timedelta(seconds=60), 60) == 1
    assert leases(closes - dt.timedelta(seconds=60), 61) == 0
    assert leases(closes, 60) == 0
