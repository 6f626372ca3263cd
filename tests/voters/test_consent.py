"""The consent ledger: opt-outs, the rules for opting back in, and the set-based check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from campaign.models import AuditAction, AuditEvent
from tests.factories import CampaignFactory, UserFactory, VoterFactory
from voters import consent
from voters.consent import (
    ConsentError,
    OptOut,
    is_contactable,
    opted_out_addresses,
    record_opt_in,
    record_opt_out,
    record_opt_outs,
)
from voters.models import Channel, ConsentEvent, Voter
from voters.services import import_voter_file

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 10, 1, 12, 0, tzinfo=dt.UTC)
PHONE = "+19195550101"


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def contactable_ids(campaign, channel: str) -> set[int]:
    return set(
        Voter.objects.for_campaign(campaign).contactable(channel).values_list("pk", flat=True)
    )


# -- opting out and checking -----------------------------------------------------------------


def test_sms_opt_out_makes_the_phone_uncontactable_on_sms_only(campaign):
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply")

    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is False
    assert is_contactable(campaign=campaign, channel="phone", address=PHONE) is True
    assert is_contactable(campaign=campaign, channel="sms", address="+19195550102") is True


def test_phone_opt_out_is_stored_in_e164_whatever_the_spelling(campaign):
    record_opt_out(campaign=campaign, channel="phone", address="(919) 555-0101", source="staff",
                   user=UserFactory())  # fmt: skip

    assert ConsentEvent.objects.get().address == PHONE
    assert is_contactable(campaign=campaign, channel="phone", address=PHONE) is False
    assert is_contactable(campaign=campaign, channel="phone", address="919.555.0101") is False


def test_email_opt_out_is_case_insensitive(campaign):
    record_opt_out(
        campaign=campaign, channel="email", address=" Jane.Doe@Example.ORG ", source="unsubscribe"
    )

    assert ConsentEvent.objects.get().address == "jane.doe@example.org"
    assert (
        is_contactable(campaign=campaign, channel="email", address="jane.doe@example.org") is False
    )
    assert (
        is_contactable(campaign=campaign, channel="email", address="JANE.DOE@example.org") is False
    )
    assert opted_out_addresses(
        campaign=campaign, channel="email", addresses=["JANE.doe@example.org", "x@example.org"]
    ) == {"jane.doe@example.org"}


@pytest.mark.parametrize("channel", ["door", "mail"])
def test_door_and_mail_opt_outs_are_keyed_to_the_voter(campaign, channel):
    voter = VoterFactory(campaign=campaign)
    housemate = VoterFactory(campaign=campaign)

    record_opt_out(campaign=campaign, channel=channel, address=None, voter=voter,
                   source="canvass_dnc")  # fmt: skip

    event = ConsentEvent.objects.get()
    assert (event.address, event.voter_id) == (f"voter:{voter.pk}", voter.pk)
    assert contactable_ids(campaign, channel) == {housemate.pk}
    other = "mail" if channel == "door" else "door"
    assert contactable_ids(campaign, other) == {voter.pk, housemate.pk}


def test_door_opt_out_without_a_voter_is_refused(campaign):
    with pytest.raises(ConsentError):
        record_opt_out(campaign=campaign, channel="door", address="12 Main St", source="staff",
                       user=UserFactory())  # fmt: skip

    assert ConsentEvent.objects.count() == 0


def test_opt_out_needs_an_address_and_a_known_channel(campaign):
    for channel, address in [("sms", ""), ("email", "   "), ("fax", PHONE)]:
        with pytest.raises(ConsentError):
            record_opt_out(campaign=campaign, channel=channel, address=address,
                           source="stop_reply")  # fmt: skip

    assert ConsentEvent.objects.count() == 0


def test_error_messages_never_echo_the_address(campaign):
    with pytest.raises(ConsentError) as error:
        record_opt_in(campaign=campaign, channel="sms", address=PHONE, source="import")

    assert PHONE not in str(error.value)
    assert "5550101" not in str(error.value)


# -- opting back in --------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["start_reply", "resubscribe"])
def test_the_person_may_opt_back_in(campaign, source):
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                   occurred_at=at(0))  # fmt: skip

    record_opt_in(campaign=campaign, channel="sms", address=PHONE, source=source,
                  occurred_at=at(1))  # fmt: skip

    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is True
    assert AuditEvent.objects.count() == 0  # only staff changes are audited


@pytest.mark.parametrize("source", ["import", "vendor_block", "canvass_dnc", "stop_reply"])
def test_an_import_vendor_or_canvass_can_never_opt_back_in(campaign, source):
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                   occurred_at=at(0))  # fmt: skip

    with pytest.raises(ConsentError):
        record_opt_in(campaign=campaign, channel="sms", address=PHONE, source=source,
                      occurred_at=at(1), user=UserFactory(), reason="file says so")  # fmt: skip

    assert ConsentEvent.objects.count() == 1
    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is False


def test_staff_may_opt_back_in_with_a_reason_and_it_is_audited(campaign):
    staffer = UserFactory(username="staffer")
    voter = VoterFactory(campaign=campaign, phone=PHONE)
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                   occurred_at=at(0))  # fmt: skip

    event = record_opt_in(
        campaign=campaign, channel="sms", address=PHONE, source="staff", voter=voter,
        user=staffer, reason="Voter asked at the office to get texts again", occurred_at=at(1),
        client_ip="10.0.0.7",
    )  # fmt: skip

    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is True
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.campaign_id, audit.user_id) == (
        AuditAction.CONSENT_CHANGE,
        campaign.pk,
        staffer.pk,
    )
    assert (audit.object_type, audit.object_id) == ("voters.consentevent", str(event.pk))
    assert audit.client_ip == "10.0.0.7"
    assert audit.detail == {"channel": "sms", "kind": "opt_in", "voter": voter.pk}
    assert PHONE not in str(audit.detail)


@pytest.mark.parametrize(
    ("user", "reason"), [(None, "asked in person"), ("staffer", ""), ("staffer", "   ")]
)
def test_staff_opt_in_without_user_or_reason_is_refused_and_nothing_recorded(
    campaign, user, reason
):
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                   occurred_at=at(0))  # fmt: skip
    staff = UserFactory(username=user) if user else None

    with pytest.raises(ConsentError):
        record_opt_in(campaign=campaign, channel="sms", address=PHONE, source="staff",
                      user=staff, reason=reason, occurred_at=at(1))  # fmt: skip

    assert ConsentEvent.objects.count() == 1
    assert AuditEvent.objects.count() == 0
    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is False


def test_staff_opt_out_is_audited(campaign):
    staffer = UserFactory(username="staffer")

    event = record_opt_out(campaign=campaign, channel="email", address="a@example.org",
                           source="staff", user=staffer)  # fmt: skip

    audit = AuditEvent.objects.get()
    assert (audit.action, audit.object_id, audit.user_id) == (
        AuditAction.CONSENT_CHANGE,
        str(event.pk),
        staffer.pk,
    )


# -- the latest event wins -------------------------------------------------------------------


def test_latest_event_wins_whatever_the_order_of_recording(campaign):
    # A START at 13:00 recorded first, then a late-delivered STOP of 12:00: still opted in.
    record_opt_in(campaign=campaign, channel="sms", address=PHONE, source="start_reply",
                  occurred_at=at(1))  # fmt: skip
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                   occurred_at=at(0))  # fmt: skip
    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is True

    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                   occurred_at=at(2))  # fmt: skip
    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is False


def test_a_tie_on_the_timestamp_goes_to_the_later_recorded_event(campaign):
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                   occurred_at=at(0))  # fmt: skip
    record_opt_in(campaign=campaign, channel="sms", address=PHONE, source="start_reply",
                  occurred_at=at(0))  # fmt: skip
    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is True

    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                   occurred_at=at(0))  # fmt: skip
    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is False


# -- redelivery ------------------------------------------------------------------------------


def test_a_redelivered_event_with_the_same_dedupe_key_is_a_no_op(campaign):
    first = record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                           dedupe_key="vendor:msg-1")  # fmt: skip
    again = record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply",
                           dedupe_key="vendor:msg-1")  # fmt: skip

    assert first is not None
    assert again is None
    assert ConsentEvent.objects.count() == 1


def test_a_batch_counts_only_what_it_added(campaign):
    voter = VoterFactory(campaign=campaign)
    events = [
        OptOut(channel="sms", address=PHONE, occurred_at=at(0), dedupe_key="imp:1"),
        OptOut(channel="email", address="B@Example.org", occurred_at=at(0), dedupe_key="imp:2"),
        OptOut(channel="door", address="", occurred_at=at(0), voter_id=voter.pk,
               dedupe_key="imp:3"),
    ]  # fmt: skip

    first = record_opt_outs(campaign=campaign, source="import", events=events)
    again = record_opt_outs(campaign=campaign, source="import", events=events)

    assert (first, again) == (3, 0)
    assert ConsentEvent.objects.count() == 3
    assert set(ConsentEvent.objects.values_list("address", flat=True)) == {
        PHONE,
        "b@example.org",
        f"voter:{voter.pk}",
    }


def test_a_batch_cannot_come_from_staff(campaign):
    with pytest.raises(ConsentError):
        record_opt_outs(
            campaign=campaign,
            source="staff",
            events=[OptOut(channel="sms", address=PHONE, occurred_at=at(0))],
        )

    assert ConsentEvent.objects.count() == 0


# -- voters moving, files re-imported --------------------------------------------------------


def test_an_opt_out_keyed_to_a_phone_holds_when_the_phone_moves_to_another_voter(campaign):
    first = VoterFactory(campaign=campaign, phone=PHONE)
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, voter=first,
                   source="stop_reply")  # fmt: skip
    newcomer = VoterFactory(campaign=campaign, phone=PHONE)  # the number was reassigned
    first.phone = "+19195550199"
    first.save(update_fields=["phone"])

    assert contactable_ids(campaign, "sms") == {first.pk}
    assert newcomer.pk not in contactable_ids(campaign, "sms")


def test_reimporting_the_voter_file_never_resets_consent(campaign, tmp_path: Path):
    path = tmp_path / "voters.csv"
    path.write_text(
        "voter_id,first_name,last_name,zip,phone,email\n"
        "A1,Ann,Lee,27701,(919) 555-0101,Ann@Example.org\n"
        "A2,Bo,Ng,27701,(919) 555-0102,bo@example.org\n"
    )
    import_voter_file(campaign=campaign, paths=[path])
    ann = Voter.objects.get(campaign=campaign, voter_id="A1")
    bo = Voter.objects.get(campaign=campaign, voter_id="A2")
    record_opt_out(campaign=campaign, channel="sms", address=ann.phone, voter=ann,
                   source="stop_reply")  # fmt: skip
    record_opt_out(campaign=campaign, channel="email", address="ANN@example.org", voter=ann,
                   source="unsubscribe")  # fmt: skip
    record_opt_out(campaign=campaign, channel="door", address=None, voter=bo,
                   source="canvass_dnc")  # fmt: skip

    # The next month's file: same voters, one changed its name, and a full re-import.
    path.write_text(
        "voter_id,first_name,last_name,zip,phone,email\n"
        "A1,Ann,Lee-Smith,27701,919-555-0101,ann@example.org\n"
        "A2,Bo,Ng,27701,919-555-0102,bo@example.org\n"
    )
    import_voter_file(campaign=campaign, paths=[path], full=True)

    assert Voter.objects.get(pk=ann.pk).last_name == "Lee-Smith"
    assert ConsentEvent.objects.count() == 3
    assert contactable_ids(campaign, "sms") == {bo.pk}
    assert contactable_ids(campaign, "email") == {bo.pk}
    assert contactable_ids(campaign, "door") == {ann.pk}


# -- the set-based query ---------------------------------------------------------------------


def test_contactable_excludes_exactly_the_opted_out_and_address_less_in_one_query(
    campaign, other_campaign, django_assert_num_queries
):
    reachable = VoterFactory(campaign=campaign, phone="+19195550001", email="r@example.org")
    stopped = VoterFactory(campaign=campaign, phone="+19195550002", email="s@example.org")
    no_phone = VoterFactory(campaign=campaign, phone=None, email=None)
    blank_phone = VoterFactory(campaign=campaign, phone="", email="")
    back_in = VoterFactory(campaign=campaign, phone="+19195550003", email="b@example.org")
    # The rival campaign opts out our reachable voter's phone and email: must not leak.
    shared = VoterFactory(campaign=other_campaign, phone="+19195550001", email="r@example.org")
    record_opt_out(campaign=campaign, channel="sms", address="+19195550002", source="stop_reply")
    record_opt_out(campaign=campaign, channel="email", address="S@example.org",
                   source="unsubscribe")  # fmt: skip
    record_opt_out(campaign=campaign, channel="sms", address="+19195550003", source="stop_reply",
                   occurred_at=at(0))  # fmt: skip
    record_opt_in(campaign=campaign, channel="sms", address="+19195550003", source="start_reply",
                  occurred_at=at(1))  # fmt: skip
    record_opt_out(campaign=other_campaign, channel="sms", address="+19195550001",
                   source="stop_reply")  # fmt: skip
    record_opt_out(campaign=other_campaign, channel="email", address="r@example.org",
                   source="unsubscribe")  # fmt: skip

    with django_assert_num_queries(1):
        sms = contactable_ids(campaign, "sms")
    with django_assert_num_queries(1):
        email = contactable_ids(campaign, "email")

    assert sms == {reachable.pk, back_in.pk}
    assert email == {reachable.pk, back_in.pk}
    assert contactable_ids(campaign, "phone") == {reachable.pk, stopped.pk, back_in.pk}
    assert contactable_ids(campaign, "door") == {
        reachable.pk, stopped.pk, no_phone.pk, blank_phone.pk, back_in.pk,
    }  # fmt: skip
    assert contactable_ids(other_campaign, "sms") == set()
    assert shared.pk not in contactable_ids(other_campaign, "email")


def test_contactable_chains_onto_any_universe(campaign):
    active = VoterFactory(campaign=campaign, status="active")
    VoterFactory(campaign=campaign, status="inactive")
    stopped = VoterFactory(campaign=campaign, status="active")
    record_opt_out(campaign=campaign, channel="sms", address=stopped.phone, source="stop_reply")

    universe = Voter.objects.for_campaign(campaign).active().contactable("sms")

    assert set(universe.values_list("pk", flat=True)) == {active.pk}


def test_voter_consent_reports_every_channel_in_one_query(campaign, django_assert_num_queries):
    voter = VoterFactory(campaign=campaign, phone=PHONE, email=None)
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="stop_reply")
    record_opt_out(campaign=campaign, channel="mail", address=None, voter=voter,
                   source="canvass_dnc")  # fmt: skip
    record_opt_out(campaign=CampaignFactory(slug="third"), channel="phone", address=PHONE,
                   source="stop_reply")  # fmt: skip

    with django_assert_num_queries(1):
        states = {s.channel: s for s in consent.voter_consent(voter)}

    assert {c: s.is_contactable for c, s in states.items()} == {
        Channel.DOOR: True,
        Channel.PHONE: True,
        Channel.SMS: False,
        Channel.EMAIL: False,
        Channel.MAIL: False,
    }
    assert states[Channel.EMAIL].has_address is False
    assert states[Channel.SMS].opt_out.source == "stop_reply"


def test_a_voter_of_another_campaign_cannot_be_opted_out_here(campaign, other_campaign):
    foreign = VoterFactory(campaign=other_campaign)

    with pytest.raises(ConsentError):
        record_opt_out(campaign=campaign, channel="door", address=None, voter=foreign,
                       source="canvass_dnc")  # fmt: skip

    assert ConsentEvent.objects.count() == 0


def test_a_staff_opt_out_is_never_refused_for_want_of_a_user_or_reason(campaign):
    event = record_opt_out(campaign=campaign, channel="sms", address=PHONE, source="staff")

    assert event is not None
    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is False
    assert AuditEvent.objects.get().user_id is None
