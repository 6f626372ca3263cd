"""Voter and history imports on the real database: counts equal the delta, nothing half-done."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import polars as pl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from campaign.models import Election
from tests.factories import VoterFactory
from voters.importers import ImportFailed, StagingTable, _parse_ahead
from voters.layouts import ParsedBatch
from voters.models import Household, ImportRun, RejectedRow, Voter, VoteRecord
from voters.services import import_vote_history, import_voter_file

VOTER_HEADER = "voter_id,first_name,last_name,birth_date,party,status,address,city,zip,phone"
VOTERS = [
    "A1,Ann,Lee,1980-02-03,DEM,A,12 Oak St,Durham,27701,919-555-0101",
    "A2,Bob,Lee,1979-07-30,REP,A,12 Oak St,Durham,27701,",
    "A3,Cy,Diaz,2001-12-01,UNA,A,5 Elm Ave Apt 2,Durham,27705,(919) 555-0103",
    "A4,Di,Ng,1950-05-05,DEM,I,5 Elm Ave Apt 3,Durham,27705,9999999999",
]


def write(tmp_path: Path, name: str, header: str, rows: list[str], newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_text(newline.join([header, *rows]) + newline, encoding="utf-8")
    return path


def snapshot(campaign) -> list[tuple]:
    """Everything an import may change, without ids or timestamps."""
    return list(
        Voter.objects.filter(campaign=campaign)
        .order_by("voter_id")
        .values_list(
            "voter_id", "first_name", "last_name", "party", "status", "phone",
            "household__address_key", "removed_at",
        )
    )  # fmt: skip


@pytest.fixture
def voter_file(tmp_path):
    return write(tmp_path, "voters.csv", VOTER_HEADER, VOTERS)


def test_first_import_creates_voters_and_households(campaign, voter_file):
    run = import_voter_file(campaign=campaign, paths=[voter_file])

    assert (run.status, run.rows_read, run.created, run.updated, run.unchanged) == (
        "succeeded", 4, 4, 0, 0,
    )  # fmt: skip
    assert Voter.objects.filter(campaign=campaign).count() == 4
    assert run.households_created == 3 == Household.objects.filter(campaign=campaign).count()
    ann, bob = Voter.objects.get(voter_id="A1"), Voter.objects.get(voter_id="A2")
    assert ann.household_id == bob.household_id
    assert ann.phone == "+19195550101"
    assert ann.birth_date == dt.date(1980, 2, 3)
    assert (ann.party, ann.party_raw, ann.status, ann.status_raw) == ("dem", "DEM", "active", "A")
    assert Voter.objects.get(voter_id="A4").phone is None  # the all-nines placeholder
    assert run.invalid_phones == 0  # a placeholder is empty, not invalid


def test_reimport_of_the_same_file_writes_nothing(campaign, voter_file):
    import_voter_file(campaign=campaign, paths=[voter_file])
    stamps = dict(Voter.objects.values_list("voter_id", "updated_at"))

    run = import_voter_file(campaign=campaign, paths=[voter_file])

    assert (run.created, run.updated, run.unchanged, run.removed) == (0, 0, 4, 0)
    assert dict(Voter.objects.values_list("voter_id", "updated_at")) == stamps
    assert Household.objects.count() == 3


def test_reimport_counts_equal_the_database_delta(campaign, voter_file, tmp_path):
    import_voter_file(campaign=campaign, paths=[voter_file])
    before = {row[0]: row for row in snapshot(campaign)}
    changed = [
        VOTERS[0].replace("DEM", "REP"),  # changed party
        VOTERS[1],
        VOTERS[2].replace("5 Elm Ave Apt 2", "77 Pine Rd"),  # moved
        VOTERS[3],
        "A5,Eve,Ray,1990-01-01,DEM,A,1 New Ln,Durham,27701,",  # new
    ]
    second = write(tmp_path, "voters2.csv", VOTER_HEADER, changed)

    run = import_voter_file(campaign=campaign, paths=[second])

    after = {row[0]: row for row in snapshot(campaign)}
    changed_ids = {k for k in before if before[k] != after[k]}
    assert changed_ids == {"A1", "A3"}
    assert set(after) - set(before) == {"A5"}
    assert (run.created, run.updated, run.unchanged) == (1, len(changed_ids), 2)


def test_voter_household_follows_the_address(campaign, voter_file, tmp_path):
    import_voter_file(campaign=campaign, paths=[voter_file])
    old_household = Voter.objects.get(voter_id="A3").household

    moved = write(tmp_path, "moved.csv", VOTER_HEADER, [VOTERS[2].replace("Apt 2", "Apt 3")])
    import_voter_file(campaign=campaign, paths=[moved])

    cy, di = Voter.objects.get(voter_id="A3"), Voter.objects.get(voter_id="A4")
    assert cy.household_id == di.household_id != old_household.pk


def test_full_reimport_marks_absent_voters_removed_and_keeps_their_history(
    campaign, voter_file, tmp_path
):
    import_voter_file(campaign=campaign, paths=[voter_file])
    election = Election.objects.create(
        campaign=campaign, election_on=dt.date(2022, 11, 8), election_type="general"
    )
    gone = Voter.objects.get(voter_id="A4")
    VoteRecord.objects.create(campaign=campaign, voter=gone, election=election)
    partial = write(tmp_path, "partial.csv", VOTER_HEADER, VOTERS[:3])

    run = import_voter_file(campaign=campaign, paths=[partial], full=True)

    gone.refresh_from_db()
    assert (run.removed, run.unchanged, run.created, run.updated) == (1, 3, 0, 0)
    assert (gone.status, gone.status_raw) == ("removed", "I")
    assert gone.removed_at is not None
    assert Voter.objects.filter(campaign=campaign).count() == 4
    assert VoteRecord.objects.filter(voter=gone).count() == 1

    again = import_voter_file(campaign=campaign, paths=[partial], full=True)
    assert (again.removed, again.unchanged) == (0, 3)  # already removed: not counted twice


def test_a_removed_voter_listed_again_gets_the_file_status_back(campaign, voter_file, tmp_path):
    partial = write(tmp_path, "partial.csv", VOTER_HEADER, VOTERS[:3])
    import_voter_file(campaign=campaign, paths=[voter_file])
    import_voter_file(campaign=campaign, paths=[partial], full=True)

    run = import_voter_file(campaign=campaign, paths=[voter_file], full=True)

    back = Voter.objects.get(voter_id="A4")
    assert (run.updated, run.unchanged, run.removed) == (1, 3, 0)
    assert (back.status, back.status_raw, back.removed_at) == ("inactive", "I", None)


def test_a_reimport_never_touches_vote_history(campaign, voter_file, tmp_path):
    import_voter_file(campaign=campaign, paths=[voter_file])
    history = write(
        tmp_path,
        "history.csv",
        "voter_id,election_date,election_type,method",
        ["A1,2022-11-08,general,early", "A2,2022-11-08,general,polls"],
    )
    import_vote_history(campaign=campaign, paths=[history])
    records = list(VoteRecord.objects.order_by("pk").values())
    changed = write(tmp_path, "v2.csv", VOTER_HEADER, [VOTERS[0].replace("Ann", "Anne")])

    import_voter_file(campaign=campaign, paths=[changed], full=True)

    assert list(VoteRecord.objects.order_by("pk").values()) == records


def test_imports_are_scoped_to_their_campaign(campaign, other_campaign, voter_file):
    VoterFactory(campaign=other_campaign, voter_id="A1", first_name="Other", last_name="Person")

    import_voter_file(campaign=campaign, paths=[voter_file], full=True)

    other = Voter.objects.get(campaign=other_campaign)
    assert (other.first_name, other.status) == ("Other", "active")
    assert Voter.objects.filter(campaign=other_campaign).count() == 1


BAD_ROWS = [
    VOTERS[0],
    ",No,Id,1980-01-01,DEM,A,1 A St,Durham,27701,",  # line 3: missing voter id
    "B2,Bad,Date,1980-13-45,DEM,A,1 A St,Durham,27701,",  # line 4: impossible date
    VOTERS[1],
    "B3,Too,Few,1980-01-01",  # line 6: wrong field count
]


def test_strict_import_with_bad_rows_commits_nothing_and_lists_every_bad_line(
    campaign, voter_file, tmp_path
):
    import_voter_file(campaign=campaign, paths=[voter_file])
    before = snapshot(campaign)
    bad = write(tmp_path, "bad.csv", VOTER_HEADER, BAD_ROWS)

    with pytest.raises(ImportFailed) as failure:
        import_voter_file(campaign=campaign, paths=[bad])

    assert [(r.line_number, r.errors[0].field) for r in failure.value.rejects] == [
        (3, "voter_id"), (4, "birth_date"), (6, "line"),
    ]  # fmt: skip
    assert snapshot(campaign) == before
    run = ImportRun.objects.latest("pk")
    assert run.status == "failed"
    assert "3 bad rows" in run.error
    assert list(run.rejected_rows.values_list("line_number", flat=True)) == [3, 4, 6]


def test_quarantine_import_commits_good_rows_and_keeps_bad_ones(campaign, tmp_path):
    bad = write(tmp_path, "bad.csv", VOTER_HEADER, BAD_ROWS)

    run = import_voter_file(campaign=campaign, paths=[bad], mode="quarantine")

    assert (run.status, run.rows_read, run.created, run.rejected) == ("succeeded", 5, 2, 3)
    assert sorted(Voter.objects.values_list("voter_id", flat=True)) == ["A1", "A2"]
    rows = list(RejectedRow.objects.filter(import_run=run).order_by("line_number"))
    assert [r.line_number for r in rows] == [3, 4, 6]
    assert rows[0].raw == BAD_ROWS[1]
    assert rows[0].file_name == "bad.csv"


def test_duplicate_voter_ids_keep_the_first_line(campaign, tmp_path):
    dup = write(tmp_path, "dup.csv", VOTER_HEADER, [*VOTERS, VOTERS[1].replace("Bob", "Rob")])

    run = import_voter_file(campaign=campaign, paths=[dup], mode="quarantine")

    assert (run.created, run.rejected) == (4, 1)
    assert Voter.objects.get(voter_id="A2").first_name == "Bob"
    reject = RejectedRow.objects.get(import_run=run)
    assert reject.line_number == 6
    assert reject.errors == [
        {"field": "voter_id", "reason": "duplicate voter_id (first seen on line 3)"}
    ]

    with pytest.raises(ImportFailed):
        import_voter_file(campaign=campaign, paths=[dup], mode="strict")
    assert Voter.objects.get(voter_id="A2").first_name == "Bob"


def test_several_files_import_as_one(campaign, tmp_path):
    first = write(tmp_path, "county1.csv", VOTER_HEADER, VOTERS[:2])
    second = write(tmp_path, "county2.csv", VOTER_HEADER, VOTERS[2:])

    run = import_voter_file(campaign=campaign, paths=[first, second], full=True)

    assert (run.created, run.removed, run.file_names) == (4, 0, ["county1.csv", "county2.csv"])


HISTORY_HEADER = "voter_id,election_date,election_type,method,party,voted"


def test_history_import_counts_orphans_and_is_idempotent(campaign, voter_file, tmp_path):
    import_voter_file(campaign=campaign, paths=[voter_file])
    history = write(
        tmp_path,
        "history.csv",
        HISTORY_HEADER,
        [
            "A1,2022-11-08,general,early,,yes",
            "A2,11/08/2022,general,polls,,yes",
            "A3,2022-05-17,primary,mail,DEM,yes",
            "A4,2022-11-08,general,,,no",
            "ZZ9,2022-11-08,general,polls,,yes",  # not in the voter file
            "A1,2022-11-08,general,polls,,yes",  # the same vote twice in one file
        ],
    )

    run = import_vote_history(campaign=campaign, paths=[history])

    assert (run.rows_read, run.created, run.orphaned, run.duplicates) == (6, 4, 1, 1)
    assert run.elections_created == 2
    general = Election.objects.get(campaign=campaign, election_on=dt.date(2022, 11, 8))
    ann = VoteRecord.objects.get(voter__voter_id="A1", election=general)
    assert (ann.method, ann.voted) == ("early", True)  # the first line wins
    assert VoteRecord.objects.get(voter__voter_id="A4").voted is False

    again = import_vote_history(campaign=campaign, paths=[history])
    assert (again.created, again.orphaned, again.duplicates, again.elections_created) == (
        0,
        1,
        5,
        0,
    )
    assert VoteRecord.objects.filter(campaign=campaign).count() == 4


def test_history_strict_mode_rejects_unknown_election_types(campaign, voter_file, tmp_path):
    import_voter_file(campaign=campaign, paths=[voter_file])
    history = write(
        tmp_path,
        "history.csv",
        HISTORY_HEADER,
        ["A1,2022-11-08,general,early,,yes", "A2,2022-11-08,coronation,polls,,yes"],
    )

    with pytest.raises(ImportFailed) as failure:
        import_vote_history(campaign=campaign, paths=[history])

    assert [r.line_number for r in failure.value.rejects] == [3]
    assert VoteRecord.objects.count() == 0
    assert Election.objects.count() == 0


def test_import_voters_command_reports_counts(campaign, voter_file, capsys):
    call_command("import_voters", str(voter_file), campaign="home")

    out = capsys.readouterr().out
    assert "4 rows read: 4 created, 0 updated, 0 unchanged, 0 removed, 0 rejected" in out


def test_import_voters_command_names_file_line_and_field_of_bad_rows(campaign, tmp_path, capsys):
    bad = write(tmp_path, "bad.csv", VOTER_HEADER, BAD_ROWS)

    with pytest.raises(CommandError, match="3 bad rows in a strict import"):
        call_command("import_voters", str(bad), campaign="home")

    err = capsys.readouterr().err
    assert "bad.csv, line 3: voter_id:" in err
    assert "bad.csv, line 4: birth_date:" in err
    assert Voter.objects.count() == 0


def test_import_voters_command_refuses_an_unknown_campaign(db, voter_file):
    with pytest.raises(CommandError, match="no campaign 'nope'"):
        call_command("import_voters", str(voter_file), campaign="nope")


def test_missing_required_column_is_a_clear_error(campaign, tmp_path):
    path = write(tmp_path, "nocol.csv", "first_name,last_name", ["Ann,Lee"])

    with pytest.raises(ImportFailed, match=r"nocol\.csv.*voter_id"):
        import_voter_file(campaign=campaign, paths=[path])

    assert ImportRun.objects.get().status == "failed"
    assert Voter.objects.count() == 0


def test_create_campaign_is_idempotent(db, capsys):
    call_command("create_campaign", "nc-sen", name="NC Senate", state="nc")
    call_command("create_campaign", "nc-sen", name="NC Senate", state="NC")

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("campaign nc-sen created")
    assert out[1].startswith("campaign nc-sen already exists")
    with pytest.raises(CommandError, match="exists with state NC"):
        call_command("create_campaign", "nc-sen", name="NC Senate", state="FL")


def test_parser_thread_stops_when_the_import_gives_up_midway():
    def batches():
        for n in range(50):
            yield ParsedBatch(f"f{n}", pl.DataFrame({"a": [n]}), [], 1, n)

    consumer = _parse_ahead(batches(), lambda batch: batch.rows.height)
    first, encoded = next(consumer)
    consumer.close()  # what a database error in the consumer's loop does

    assert (first.file_name, encoded) == ("f0", 1)
    assert [t for t in threading.enumerate() if t.name == "import-parser"] == []


STAGED_VALUES = {
    "name": ["back\\slash", "tab\there", "line\nbreak\r", "\\N", "", None, 'a "quote"'],
    "born": [dt.date(1950, 1, 31), None, dt.date(2000, 2, 29), None, None, None, None],
    "age": [75, None, 26, 0, -1, 2**40, None],
    "lat": [35.123456789012, None, -0.5, 1e-7, 0.0, None, None],
    "active": [True, False, None, True, False, None, True],
    "digest": [b"\x00\\\t\xff", None, b"", b"N", None, None, b"\n"],
    "line_number": list(range(2, 9)),
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY into staging")
def test_staged_values_arrive_exactly_as_parsed(db):
    """Backslashes, tabs, quotes, line breaks, a literal \\N, empty strings and NULLs of every
    type arrive in staging as parsed."""
    frame = pl.DataFrame(
        STAGED_VALUES,
        schema={"name": pl.Utf8, "born": pl.Date, "age": pl.Int64, "lat": pl.Float64,
                "active": pl.Boolean, "digest": pl.Binary, "line_number": pl.Int64},
    )  # fmt: skip
    table = StagingTable("stage_values", dict(frame.drop("line_number").schema))
    with connection.cursor() as cursor:
        table.create(cursor)
        table.load(cursor, frame, file_no=3)
        cursor.execute(f"SELECT file_no, {', '.join(frame.columns)} FROM {table.name}")
        rows = cursor.fetchall()

    assert rows == [(3, *values) for values in frame.iter_rows()]
