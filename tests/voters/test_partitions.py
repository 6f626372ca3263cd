"""Voters partitioned by campaign (PostgreSQL): a first import fills and attaches the campaign's
own partition; everything else about the import stays as it was."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, connections, transaction

from tests.factories import CampaignFactory, ContactAttemptFactory, VoterFactory
from voters import partitions
from voters.importers import ImportFailed
from voters.models import ContactAttempt, RejectedRow, Voter
from voters.services import import_voter_file

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions are PostgreSQL's"
)

HEADER = "voter_id,first_name,last_name,birth_date,party,status,address,city,zip,phone"
LINES = [
    "A1,Ann,Lee,1980-02-03,DEM,A,12 Oak St,Durham,27701,919-555-0101",
    "A2,Bob,Lee,1979-07-30,REP,A,12 Oak St,Durham,27701,",
    "A3,Cy,Diaz,2001-12-01,UNA,A,5 Elm Ave Apt 2,Durham,27705,(919) 555-0103",
]
# The parent's indexes, each of which a campaign's partition must carry.
PARENT_INDEXES = {
    "voters_voter_pkey", "uniq_voter_id", "voter_phone", "voter_precinct",
    "voter_last_name_prefix", "voters_voter_household_id_457208b4",
}  # fmt: skip


VOTERS_DEFAULT = partitions.default_partition(partitions.VOTERS)
HOUSEHOLDS_DEFAULT = partitions.default_partition(partitions.HOUSEHOLDS)


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def rows_in(table: str, campaign_id: int | None = None) -> int:
    with connection.cursor() as cursor:
        if campaign_id is None:
            cursor.execute(f"SELECT count(*) FROM {table}")
        else:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE campaign_id = %s", [campaign_id])
        return cursor.fetchone()[0]


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return cursor.fetchone()[0]


def parent_indexes_of(table: str) -> set[str]:
    """The parent indexes that the table's indexes are attached to."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT parent.relname FROM pg_index i
               JOIN pg_inherits h ON h.inhrelid = i.indexrelid
               JOIN pg_class parent ON parent.oid = h.inhparent
               WHERE i.indrelid = %s::regclass""",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_first_import_fills_and_attaches_the_campaigns_own_partition(
    campaign, other_campaign, tmp_path
):
    VoterFactory.create_batch(2, campaign=other_campaign)
    households_elsewhere = rows_in(HOUSEHOLDS_DEFAULT)
    own = partitions.partition_name(partitions.VOTERS, campaign.pk)
    assert not exists(own)

    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v.csv", LINES)])

    assert run.created == 3
    assert rows_in(own) == 3
    assert rows_in(own, campaign.pk) == 3
    assert rows_in(VOTERS_DEFAULT) == 2  # the other campaign's, untouched
    assert rows_in(VOTERS_DEFAULT, campaign.pk) == 0
    assert parent_indexes_of(own) == PARENT_INDEXES
    own_households = partitions.partition_name(partitions.HOUSEHOLDS, campaign.pk)
    assert run.households_created == 2
    assert rows_in(own_households) == 2
    assert rows_in(HOUSEHOLDS_DEFAULT) == households_elsewhere
    assert parent_indexes_of(own_households) == {"voters_household_pkey", "uniq_household_address"}
    # Every voter points at a household of the campaign's own partition, by address.
    assert not Voter.objects.filter(campaign=campaign, household__isnull=True).exists()
    members = Voter.objects.filter(campaign=campaign).select_related("household")
    assert sorted((v.address_key, v.household.address_key) for v in members) == [
        ("12|OAK ST||27701", "12|OAK ST||27701"),
        ("12|OAK ST||27701", "12|OAK ST||27701"),
        ("5|ELM AVE|#2|27705", "5|ELM AVE|#2|27705"),
    ]
    assert "attach_partition" in run.timings
    assert set(Voter.objects.filter(campaign=campaign).values_list("voter_id", flat=True)) == {
        "A1", "A2", "A3",
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM voters_voter_id_seq")
        last_id = cursor.fetchone()[0]
    assert max(Voter.objects.values_list("id", flat=True)) == last_id


def test_a_reimport_writes_into_the_partition_it_made(campaign, tmp_path):
    import_voter_file(campaign=campaign, paths=[write(tmp_path, "v1.csv", LINES)])
    lines = [LINES[0].replace("Ann", "Anne"), *LINES[1:], "A4,Di,Ng,1950-05-05,DEM,I,,,,"]

    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v2.csv", lines)])

    assert (run.created, run.updated, run.unchanged) == (1, 1, 2)
    assert "attach_partition" not in run.timings
    assert rows_in(partitions.partition_name(partitions.VOTERS, campaign.pk)) == 4
    assert rows_in(VOTERS_DEFAULT, campaign.pk) == 0
    assert Voter.objects.get(campaign=campaign, voter_id="A1").first_name == "Anne"


def test_a_campaign_with_voters_in_the_default_partition_keeps_them_there(campaign, tmp_path):
    VoterFactory(campaign=campaign, voter_id="A1", first_name="Old")

    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v.csv", LINES)])

    assert (run.created, run.updated) == (2, 1)
    assert not exists(partitions.partition_name(partitions.VOTERS, campaign.pk))
    assert rows_in(VOTERS_DEFAULT, campaign.pk) == 3


def test_a_failed_first_import_leaves_no_partition_behind(campaign, tmp_path):
    lines = [*LINES, "A9,Bad,Date,1980-13-45,DEM,A,1 Main St,Durham,27701,"]

    with pytest.raises(ImportFailed):
        import_voter_file(campaign=campaign, paths=[write(tmp_path, "v.csv", lines)])

    assert not exists(partitions.partition_name(partitions.VOTERS, campaign.pk))
    assert Voter.objects.filter(campaign=campaign).count() == 0


def test_history_rows_must_belong_to_their_voters_campaign(campaign, other_campaign):
    voter = VoterFactory(campaign=campaign)
    ContactAttemptFactory(voter=voter)  # the same campaign: accepted

    with transaction.atomic():
        ContactAttemptFactory(voter=voter, campaign=other_campaign)
        with pytest.raises(IntegrityError):
            connection.check_constraints()
        transaction.set_rollback(True)

    assert ContactAttempt.objects.filter(voter=voter).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_first_imports_at_once_both_land(tmp_path):
    """Attaching locks the default partition, which both imports read: they take turns."""
    campaigns = [CampaignFactory(slug=f"c{n}", state="NC") for n in range(2)]
    paths = [write(tmp_path, f"v{n}.csv", LINES) for n in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run_import(n: int) -> None:
        try:
            start.wait()
            import_voter_file(campaign=campaigns[n], paths=[paths[n]])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_import, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    for campaign in campaigns:
        assert rows_in(partitions.partition_name(partitions.VOTERS, campaign.pk)) == 3


@pytest.mark.django_db(transaction=True)
def test_a_first_import_waits_for_a_contact_write_in_flight_instead_of_deadlocking(tmp_path):
    """A transaction that wrote contact history checks its voter keys at commit, against the
    default partition that attaching locks; attaching waits for it (its locks come first)."""
    campaign = CampaignFactory(slug="new", state="NC")
    other = CampaignFactory(slug="old", state="NC")
    voter = VoterFactory(campaign=other)  # in the default partition
    path = write(tmp_path, "v.csv", LINES)
    written = threading.Event()
    errors: list[BaseException] = []

    def write_contact_then_commit_late() -> None:
        try:
            with transaction.atomic():
                ContactAttemptFactory(voter=voter)
                written.set()
                time.sleep(3)  # longer than one attach attempt waits for its locks
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            written.set()
        finally:
            connections.close_all()

    writer = threading.Thread(target=write_contact_then_commit_late)
    writer.start()
    assert written.wait(timeout=30)
    run = import_voter_file(campaign=campaign, paths=[path])
    writer.join(timeout=60)

    assert errors == []
    assert run.created == 3
    assert rows_in(partitions.partition_name(partitions.VOTERS, campaign.pk)) == 3
    assert ContactAttempt.objects.filter(voter=voter).count() == 1


def test_a_first_import_reports_duplicate_ids_and_keeps_each_first_line(campaign, tmp_path):
    lines = [*LINES, "A1,Ann,Again,1980-02-03,DEM,A,7 Birch Ln,Durham,27701,"]

    run = import_voter_file(
        campaign=campaign, paths=[write(tmp_path, "v.csv", lines)], mode="quarantine"
    )

    assert (run.created, run.rejected, run.households_created) == (3, 1, 2)
    assert rows_in(partitions.partition_name(partitions.VOTERS, campaign.pk)) == 3
    assert Voter.objects.get(campaign=campaign, voter_id="A1").last_name == "Lee"
    rejected = RejectedRow.objects.get(import_run=run)
    assert rejected.line_number == 5
    assert rejected.errors == [
        {"field": "voter_id", "reason": "duplicate voter_id (first seen on line 2)"}
    ]


def test_a_first_imports_households_span_batches_in_first_line_order(campaign, tmp_path):
    lines = [*LINES, "A4,Di,Lee,1950-05-05,DEM,A,12 Oak St,Durham,27701,"]

    # One line a batch: the members of 12 Oak St arrive three batches apart.
    run = import_voter_file(
        campaign=campaign, paths=[write(tmp_path, "v.csv", lines)], batch_rows=1
    )

    assert (run.created, run.households_created) == (4, 2)
    household = dict(Voter.objects.filter(campaign=campaign).values_list("voter_id", "household"))
    assert household["A1"] == household["A2"] == household["A4"] < household["A3"]
