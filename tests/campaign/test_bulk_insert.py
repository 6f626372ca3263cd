"""campaign.lib.bulk_insert.insert_rows: many rows in one statement, typed as their columns."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from campaign.lib.bulk_insert import insert_rows
from tests.factories import VoterFactory
from voters.models import ContactAttempt, Voter

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 12, 7, 15, 0, 0, 123456, tzinfo=dt.UTC)
COLUMNS = ("campaign_id", "voter_id", "channel", "occurred_at", "result", "variant", "source",
           "note", "dedupe_key", "created_at")  # fmt: skip


def row(voter, key: str, note: str = "", variant: str | None = None) -> tuple:
    return (voter.campaign_id, voter.pk, "sms", AT, "delivered", variant, "vendor_api", note, key,
            AT)  # fmt: skip


def test_rows_go_in_as_one_statement_with_their_exact_values(campaign):
    ann, bob = VoterFactory.create_batch(2, campaign=campaign)

    with CaptureQueriesContext(connection) as queries:
        written = insert_rows(
            ContactAttempt, COLUMNS, [row(ann, "k1", "first", "remind"), row(bob, "k2", "ünï")]
        )

    assert written == 2
    assert len(queries) == 1
    assert "unnest" in queries[0]["sql"]
    stored = ContactAttempt.objects.order_by("dedupe_key").values_list(
        "voter_id", "occurred_at", "variant", "note", "dedupe_key", "created_at", "program_id"
    )
    assert list(stored) == [
        (ann.pk, AT, "remind", "first", "k1", AT, None),
        (bob.pk, AT, None, "ünï", "k2", AT, None),
    ]


def test_a_conflicting_row_is_skipped_when_asked_and_the_one_on_record_stands(campaign):
    voter = VoterFactory(campaign=campaign)
    insert_rows(ContactAttempt, COLUMNS, [row(voter, "k1", "on record")])

    written = insert_rows(
        ContactAttempt,
        COLUMNS,
        [row(voter, "k1", "again"), row(voter, "k2", "new")],
        ignore_conflicts=True,
    )

    assert written == 1
    assert dict(ContactAttempt.objects.values_list("dedupe_key", "note")) == {
        "k1": "on record",
        "k2": "new",
    }


def test_a_conflict_not_ignored_fails_the_whole_statement_and_writes_nothing(campaign):
    voter = VoterFactory(campaign=campaign)
    insert_rows(ContactAttempt, COLUMNS, [row(voter, "k1")])

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(ContactAttempt, COLUMNS, [row(voter, "k2"), row(voter, "k1")])

    assert list(ContactAttempt.objects.values_list("dedupe_key", flat=True)) == ["k1"]


def test_nothing_to_insert_runs_no_query(campaign):
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows(ContactAttempt, COLUMNS, []) == 0
    assert len(queries) == 0


def test_a_json_column_or_a_name_that_is_no_column_is_refused_before_anything_runs(campaign):
    voter = VoterFactory(campaign=campaign)
    with pytest.raises(ValueError, match="JSON"):
        insert_rows(Voter, ("campaign_id", "extra"), [(voter.campaign_id, {})])
    with pytest.raises(ValueError, match="not a column"):
        insert_rows(Voter, ("campaign_id", "contact_attempts"), [(voter.campaign_id, None)])
    assert Voter.objects.count() == 1
