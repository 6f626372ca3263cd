"""Viewers see no phones or emails anywhere: rejected rows (raw line and reasons) are masked for
them, and the voter search does not look numbers up for them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaign.lib.masking import mask_contact_details
from tests.factories import (
    ConsentEventFactory,
    ContactAttemptFactory,
    ImportRunFactory,
    VoterFactory,
)
from voters.models import RejectedRow

pytestmark = pytest.mark.django_db

RAW = "A1,Ann,Lee,12 Oak St,Durham,27701-1234,(919) 555-0101,ann.lee@example.org,2024-10-05"
MASKED_RAW = "A1,Ann,Lee,12 Oak St,Durham,27701-1234,[phone],[email],2024-10-05"
ERRORS = [
    {"field": "email", "reason": "not an email 'ann.lee@example'"},
    {"field": "phone", "reason": "unreadable phone '+1 919 555 01'"},
]
REASONS = "email: not an email 'ann.lee@example'; phone: unreadable phone '+1 919 555 01'"
MASKED_REASONS = "email: not an email '[email]'; phone: unreadable phone '[phone]'"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (RAW, MASKED_RAW),
        (REASONS, MASKED_REASONS),
        ("+19195550101", "[phone]"),
        ("call 919.555.0101 or 555-0101", "call [phone] or [phone]"),
        ("2024-10-06T09:30:00-04:00,sms,opted_out,VAN 101", "2024-10-06T09:30:00-04:00,sms,"
         "opted_out,VAN 101"),
        ("born 10/05/1980, precinct 12-3", "born 10/05/1980, precinct 12-3"),
    ],
)  # fmt: skip
def test_phones_and_emails_are_masked_and_dates_are_not(text, masked):
    assert mask_contact_details(text) == masked


@pytest.fixture
def rejected(campaign) -> RejectedRow:
    run = ImportRunFactory(campaign=campaign, status="succeeded", rejected=1)
    return RejectedRow.objects.create(
        import_run=run, file_name="voters.csv", line_number=3, raw=RAW, errors=ERRORS
    )


def _pages(client, row: RejectedRow) -> list[str]:
    urls = [
        reverse("admin:voters_importrun_change", args=[row.import_run_id]),
        reverse("admin:voters_rejectedrow_changelist"),
        reverse("admin:voters_rejectedrow_change", args=[row.pk]),
    ]
    responses = [client.get(url) for url in urls]
    assert [r.status_code for r in responses] == [200, 200, 200]
    return [r.content.decode() for r in responses]


def test_a_viewer_reads_rejected_rows_with_phones_and_emails_masked(
    client, campaign, make_member, rejected
):
    client.force_login(make_member(campaign, "viewer"))

    for html in _pages(client, rejected):
        assert "555-0101" not in html
        assert "555 01" not in html
        assert "ann.lee@example" not in html
        assert "[phone]" in html
        assert "[email]" in html
        assert "27701-1234" in html  # the rest of the line is still there to fix the file by
    rejected.refresh_from_db()
    assert (rejected.raw, rejected.errors) == (RAW, ERRORS)  # masked when shown, never stored


def test_staff_read_rejected_rows_as_the_file_had_them(client, campaign, make_member, rejected):
    client.force_login(make_member(campaign, "staff"))

    for html in _pages(client, rejected):
        assert "(919) 555-0101" in html
        assert "ann.lee@example.org" in html or "ann.lee@example&#x27;" in html
        assert "[phone]" not in html


def test_a_viewer_cannot_find_a_voter_by_phone(client, campaign, make_member):
    voter = VoterFactory(campaign=campaign, last_name="Jones", phone="+19195550123")
    client.force_login(make_member(campaign, "viewer"))

    by_phone = client.get(reverse("admin:voters_voter_changelist"), {"q": "(919) 555-0123"},
                          follow=True)  # fmt: skip
    by_name = client.get(reverse("admin:voters_voter_changelist"), {"q": "jones"}, follow=True)

    assert list(by_phone.context["cl"].result_list) == []
    assert "phone" not in by_phone.context["cl"].search_help_text
    assert [v.pk for v in by_name.context["cl"].result_list] == [voter.pk]


def test_staff_still_find_a_voter_by_phone(client, campaign, make_member):
    voter = VoterFactory(campaign=campaign, last_name="Jones", phone="+19195550123")
    client.force_login(make_member(campaign, "staff"))

    response = client.get(reverse("admin:voters_voter_changelist"), {"q": "(919) 555-0123"},
                          follow=True)  # fmt: skip

    assert [v.pk for v in response.context["cl"].result_list] == [voter.pk]
    assert "phone" in response.context["cl"].search_help_text


NOTE = "asked us to call 919-555-0177 or mail pat@example.org instead"
MASKED_NOTE = "asked us to call [phone] or mail [email] instead"


@pytest.fixture
def noted(campaign, other_campaign):
    voter = VoterFactory(campaign=campaign, phone="+19195550101")
    contact = ContactAttemptFactory(campaign=campaign, voter=voter, note=NOTE)
    ConsentEventFactory(
        campaign=campaign, voter=voter, channel="sms", address="+19195550101",
        reason="texted STOP from 919-555-0188",
    )  # fmt: skip
    # Same words in another campaign, which no one here may see at all.
    ContactAttemptFactory(
        campaign=other_campaign, voter=VoterFactory(campaign=other_campaign), note=NOTE
    )
    return voter, contact


def test_a_viewer_reads_contact_notes_and_the_timeline_masked(
    client, api_client, campaign, make_member, noted
):
    voter, contact = noted
    viewer = make_member(campaign, "viewer")
    client.force_login(viewer)
    api_client.force_authenticate(viewer)

    contact_page = client.get(reverse("admin:voters_contactattempt_change", args=[contact.pk]))
    voter_page = client.get(reverse("admin:voters_voter_change", args=[voter.pk]))
    listed = api_client.get("/api/v1/contacts").json()["results"]

    for page in (contact_page, voter_page):
        html = page.content.decode()
        assert page.status_code == 200
        assert "555-01" not in html
        assert "pat@example.org" not in html
    assert MASKED_NOTE in contact_page.content.decode()
    assert "texted STOP from [phone]" in voter_page.content.decode()
    assert [(c["id"], c["note"]) for c in listed] == [(contact.pk, MASKED_NOTE)]
    contact.refresh_from_db()
    assert contact.note == NOTE


def test_staff_read_contact_notes_as_written(client, api_client, campaign, make_member, noted):
    voter, contact = noted
    staff = make_member(campaign, "staff")
    client.force_login(staff)
    api_client.force_authenticate(staff)

    contact_page = client.get(reverse("admin:voters_contactattempt_change", args=[contact.pk]))
    voter_page = client.get(reverse("admin:voters_voter_change", args=[voter.pk]))
    listed = api_client.get("/api/v1/contacts").json()["results"]

    assert "919-555-0177" in contact_page.content.decode()
    assert "texted STOP from 919-555-0188" in voter_page.content.decode()
    assert [(c["id"], c["note"]) for c in listed] == [(contact.pk, NOTE)]
