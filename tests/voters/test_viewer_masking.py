"""Viewers see no phones or emails anywhere: rejected rows (raw line and reasons) are masked for
them, and the voter search does not look numbers up for them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaign.lib.masking import mask_contact_details
from tests.factories import ImportRunFactory, VoterFactory
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
