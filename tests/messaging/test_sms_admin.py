"""The SMS pages of the admin: a voter's conversation, the outbox and replies scoped to the
user's campaigns, and SMS settings whose Twilio token is never written back into the page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from messaging.models import SmsMessage, SmsSettings
from messaging.sms_inbound import Inbound, record_inbound
from tests.factories import CampaignFactory, VoterFactory
from tests.messaging.sms_setup import MORNING_ET, due_texts

pytestmark = pytest.mark.django_db

OUTBOX = "/admin/messaging/smsmessage/"
REPLIES = "/admin/messaging/smsinbound/"


def reply(campaign, phone: str, body: str, vendor_id: str):
    inbound = Inbound(vendor_message_id=vendor_id, phone=phone, body=body, received_at=MORNING_ET)
    return record_inbound(campaign=campaign, inbound=inbound)[0]


def test_the_voter_page_shows_the_conversation_with_numbers_masked(staff_client, campaign):
    _, texts = due_texts(campaign, 1)
    text = texts[0]
    reply(campaign, text.phone, "who is this? call me at 919-555-0142", "IN1")
    reply(campaign, text.phone, "STOP", "IN2")

    page = staff_client.get(f"/admin/voters/voter/{text.voter_id}/change/").content.decode()

    assert "Text messages" in page
    assert escape(text.body) in page
    assert "Program message: Canceled" in page  # the STOP canceled the text not yet sent
    assert "Opt-out confirmation: Due" in page
    assert "919-555-0142" not in page
    assert "opt_out (keyword:STOP): opt-out recorded" in page


def test_the_outbox_lists_only_the_user_s_campaigns(staff_client, campaign):
    due_texts(campaign, 3)
    rival = CampaignFactory(slug="rival-sms", name="Rival", state="NC")
    _, theirs = due_texts(rival, 2)

    listed = staff_client.get(OUTBOX)
    foreign = staff_client.get(f"{OUTBOX}{theirs[0].pk}/change/")

    assert listed.status_code == 200
    assert len(listed.context["cl"].result_list) == 3
    assert foreign.status_code == 404


def test_the_outbox_list_costs_the_same_queries_for_more_texts(staff_client, campaign):
    due_texts(campaign, 2)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(OUTBOX)
    due_texts(campaign, 6, name="More", first=100)  # more rows, another program

    with CaptureQueriesContext(connection) as many:
        response = staff_client.get(OUTBOX)

    assert len(response.context["cl"].result_list) == SmsMessage.objects.count() == 8
    assert len(many.captured_queries) == len(few.captured_queries)


def test_replies_needing_review_are_listed(staff_client, campaign):
    _, texts = due_texts(campaign, 1)
    reply(campaign, texts[0].phone, "wrong number", "IN1")

    response = staff_client.get(f"{REPLIES}?needs_review__exact=1")

    assert [r.rule for r in response.context["cl"].result_list] == ["wrong_number"]


def test_the_twilio_token_is_never_written_into_the_page_and_kept_when_left_empty(
    client, campaign, make_member
):
    client.force_login(make_member(campaign, "admin"))
    settings = SmsSettings.objects.create(campaign=campaign, twilio_auth_token="s3cr3t-token")
    url = f"/admin/messaging/smssettings/{settings.pk}/change/"

    page = client.get(url).content.decode()
    saved = client.post(
        url,
        {"campaign": campaign.pk, "per_second": "5", "per_day": "", "help_contact": "x.org",
         "help_frequency": "4 msgs/month", "twilio_auth_token": ""},
    )  # fmt: skip

    assert "s3cr3t-token" not in page
    assert saved.status_code == 302
    settings.refresh_from_db()
    assert (settings.twilio_auth_token, settings.per_second) == ("s3cr3t-token", 5)


def test_staff_decide_reviews_with_an_action_and_viewers_cannot(client, staff_client, campaign,
                                                                make_member):  # fmt: skip
    _, texts = due_texts(campaign, 1)
    row = reply(campaign, texts[0].phone, "wrong number", "IN1")
    action = {"action": "opt_out_reviewed", "_selected_action": [row.pk]}

    done = staff_client.post(REPLIES, action)
    row.refresh_from_db()

    assert done.status_code == 302
    assert (row.review_outcome, row.reviewed_by.username) == ("opted_out", "staffer")
    client.force_login(make_member(campaign, "viewer"))
    listed = client.get(REPLIES)
    assert "opt_out_reviewed" not in listed.content.decode()


def test_a_voter_sharing_the_number_sees_its_conversation_too(staff_client, campaign):
    _, texts = due_texts(campaign, 1)
    sharing = VoterFactory(campaign=campaign, phone=texts[0].phone)
    alone = VoterFactory(campaign=campaign, phone="+19195550199")
    reply(campaign, texts[0].phone, "Who is this?", "IN1")

    shared_page = staff_client.get(f"/admin/voters/voter/{sharing.pk}/change/").content.decode()
    other_page = staff_client.get(f"/admin/voters/voter/{alone.pk}/change/").content.decode()

    assert "Who is this?" in shared_page
    assert "Who is this?" not in other_page
    assert "No text messages." in other_page


PAUSED = "/admin/messaging/pausedvariant/"


def test_staff_resume_a_paused_variant_and_only_their_own_campaign_s(
    staff_client, campaign, client, make_member
):
    from campaign.models import AuditEvent
    from messaging.models import PausedVariant
    from tests.factories import MessageVariantFactory

    ours = PausedVariant.objects.create(
        variant=MessageVariantFactory(campaign=campaign, channel="sms"), filtered=3, sent=10
    )
    other_campaign = CampaignFactory()
    theirs = PausedVariant.objects.create(
        variant=MessageVariantFactory(campaign=other_campaign, channel="sms"), filtered=5, sent=100
    )

    listed = staff_client.get(PAUSED).content.decode()
    foreign = staff_client.get(f"{PAUSED}{theirs.pk}/change/")
    done = staff_client.post(
        PAUSED, {"action": "resume_reviewed", "_selected_action": [ours.pk, theirs.pk]}
    )

    assert "30.0%" in listed
    assert "5.0%" not in listed
    assert foreign.status_code == 404
    assert done.status_code == 302
    assert list(PausedVariant.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert AuditEvent.objects.filter(action="variant_resume").count() == 1
    client.force_login(make_member(campaign, "viewer"))
    assert "resume_reviewed" not in client.get(PAUSED).content.decode()
