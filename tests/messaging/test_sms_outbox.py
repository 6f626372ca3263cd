"""The SMS outbox (messaging.sms): filled from a committed program, released by quiet hours,
leased with SKIP LOCKED, capped, acknowledged, expired, and never moved back from a final state."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from campaign.services import create_vendor_key
from messaging.models import SmsKind, SmsMessage, SmsSettings, SmsStatus
from messaging.programs import cancel_program, pause_program
from messaging.sms import (
    AckResult,
    ack_message,
    ack_messages,
    expire_leases,
    fill_outbox,
    lease_messages,
    move_status,
    release_due_messages,
)
from tests.factories import CampaignFactory, ConsentEventFactory, VoterFactory
from tests.messaging.sms_setup import (
    EARLY_ET,
    HAWAII_OPENS,
    LATE_ET,
    MORNING_ET,
    due_texts,
    nc_voters,
    sms_program,
)
from voters.models import Assignment

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(campaign):
    return create_vendor_key(campaign=campaign, name="Acme SMS", user=None)[0]


def statuses(design) -> dict[str, int]:
    rows = SmsMessage.objects.filter(design=design).values_list("status", flat=True)
    counts: dict[str, int] = {}
    for status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts


# -- filling ---------------------------------------------------------------------------------


def test_a_committed_program_queues_one_text_per_treated_phone_and_none_for_control(campaign):
    voters = nc_voters(campaign, 10)
    sharing = [
        VoterFactory(campaign=campaign, first_name=name, zip5="27701", phone="+19195550001")
        for name in ("ANN", "Bob")
    ]
    design = sms_program(campaign, [*voters, *sharing], control_share=0.3)
    units = Assignment.objects.filter(program_id=design.program_id)
    treated = set(units.filter(arm__is_control=False).values_list("unit", flat=True))
    control = set(units.filter(arm__is_control=True).values_list("unit", flat=True))

    queued = fill_outbox(design=design)

    texts = SmsMessage.objects.filter(design=design)
    assert control  # the draw put some phones in control...
    assert queued == len(treated) == texts.count() == 11 - len(control)
    assert set(texts.values_list("phone", flat=True)) == treated  # ...and they get nothing
    assert set(texts.values_list("status", "kind", "encoding", "segments")) == {
        ("queued", "program", "GSM-7", 1)
    }
    if "+19195550001" in treated:  # the shared phone: one text, for its first voter
        shared = texts.get(phone="+19195550001")
        assert shared.voter_id == sharing[0].pk
        assert shared.body == "Hi Ann, it's Home campaign. Reply STOP to opt out."


def test_filling_again_adds_nothing(campaign):
    design = sms_program(campaign, nc_voters(campaign, 5))
    first = fill_outbox(design=design)

    again = fill_outbox(design=design)

    assert (first, again) == (SmsMessage.objects.filter(design=design).count(), 0)


def test_a_door_program_queues_no_texts(campaign):
    from tests.factories import ProgramDesignFactory

    design = ProgramDesignFactory(campaign=campaign, status="committed")

    assert fill_outbox(design=design) == 0
    assert SmsMessage.objects.count() == 0


def test_committing_an_sms_program_fills_its_outbox(campaign, django_capture_on_commit_callbacks):
    voters = nc_voters(campaign, 4)

    with django_capture_on_commit_callbacks(execute=True):
        design = sms_program(campaign, voters, control_share=0.001)

    assert SmsMessage.objects.filter(design=design).count() == 4


# -- release (quiet hours and consent when due) ------------------------------------------------


def test_release_makes_open_windows_due_and_holds_closed_ones_until_they_open(campaign):
    east = nc_voters(campaign, 3)
    hawaii = VoterFactory(campaign=campaign, zip5="96813", state="HI", phone="+18085550123")
    design = sms_program(campaign, [*east, hawaii], control_share=0.001)
    fill_outbox(design=design)

    at_ten_et = release_due_messages(now=MORNING_ET)

    held = SmsMessage.objects.get(design=design, phone=hawaii.phone)
    assert at_ten_et == {"due": 3, "held": 1, "canceled": 0}
    assert (held.status, held.hold_until) == ("held", HAWAII_OPENS)
    assert release_due_messages(now=HAWAII_OPENS - dt.timedelta(minutes=1)) == {
        "due": 0, "held": 0, "canceled": 0,
    }  # fmt: skip
    assert release_due_messages(now=HAWAII_OPENS) == {"due": 1, "held": 0, "canceled": 0}
    assert statuses(design) == {"due": 4}


def test_an_opted_out_number_is_canceled_when_its_text_would_become_due(campaign):
    voters = nc_voters(campaign, 3)
    design = sms_program(campaign, voters, control_share=0.001)
    fill_outbox(design=design)
    ConsentEventFactory(voter=voters[0])

    result = release_due_messages(now=MORNING_ET)

    assert result == {"due": 2, "held": 0, "canceled": 1}
    canceled = SmsMessage.objects.get(phone=voters[0].phone)
    assert (canceled.status, canceled.cancel_reason) == ("canceled", "opted_out")


# -- lease -------------------------------------------------------------------------------------


def test_a_lease_hands_out_due_texts_once(campaign, key):
    design, texts = due_texts(campaign, 5)

    first = lease_messages(key=key, limit=3, now=MORNING_ET)
    second = lease_messages(key=key, limit=3, now=MORNING_ET)
    third = lease_messages(key=key, limit=3, now=MORNING_ET)

    assert [len(first.messages), len(second.messages), len(third.messages)] == [3, 2, 0]
    assert third.lease_id is None
    handed = {m.pk for m in first.messages} | {m.pk for m in second.messages}
    assert handed == {t.pk for t in texts}
    assert statuses(design) == {"leased": 5}
    assert first.expires_at == MORNING_ET + dt.timedelta(seconds=300)


def test_an_opt_out_between_due_and_lease_cancels_the_text(campaign, key):
    _, texts = due_texts(campaign, 3)
    ConsentEventFactory(voter=texts[1].voter)

    lease = lease_messages(key=key, limit=10, now=MORNING_ET)

    assert sorted(m.pk for m in lease.messages) == [texts[0].pk, texts[2].pk]
    assert SmsMessage.objects.get(pk=texts[1].pk).status == "canceled"


@pytest.mark.parametrize(
    ("at", "lease_seconds", "handed"),
    [
        (MORNING_ET, 300, 1),  # 10:00 ET
        (EARLY_ET, 60, 0),  # 07:55 ET: closed
        (EARLY_ET + dt.timedelta(minutes=5), 60, 1),  # 08:00 ET: opens
        (LATE_ET, 300, 1),  # 20:50 ET, lease to 20:55
        (LATE_ET, 600, 1),  # lease to 21:00 exactly: the window is [08:00, 21:00)
        (LATE_ET, 601, 0),  # would run past 21:00
        (LATE_ET + dt.timedelta(minutes=10), 60, 0),  # 21:00 ET: closed
    ],
)
def test_a_lease_hands_out_only_texts_whose_window_stays_open(campaign, key, at, lease_seconds,
                                                              handed):  # fmt: skip
    due_texts(campaign, 1)

    lease = lease_messages(key=key, limit=10, now=at, lease_seconds=lease_seconds)

    assert len(lease.messages) == handed


def test_a_paused_program_s_texts_wait(campaign, key):
    design, _ = due_texts(campaign, 2)
    pause_program(design=design)

    lease = lease_messages(key=key, limit=10, now=MORNING_ET)

    assert lease.messages == []
    assert statuses(design) == {"due": 2}


def test_cancelling_a_program_cancels_its_unsent_texts_and_leaves_a_leased_one(campaign, key):
    design, _ = due_texts(campaign, 3)
    lease_messages(key=key, limit=1, now=MORNING_ET)  # the vendor holds one

    cancel_program(design=design)

    assert statuses(design) == {"leased": 1, "canceled": 2}
    canceled = SmsMessage.objects.filter(design=design, status="canceled")
    assert set(canceled.values_list("cancel_reason", flat=True)) == {"program_cancelled"}
    assert lease_messages(key=key, limit=10, now=MORNING_ET).messages == []


def test_another_campaign_s_key_leases_nothing_of_ours(campaign):
    due_texts(campaign, 2)
    theirs = create_vendor_key(campaign=CampaignFactory(slug="x"), name="Other", user=None)[0]

    assert lease_messages(key=theirs, limit=10, now=MORNING_ET).messages == []


def test_over_a_cap_texts_wait_and_never_fail(campaign, key):
    design, _ = due_texts(campaign, 6)
    SmsSettings.objects.create(campaign=campaign, per_second=2, per_day=3)

    first = lease_messages(key=key, limit=10, now=MORNING_ET)
    same_second = lease_messages(key=key, limit=10, now=MORNING_ET)
    later = lease_messages(key=key, limit=10, now=MORNING_ET + dt.timedelta(seconds=2))
    day_cap = lease_messages(key=key, limit=10, now=MORNING_ET + dt.timedelta(seconds=4))
    next_day = lease_messages(key=key, limit=10, now=MORNING_ET + dt.timedelta(days=1))

    counts = [len(x.messages) for x in (first, same_second, later, day_cap, next_day)]
    assert counts == [2, 0, 1, 0, 2]
    assert [x.capped for x in (first, same_second, later, day_cap, next_day)] == [True] * 5
    assert statuses(design) == {"leased": 5, "due": 1}


# -- ack, expiry, final states ----------------------------------------------------------------


def test_an_acked_text_is_sent_and_never_leased_again_while_an_unacked_one_returns(campaign, key):
    due_texts(campaign, 2)
    lease = lease_messages(key=key, limit=10, now=MORNING_ET, lease_seconds=60)
    acked, unacked = lease.messages

    result = ack_message(key=key, message_id=acked.pk, vendor_message_id="SM1", now=MORNING_ET)
    returned = expire_leases(now=MORNING_ET + dt.timedelta(seconds=60))
    again = lease_messages(key=key, limit=10, now=MORNING_ET + dt.timedelta(seconds=61))

    assert (result, returned) == (AckResult.ACKED, 1)
    assert [m.pk for m in again.messages] == [unacked.pk]
    assert SmsMessage.objects.get(pk=acked.pk).status == "sent"


def test_acks_are_idempotent_and_refuse_what_they_cannot_be(campaign, key):
    _, texts = due_texts(campaign, 3)
    lease_messages(key=key, limit=10, now=MORNING_ET)
    first, second, third = texts
    ack = ack_message(key=key, message_id=first.pk, vendor_message_id="SM1", now=MORNING_ET)

    results = [
        ack_message(key=key, message_id=first.pk, vendor_message_id="SM1", now=MORNING_ET),
        ack_message(key=key, message_id=second.pk, vendor_message_id="SM1", now=MORNING_ET),
        ack_message(key=key, message_id=first.pk, vendor_message_id="SM9", now=MORNING_ET),
        ack_message(key=key, message_id=10**9, vendor_message_id="SM2", now=MORNING_ET),
    ]

    assert ack == "acked"
    assert results == ["already_acked", "duplicate_vendor_id", "refused", "not_found"]
    assert SmsMessage.objects.get(pk=first.pk).vendor_message_id == "SM1"
    assert SmsMessage.objects.filter(status="sent").count() == 1
    assert third.pk


def test_a_final_status_never_moves_back(campaign, key):
    _, texts = due_texts(campaign, 1)
    lease_messages(key=key, limit=1, now=MORNING_ET)
    ack_message(key=key, message_id=texts[0].pk, vendor_message_id="SM1", now=MORNING_ET)

    delivered = move_status(message_id=texts[0].pk, status="delivered", now=MORNING_ET)
    back_to_sent = move_status(message_id=texts[0].pk, status="sent", now=MORNING_ET)
    to_failed = move_status(message_id=texts[0].pk, status="failed", now=MORNING_ET)
    to_unknown = move_status(message_id=texts[0].pk, status="unknown", now=MORNING_ET)

    assert (delivered, back_to_sent, to_failed, to_unknown) == (True, False, False, False)
    assert SmsMessage.objects.get(pk=texts[0].pk).status == "delivered"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_moving_a_final_text_back(campaign):
    _, texts = due_texts(campaign, 1)
    SmsMessage.objects.filter(pk=texts[0].pk).update(status=SmsStatus.CANCELED)

    with pytest.raises(IntegrityError), transaction.atomic():
        SmsMessage.objects.filter(pk=texts[0].pk).update(status=SmsStatus.DUE)

    assert SmsMessage.objects.get(pk=texts[0].pk).status == "canceled"


def test_sent_and_unknown_still_learn_their_outcome(campaign):
    _, texts = due_texts(campaign, 1)
    SmsMessage.objects.filter(pk=texts[0].pk).update(status=SmsStatus.SENT)

    assert move_status(message_id=texts[0].pk, status="unknown", now=MORNING_ET)
    assert move_status(message_id=texts[0].pk, status="undelivered", now=MORNING_ET)
    assert SmsMessage.objects.get(pk=texts[0].pk).finished_at == MORNING_ET


# -- concurrency (real PostgreSQL transactions) ------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_concurrent_leases_skip_each_other_s_rows_and_never_share_a_text():
    campaign = CampaignFactory(slug="concurrent", name="Concurrent", state="NC")
    key = create_vendor_key(campaign=campaign, name="Acme", user=None)[0]
    design, texts = due_texts(campaign, 20)
    SmsSettings.objects.create(campaign=campaign, help_contact="x.org")  # no caps: no lock
    held, done = threading.Event(), threading.Event()
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():  # holds its rows' locks until the second has leased
                results["first"] = [
                    m.pk for m in lease_messages(key=key, limit=8, now=MORNING_ET).messages
                ]
                held.set()
                done.wait(10)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            held.set()
        finally:
            connection.close()

    def second() -> None:
        held.wait(10)
        try:
            with connection.cursor() as cursor:
                # Blocking on the first's locks (no SKIP LOCKED) would fail here, not hang.
                cursor.execute("SET lock_timeout = '2s'")
            results["second"] = [
                m.pk for m in lease_messages(key=key, limit=100, now=MORNING_ET).messages
            ]
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert errors == []
    assert (len(results["first"]), len(results["second"])) == (8, 12)
    assert set(results["first"]).isdisjoint(results["second"])
    assert set(results["first"]) | set(results["second"]) == {t.pk for t in texts}
    assert SmsMessage.objects.filter(design=design, status="leased").count() == 20
    assert SmsMessage.objects.filter(design=design).exclude(kind=SmsKind.PROGRAM).count() == 0


def test_a_batch_of_acks_says_what_happened_to_each(campaign, key):
    _, texts = due_texts(campaign, 5)
    lease_messages(key=key, limit=10, now=MORNING_ET)
    earlier = MORNING_ET - dt.timedelta(seconds=5)
    ack_message(key=key, message_id=texts[3].pk, vendor_message_id="SM3", now=earlier)
    SmsMessage.objects.filter(pk=texts[4].pk).update(status="canceled")
    batch = [
        (texts[0].pk, "SM0"),
        (texts[0].pk, "SM0"),  # the same ack twice in a batch
        (texts[1].pk, "SM0"),  # another text under a vendor id already used
        (texts[2].pk, "SM2"),
        (texts[3].pk, "SM3"),  # acknowledged before
        (texts[3].pk, "SM9"),  # ... under another id
        (texts[4].pk, "SM4"),  # canceled
        (10**9, "SM5"),
    ]

    results = ack_messages(key=key, acks=batch, now=MORNING_ET)

    assert results == [
        "acked", "already_acked", "duplicate_vendor_id", "acked", "already_acked", "refused",
        "refused", "not_found",
    ]  # fmt: skip
    sent = dict(SmsMessage.objects.filter(status="sent").values_list("pk", "vendor_message_id"))
    assert sent == {texts[0].pk: "SM0", texts[2].pk: "SM2", texts[3].pk: "SM3"}


def test_a_batch_of_acks_costs_the_same_queries_for_any_size(
    campaign, key, django_assert_num_queries
):
    _, texts = due_texts(campaign, 30)
    lease_messages(key=key, limit=30, now=MORNING_ET)

    with django_assert_num_queries(5):  # owners, savepoint, update, release, states
        ack_messages(key=key, acks=[(t.pk, f"A{t.pk}") for t in texts[:2]], now=MORNING_ET)
    with django_assert_num_queries(5):
        ack_messages(key=key, acks=[(t.pk, f"A{t.pk}") for t in texts[2:]], now=MORNING_ET)

    assert SmsMessage.objects.filter(status="sent").count() == 30


def test_a_batch_ack_gives_each_text_its_own_vendor_id_in_five_queries(
    campaign, key, django_assert_num_queries
):
    _, texts = due_texts(campaign, 40)
    lease_messages(key=key, limit=40, now=MORNING_ET)
    acks = [(text.pk, f"SM-{n}") for n, text in enumerate(texts)]

    # The owners' lookup, the savepoint, one UPDATE … FROM unnest, its release, the read-back:
    # however many texts (it was a CASE with one WHEN per text).
    with django_assert_num_queries(5):
        results = ack_messages(key=key, acks=acks, now=MORNING_ET)

    assert results == [AckResult.ACKED] * 40
    stored = SmsMessage.objects.filter(pk__in=[t.pk for t in texts])
    assert dict(stored.values_list("pk", "vendor_message_id")) == dict(acks)
    assert set(stored.values_list("status", "sent_at", "lease_expires_at")) == {
        ("sent", MORNING_ET, None)
    }


# -- the lease at scale -------------------------------------------------------------------------


def more_texts(design, n: int, status: str, first: int) -> None:
    """`n` more texts of `design` in `status`, copies of its first with numbers of their own
    (one statement: thousands of factory voters would take minutes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_smsmessage (campaign_id, kind, design_id, arm_id, variant_id,
                voter_id, phone, profile_id, body, encoding, segments, status, error_code,
                cancel_reason, created_at, updated_at)
            SELECT campaign_id, kind, design_id, arm_id, variant_id, voter_id,
                '+1919' || lpad(i::text, 7, '0'), profile_id, body, encoding, segments, %s,
                '', '', clock_timestamp(), updated_at
            FROM messaging_smsmessage, generate_series(%s, %s) AS i
            WHERE id = (SELECT min(id) FROM messaging_smsmessage WHERE design_id = %s)
            """,
            [status, first, first + n - 1, design.pk],
        )


def claim_reads(key, limit: int) -> tuple[int, int]:
    """(rows the lease's claim of program texts read from the outbox, rows it read and threw
    away), from PostgreSQL's own account of running it (EXPLAIN ANALYZE, rolled back)."""
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        lease_messages(key=key, limit=limit, now=MORNING_ET)
        transaction.set_rollback(True)
    # Answers are claimed first, then program texts.
    claim = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"]][-1]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + claim.replace("%", "%%"))
        plan = cursor.fetchone()[0]
        transaction.set_rollback(True)
    plan = json.loads(plan) if isinstance(plan, str) else plan
    scans = [node for node in _nodes(plan[0]["Plan"])
             if node.get("Relation Name") == "messaging_smsmessage"]  # fmt: skip
    assert len(scans) == 1, scans
    scan = scans[0]
    return scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0), scan.get(
        "Rows Removed by Filter", 0
    )


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("analyzed", [True, False], ids=["fresh statistics", "stale statistics"])
def test_a_lease_reads_the_queue_in_order_and_stops_not_every_due_text(campaign, key, analyzed):
    design, _ = due_texts(campaign, 2)
    more_texts(design, 30_000, "canceled", first=1)  # done with, ahead of the due ones
    more_texts(design, 20_000, "due", first=30_001)
    if analyzed:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE messaging_smsmessage")

    read, thrown_away = claim_reads(key, 500)

    # About the 500 it hands out, not the 50,000 behind them.
    assert read <= 502
    assert thrown_away <= 2
    due = SmsMessage.objects.filter(design=design, status=SmsStatus.DUE)
    oldest = list(due.order_by("created_at", "pk").values_list("pk", flat=True)[:500])
    lease = lease_messages(key=key, limit=500, now=MORNING_ET)
    assert [m.pk for m in lease.messages] == sorted(oldest)  # the oldest 500
    assert due.count() == 20_002 - 500


def test_a_large_release_refreshes_the_outbox_statistics_and_a_small_one_does_not(
    campaign, monkeypatch
):
    from messaging import sms

    monkeypatch.setattr(sms, "FRESH_STATISTICS_AFTER", 3)
    voters = nc_voters(campaign, 5)
    small = sms_program(campaign, voters[:2], name="Small", control_share=0.001)
    large = sms_program(campaign, voters[2:], name="Large", control_share=0.001)
    fill_outbox(design=small)
    with CaptureQueriesContext(connection) as two:
        assert release_due_messages(now=MORNING_ET)["due"] == 2
    fill_outbox(design=large)
    with CaptureQueriesContext(connection) as three:
        assert release_due_messages(now=MORNING_ET)["due"] == 3

    analyzed = "ANALYZE messaging_smsmessage"
    assert [q["sql"] for q in two if q["sql"] == analyzed] == []
    assert [q["sql"] for q in three if q["sql"] == analyzed] == [analyzed]


def test_a_batch_of_receipts_looks_each_vendor_id_up_even_with_statistics_from_before_sending(
    campaign, key
):
    from messaging.sms_inbound import Receipt, record_receipts

    design, _ = due_texts(campaign, 2)
    more_texts(design, 20_000, "due", first=1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_smsmessage")  # every vendor id still empty
        cursor.execute(
            "UPDATE messaging_smsmessage SET status = 'sent', vendor_message_id = 'SM' || id, "
            "sent_at = %s WHERE design_id = %s",
            [MORNING_ET, design.pk],
        )
    wanted = list(SmsMessage.objects.filter(design=design).order_by("pk")[:3])
    receipts = [Receipt(t.vendor_message_id, "delivered", MORNING_ET) for t in wanted]

    with CaptureQueriesContext(connection) as queries:
        record_receipts(campaign=campaign, receipts=receipts, now=MORNING_ET)
    lookup = next(q["sql"] for q in queries if "FOR UPDATE" in q["sql"])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + lookup.replace("%", "%%"))
        plan = cursor.fetchone()[0]
        transaction.set_rollback(True)
    plan = json.loads(plan) if isinstance(plan, str) else plan
    scan = next(
        n for n in _nodes(plan[0]["Plan"]) if n.get("Relation Name") == "messaging_smsmessage"
    )

    # Three ids looked up, not the 20,002 sent texts read and filtered.
    assert scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0) == 3
    assert SmsMessage.objects.filter(status="delivered").count() == 3
