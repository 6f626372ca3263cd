"""The import runs' list and a run's page: what fits a laptop, and only the counts of its kind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.utils import flatten_fieldsets
from django.urls import reverse

from campaign.models import Role
from tests.factories import ImportRunFactory
from voters.models import ImportKind

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:voters_importrun_changelist")
VOTER_FILE_ONLY = {"is_full", "updated_count", "unchanged_count", "removed_count",
                   "invalid_phones_count", "households_created_count"}  # fmt: skip
HISTORY_ONLY = {"orphaned_count", "duplicates_count", "elections_created_count"}


def fields_on_page(client, run) -> set[str]:
    response = client.get(reverse("admin:voters_importrun_change", args=[run.pk]))
    assert response.status_code == 200
    return set(flatten_fieldsets(response.context["adminform"].fieldsets))


def test_import_run_list_puts_status_and_counts_first_and_the_campaign_last(staff_client, campaign):
    response = staff_client.get(RUNS)

    admin = response.context["cl"].model_admin
    assert admin.get_list_display(response.wsgi_request) == (
        "run", "status_badge", "kind", "rows_read_shown", "changes", "rejected_shown", "started",
        "campaign_name",
    )  # fmt: skip


def test_import_run_list_counts_have_thousands_separators(staff_client, campaign):
    ImportRunFactory(
        campaign=campaign, rows_read=1234567, created=1200000, updated=34000, removed=5,
        rejected=1234, started_at=dt.datetime(2026, 12, 6, 16, 30, tzinfo=dt.UTC),
    )  # fmt: skip
    ImportRunFactory(
        campaign=campaign, kind=ImportKind.HISTORY, rows_read=2500000, created=2400000,
        duplicates=99000, orphaned=1000,
    )  # fmt: skip

    html = staff_client.get(RUNS).content.decode()

    assert '<td class="field-rows_read_shown">1,234,567</td>' in html
    assert '<td class="field-rejected_shown">1,234</td>' in html
    # Without Django's nowrap class, which keeps a date field's column on one line.
    assert '<td class="field-started">2026-12-06 11:30 EST</td>' in html
    assert "1,200,000 new, 34,000 updated, 5 removed" in html
    assert "2,400,000 votes added, 99,000 on record, 1,000 unknown voters" in html


def test_voter_file_run_page_omits_history_only_fields(staff_client, campaign):
    run = ImportRunFactory(campaign=campaign, kind=ImportKind.VOTERS)

    fields = fields_on_page(staff_client, run)

    assert fields >= VOTER_FILE_ONLY
    assert fields & HISTORY_ONLY == set()


def test_history_run_page_omits_voter_file_only_fields(staff_client, campaign):
    run = ImportRunFactory(campaign=campaign, kind=ImportKind.HISTORY)

    fields = fields_on_page(staff_client, run)

    assert fields >= HISTORY_ONLY
    assert fields & VOTER_FILE_ONLY == set()
    assert {"rows_read_count", "created_count", "rejected_count", "summary"} <= fields
    assert "rejected_rows_table" in fields


@pytest.mark.parametrize("kind", [ImportKind.CONTACTS, ImportKind.ASSIGNMENTS])
def test_contact_and_assignment_run_pages_omit_voter_file_and_election_fields(
    staff_client, campaign, kind
):
    run = ImportRunFactory(campaign=campaign, kind=kind)

    fields = fields_on_page(staff_client, run)

    assert {"rows_read_count", "created_count", "duplicates_count", "orphaned_count"} <= fields
    assert "rejected_count" in fields
    assert fields & (VOTER_FILE_ONLY | {"elections_created"}) == set()


def test_viewer_reads_a_history_run_with_masked_rejected_rows(client, campaign, make_member):
    client.force_login(make_member(campaign, Role.VIEWER))
    run = ImportRunFactory(campaign=campaign, kind=ImportKind.HISTORY)

    fields = fields_on_page(client, run)

    assert "rejected_rows_masked" in fields
    assert "rejected_rows_table" not in fields
    assert fields & VOTER_FILE_ONLY == set()


def test_run_page_shows_counts_with_separators_and_the_help_of_its_kinds_counts(
    staff_client, campaign
):
    run = ImportRunFactory(
        campaign=campaign, kind=ImportKind.HISTORY, rows_read=124485, created=124251,
        orphaned=234,
    )  # fmt: skip

    html = staff_client.get(reverse("admin:voters_importrun_change", args=[run.pk])).text

    assert '<div class="readonly">124,485</div>' in html
    assert '<div class="readonly">124,251</div>' in html
    assert "Orphaned: History rows whose voter is not in this campaign." in html
    assert "Invalid phones:" not in html
