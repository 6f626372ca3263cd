"""The audited voter export as a service (`voters.exports.export_voters`), without a request."""

from __future__ import annotations

import pytest

from campaign.models import AuditEvent
from tests.factories import UserFactory, VoterFactory
from voters.exports import export_voters
from voters.models import Voter

pytestmark = pytest.mark.django_db


def test_export_audits_each_campaign_and_writes_its_voters(campaign, other_campaign):
    user = UserFactory(username="exporter")
    VoterFactory(campaign=campaign, voter_id="A1", last_name="=HYPERLINK()", phone="+19195550100")
    VoterFactory(campaign=other_campaign, voter_id="B1", last_name="Baker", phone="")

    lines = export_voters(
        queryset=Voter.objects.all(), user=user, client_ip="10.0.0.1",
        contact_campaign_ids=[campaign.pk, other_campaign.pk],
    )  # fmt: skip
    rows = [line.rstrip("\r\n").split(",") for line in lines]

    assert rows[0][:4] == ["voter_id", "first_name", "middle_name", "last_name"]
    assert rows[0][-2:] == ["phone", "email"]
    assert [(r[0], r[3], r[-2]) for r in rows[1:]] == [
        ("A1", "'=HYPERLINK()", "+19195550100"),
        ("B1", "Baker", ""),
    ]
    events = AuditEvent.objects.order_by("campaign_id")
    assert [(e.campaign_id, e.row_count, e.client_ip, e.detail) for e in events] == [
        (campaign.pk, 1, "10.0.0.1", {"format": "csv", "with_contact": True}),
        (other_campaign.pk, 1, "10.0.0.1", {"format": "csv", "with_contact": True}),
    ]


def test_export_leaves_out_phones_unless_every_campaign_allows_them(campaign, other_campaign):
    VoterFactory(campaign=campaign)
    VoterFactory(campaign=other_campaign)

    lines = export_voters(
        queryset=Voter.objects.all(), user=UserFactory(), client_ip=None,
        contact_campaign_ids=[campaign.pk],
    )  # fmt: skip
    header = next(iter(lines))

    assert "phone" not in header
    assert "email" not in header
    assert [e.detail for e in AuditEvent.objects.order_by("campaign_id")] == [
        {"format": "csv", "with_contact": False},
        {"format": "csv", "with_contact": False},
    ]


def test_an_empty_selection_exports_and_audits_nothing(campaign):
    lines = export_voters(
        queryset=Voter.objects.none(), user=UserFactory(), client_ip=None, contact_campaign_ids=None
    )

    assert lines is None
    assert AuditEvent.objects.count() == 0
