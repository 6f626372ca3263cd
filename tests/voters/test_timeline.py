"""The voter page: one timeline of contacts, answers and consent changes, the voter's consent per
channel and programs, and staff consent changes recorded from the page."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from django.urls import reverse

from campaign.models import AuditAction, AuditEvent, Role
from tests.factories import (
    AssignmentFactory,
    ContactAttemptFactory,
    MembershipFactory,
    ProgramArmFactory,
    ProgramFactory,
    SurveyOptionFactory,
    SurveyQuestionFactory,
    SurveyResponseFactory,
    UserFactory,
    VoterFactory,
)
from voters.consent import is_contactable, record_opt_in, record_opt_out
from voters.models import ConsentEvent
from voters.selectors import voter_timeline

pytestmark = pytest.mark.django_db

PHONE = "+19195550101"
T0 = dt.datetime(2024, 10, 1, 16, 0, tzinfo=dt.UTC)
# session, user, memberships, the voter, Django permissions (2), vote history, consent per
# channel, contacts, answers, consent changes, program assignments (no household: no members query)
VOTER_PAGE_QUERIES = 15  # one of them: the latest scores; two: the texts and replies (messaging)


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def page_url(voter) -> str:
    return reverse("admin:voters_voter_change", args=[voter.pk])


def consent_url(voter) -> str:
    return reverse("admin:voters_voter_consent", args=[voter.pk])


def timeline_rows(html: str) -> list[str]:
    """The timeline table's rows, as text, top to bottom."""
    section = html.split("field-timeline", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, flags=re.S)[1:]  # skip the header
    return [" | ".join(re.findall(r"<td>(.*?)</td>", row, flags=re.S)) for row in rows]


@pytest.fixture
def voter(campaign):
    return VoterFactory(campaign=campaign, voter_id="NC0001", phone=PHONE, email="ann@example.org")


def test_timeline_merges_contacts_answers_and_consent_newest_first(
    staff_client, staff_user, campaign, voter
):
    program = ProgramFactory(campaign=campaign, name="Fall doors")
    arm = ProgramArmFactory(program=program, name="economy")
    knock = ContactAttemptFactory(
        voter=voter, channel="door", result="contacted", occurred_at=at(0), program=program,
        arm=arm, variant="econ-v2", canvasser="Pat Q", source="import",
    )  # fmt: skip
    SurveyResponseFactory(voter=voter, support="2", answered_at=at(0), contact_attempt=knock)
    issue = SurveyQuestionFactory(campaign=campaign, slug="top-issue")
    SurveyResponseFactory(
        voter=voter, question=issue, option=SurveyOptionFactory(question=issue, code="jobs"),
        answered_at=at(1),
    )  # fmt: skip
    ContactAttemptFactory(voter=voter, channel="sms", result="delivered", occurred_at=at(2),
                          user=staff_user, source="vendor_api")  # fmt: skip
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, voter=voter,
                   source="stop_reply", occurred_at=at(3))  # fmt: skip
    record_opt_in(campaign=campaign, channel="sms", address=PHONE, voter=voter, source="staff",
                  user=staff_user, reason="Asked at the office", occurred_at=at(4))  # fmt: skip
    VoterFactory(campaign=campaign)  # someone else's history must not show
    ContactAttemptFactory(voter=VoterFactory(campaign=campaign), occurred_at=at(5))

    response = staff_client.get(page_url(voter))

    assert response.status_code == 200
    # Times are shown in the campaign's zone (America/New_York, UTC-4 in October).
    assert timeline_rows(response.content.decode()) == [
        "2024-10-01 16:00 EDT | consent | Text message | Opt-in: Asked at the office | staffer "
        "| Staff",
        "2024-10-01 15:00 EDT | consent | Text message | Opt-out |  | STOP reply",
        "2024-10-01 14:00 EDT | contact | Text message | Delivered | staffer | Vendor API",
        "2024-10-01 13:00 EDT | answer |  | top-issue: jobs Jobs |  | Staff",
        "2024-10-01 12:00 EDT | answer |  | support: 2 Lean support |  | Staff",
        "2024-10-01 12:00 EDT | contact | Door | Contacted (Fall doors / Economy / Econ v2) "
        "| Pat Q | Import",
    ]


def test_timeline_shows_an_opt_out_of_the_voters_phone_recorded_against_another_voter(
    staff_client, campaign, voter
):
    previous_owner = VoterFactory(campaign=campaign, phone="+19195550199")
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, voter=previous_owner,
                   source="stop_reply", occurred_at=at(0))  # fmt: skip

    html = staff_client.get(page_url(voter)).content.decode()

    assert timeline_rows(html) == [
        "2024-10-01 12:00 EDT | consent | Text message | Opt-out (recorded against another voter "
        "with this address) |  | STOP reply"
    ]


def test_voter_page_query_count_is_the_same_for_2_and_20_items_of_each_kind(
    staff_client, campaign, voter, django_assert_num_queries
):
    program = ProgramFactory(campaign=campaign)
    url = page_url(voter)

    def add_history(start: int, n: int) -> None:
        for i in range(start, start + n):
            arm = ProgramArmFactory(program=program, name=f"arm-{i}")
            ContactAttemptFactory(voter=voter, occurred_at=at(i), program=program, arm=arm)
            SurveyResponseFactory(voter=voter, support=str(1 + i % 5), answered_at=at(i))
            record, source = (
                (record_opt_out, "stop_reply") if i % 2 == 0 else (record_opt_in, "start_reply")
            )
            record(campaign=campaign, channel="sms", address=PHONE, voter=voter, source=source,
                   occurred_at=at(i))  # fmt: skip
            AssignmentFactory(voter=voter, program=ProgramFactory(campaign=campaign))

    add_history(0, 2)
    staff_client.get(url)  # the session's first touch may write
    with django_assert_num_queries(VOTER_PAGE_QUERIES):
        assert len(timeline_rows(staff_client.get(url).content.decode())) == 6
    add_history(2, 18)
    with django_assert_num_queries(VOTER_PAGE_QUERIES):
        html = staff_client.get(url).content.decode()
    assert len(timeline_rows(html)) == 60
    assert len(re.findall(r'href="/admin/voters/program/\d+/change/"', html)) == 20


def test_timeline_is_bounded_and_links_to_the_full_list(campaign, voter):
    for i in range(5):
        ContactAttemptFactory(voter=voter, occurred_at=at(i))
        SurveyResponseFactory(voter=voter, answered_at=at(i))

    items, more = voter_timeline(voter, limit=4)

    assert more is True
    assert [(i.what, i.at) for i in items] == [
        ("answer", at(4)),
        ("contact", at(4)),
        ("answer", at(3)),
        ("contact", at(3)),
    ]


def test_voter_page_shows_consent_per_channel_and_program_assignments(
    staff_client, campaign, voter
):
    voter.email = None
    voter.save(update_fields=["email"])
    record_opt_out(campaign=campaign, channel="sms", address=PHONE, voter=voter,
                   source="stop_reply", occurred_at=at(0))  # fmt: skip
    program = ProgramFactory(campaign=campaign, name="Persuasion mail")
    control = ProgramArmFactory(program=program, control=True)
    AssignmentFactory(voter=voter, program=program, arm=control, assigned_at=at(0))

    html = staff_client.get(page_url(voter)).content.decode()
    section = html.split("field-consent_state", 1)[1].split("</table>", 1)[0]
    states = [
        " | ".join(re.findall(r"<td>(.*?)</td>", row))
        for row in re.findall(r"<tr>(.*?)</tr>", section)[1:]
    ]

    assert states == [
        "Door | yes | contactable",
        "Phone call | yes | contactable",
        "Text message | no | opted out since 2024-10-01 12:00 EDT (STOP reply)",
        "Email | no | no address on file",
        "Mail piece | yes | contactable",
    ]
    assert "Persuasion mail" in html
    assert reverse("admin:voters_program_change", args=[program.pk]) in html


# -- staff consent changes from the page -----------------------------------------------------


def test_staff_records_an_opt_out_from_the_voter_page(staff_client, staff_user, campaign, voter):
    page = staff_client.get(page_url(voter)).content.decode()

    response = staff_client.post(consent_url(voter), {"channel": "sms", "kind": "opt_out"},
                                 REMOTE_ADDR="10.1.2.3")  # fmt: skip

    assert f'action="{consent_url(voter)}"' in page
    assert response.status_code == 302
    assert response.url == page_url(voter)
    event = ConsentEvent.objects.get()
    assert (event.channel, event.address, event.kind, event.source, event.user_id) == (
        "sms", PHONE, "opt_out", "staff", staff_user.pk,
    )  # fmt: skip
    assert is_contactable(campaign=campaign, channel="sms", address=PHONE) is False
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.object_id, audit.client_ip) == (
        AuditAction.CONSENT_CHANGE,
        str(event.pk),
        "10.1.2.3",
    )


def test_staff_opt_in_from_the_page_needs_a_reason(staff_client, campaign, voter):
    record_opt_out(campaign=campaign, channel="email", address=voter.email, voter=voter,
                   source="unsubscribe", occurred_at=at(0))  # fmt: skip

    refused = staff_client.post(consent_url(voter), {"channel": "email", "kind": "opt_in"})
    shown = staff_client.get(page_url(voter)).content.decode()
    accepted = staff_client.post(
        consent_url(voter),
        {"channel": "email", "kind": "opt_in", "reason": "Signed up again at the rally"},
    )

    assert refused.status_code == 302
    assert "must give a reason" in shown
    assert accepted.status_code == 302
    assert list(ConsentEvent.objects.order_by("id").values_list("kind", "reason")) == [
        ("opt_out", ""),
        ("opt_in", "Signed up again at the rally"),
    ]
    assert AuditEvent.objects.count() == 1
    assert is_contactable(campaign=campaign, channel="email", address=voter.email) is True


def test_consent_change_for_a_channel_without_an_address_is_refused(staff_client, campaign):
    voter = VoterFactory(campaign=campaign, phone=None)

    staff_client.post(consent_url(voter), {"channel": "sms", "kind": "opt_out"})

    assert ConsentEvent.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_viewer_sees_no_consent_form_and_cannot_post(client, campaign, voter):
    viewer = UserFactory(username="viewer")
    MembershipFactory(user=viewer, campaign=campaign, role=Role.VIEWER)
    client.force_login(viewer)

    page = client.get(page_url(voter))
    post = client.post(consent_url(voter), {"channel": "sms", "kind": "opt_out"})

    assert page.status_code == 200
    assert consent_url(voter) not in page.content.decode()
    assert post.status_code == 403
    assert ConsentEvent.objects.count() == 0


def test_consent_change_for_a_foreign_voter_is_404(staff_client, other_campaign):
    foreign = VoterFactory(campaign=other_campaign)

    response = staff_client.post(consent_url(foreign), {"channel": "sms", "kind": "opt_out"})

    assert response.status_code == 404
    assert ConsentEvent.objects.count() == 0


def test_consent_url_takes_no_get_and_carries_no_address(staff_client, voter, caplog):
    caplog.set_level(logging.DEBUG)

    get = staff_client.get(consent_url(voter))
    staff_client.post(consent_url(voter), {"channel": "sms", "kind": "opt_out"})

    assert get.status_code == 405
    assert "5550101" not in consent_url(voter)
    assert "5550101" not in caplog.text
