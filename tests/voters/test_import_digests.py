"""Re-imports skip the lines an earlier import wrote (raw-line digests); counts stay the delta."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from voters.importers import ImportFailed
from voters.layouts import KnownDigests, fast_path, read_voter_batches
from voters.layouts.digests import digest_salt, line_digests
from voters.models import Household, RejectedRow, Voter
from voters.services import import_voter_file

HEADER = "voter_id,first_name,last_name,birth_date,party,status,address,city,zip,phone"
LINES = [
    "A1,Ann,Lee,1980-02-03,DEM,A,12 Oak St,Durham,27701,919-555-0101",
    "A2,Bob,Lee,1979-07-30,REP,A,12 Oak St,Durham,27701,",
    "A3,Cy,Diaz,2001-12-01,UNA,A,5 Elm Ave Apt 2,Durham,27705,(919) 555-0103",
    "A4,Di,Ng,1950-05-05,DEM,I,5 Elm Ave Apt 3,Durham,27705,9999999999",
]


def write(tmp_path: Path, name: str, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def stamps(campaign) -> dict[str, tuple]:
    return {
        v.voter_id: (v.updated_at, v.first_name, v.phone, v.household_id)
        for v in Voter.objects.filter(campaign=campaign)
    }


@pytest.fixture
def imported(campaign, tmp_path):
    import_voter_file(campaign=campaign, paths=[write(tmp_path, "v1.csv", LINES)])
    return stamps(campaign)


@pytest.fixture
def parsed_lines(monkeypatch):
    """How many lines reached the parser (the fast path sees every batch first)."""
    seen: list[int] = []
    real = fast_path.fast_split

    def spy(batch, *args):
        seen.append(batch.lines)
        return real(batch, *args)

    monkeypatch.setattr(fast_path, "fast_split", spy)
    return seen


def test_an_unchanged_reimport_parses_no_line_and_writes_nothing(
    campaign, tmp_path, imported, parsed_lines
):
    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v2.csv", LINES)], full=True)

    assert (run.rows_read, run.created, run.updated, run.unchanged, run.removed) == (4, 0, 0, 4, 0)
    assert parsed_lines == []
    assert stamps(campaign) == imported


def test_a_line_changed_by_one_byte_updates_exactly_that_voter(
    campaign, tmp_path, imported, parsed_lines
):
    lines = [LINES[0], LINES[1].replace("Bob", "Rob"), LINES[2], LINES[3]]

    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v2.csv", lines)], full=True)

    assert (run.rows_read, run.created, run.updated, run.unchanged, run.removed) == (4, 0, 1, 3, 0)
    assert parsed_lines == [1]
    after = stamps(campaign)
    assert {k for k in after if after[k] != imported[k]} == {"A2"}
    assert after["A2"][1] == "Rob"


def test_a_line_whose_bytes_differ_but_values_do_not_is_unchanged_and_not_written(
    campaign, tmp_path, imported
):
    # Padding, a placeholder spelled differently, and another way of writing the same phone.
    lines = [
        LINES[0].replace("919-555-0101", "(919) 555-0101"),
        LINES[1].replace("Bob", "  Bob "),
        LINES[2],
        LINES[3].replace("9999999999", "NULL"),
    ]

    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v2.csv", lines)])

    assert (run.created, run.updated, run.unchanged) == (0, 0, 4)
    assert stamps(campaign) == imported
    # Still unchanged the next time (its stored digest is the old line's, so it is parsed again).
    again = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v3.csv", lines)])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_a_moved_voter_changes_household_while_unchanged_lines_keep_theirs(
    campaign, tmp_path, imported
):
    lines = [LINES[0], LINES[1], LINES[2].replace("Apt 2", "Apt 3"), LINES[3]]

    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v2.csv", lines)])

    cy, di = Voter.objects.get(voter_id="A3"), Voter.objects.get(voter_id="A4")
    assert (run.updated, run.unchanged, run.households_created) == (1, 3, 0)
    assert cy.household_id == di.household_id == imported["A4"][3]
    assert Household.objects.filter(campaign=campaign).count() == 3


def test_a_repeated_unchanged_line_is_a_duplicate_of_its_first_copy(campaign, tmp_path, imported):
    lines = [*LINES, LINES[1]]  # line 6 repeats line 3 byte for byte

    run = import_voter_file(
        campaign=campaign, paths=[write(tmp_path, "v2.csv", lines)], mode="quarantine", full=True
    )

    assert (run.created, run.updated, run.unchanged, run.removed, run.rejected) == (0, 0, 4, 0, 1)
    reject = RejectedRow.objects.get(import_run=run)
    assert (reject.line_number, reject.raw) == (6, LINES[1])
    assert reject.errors == [
        {"field": "voter_id", "reason": "duplicate voter_id (first seen on line 3)"}
    ]
    assert stamps(campaign) == imported


def test_a_changed_line_after_an_unchanged_one_of_the_same_voter_loses(
    campaign, tmp_path, imported
):
    lines = [*LINES, LINES[0].replace("Ann", "Anne")]

    run = import_voter_file(
        campaign=campaign, paths=[write(tmp_path, "v2.csv", lines)], mode="quarantine"
    )

    assert (run.created, run.updated, run.unchanged, run.rejected) == (0, 0, 4, 1)
    assert Voter.objects.get(voter_id="A1").first_name == "Ann"
    assert RejectedRow.objects.get(import_run=run).line_number == 6
    with pytest.raises(ImportFailed, match="1 bad row"):
        import_voter_file(campaign=campaign, paths=[write(tmp_path, "v3.csv", lines)])
    assert stamps(campaign) == imported


def test_a_voter_removed_by_a_full_import_comes_back_when_its_same_line_returns(
    campaign, tmp_path, imported
):
    import_voter_file(campaign=campaign, paths=[write(tmp_path, "v2.csv", LINES[:3])], full=True)
    assert Voter.objects.get(voter_id="A4").status == "removed"

    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v3.csv", LINES)], full=True)

    back = Voter.objects.get(voter_id="A4")
    assert (run.updated, run.unchanged, run.removed) == (1, 3, 0)
    assert (back.status, back.removed_at) == ("inactive", None)


def test_the_same_lines_under_another_header_are_parsed_again(
    campaign, tmp_path, imported, parsed_lines
):
    # Same bytes, but the columns now mean something else: first and last name swapped.
    header = HEADER.replace("first_name,last_name", "last_name,first_name")

    run = import_voter_file(campaign=campaign, paths=[write(tmp_path, "v2.csv", LINES, header)])

    assert (run.updated, run.unchanged) == (4, 0)
    assert sum(parsed_lines) == 4
    assert Voter.objects.get(voter_id="A1").last_name == "Ann"


def test_other_campaigns_digests_are_not_this_campaigns(
    campaign, other_campaign, tmp_path, imported, parsed_lines
):
    run = import_voter_file(campaign=other_campaign, paths=[write(tmp_path, "v2.csv", LINES)])

    assert (run.created, run.unchanged) == (4, 0)
    assert sum(parsed_lines) == 4
    assert stamps(campaign) == imported


# ---- the pure part: no database -------------------------------------------------------------


def test_known_digests_compare_all_sixteen_bytes_when_the_first_eight_are_shared():
    shared = b"\x01" * 8
    stored = [shared + b"\x00" * 8, shared + b"\x05" * 8, b"\x02" * 16]
    known = KnownDigests(b"".join(stored))

    asked = [shared + b"\x05" * 8, shared + b"\x03" * 8, b"\x02" * 16, b"\x00" * 16, b"\xff" * 16]

    assert known.contains(asked).tolist() == [True, False, True, False, False]
    assert len(known) == 3
    assert KnownDigests().contains(asked).tolist() == [False] * 5


def test_a_line_digest_is_the_salted_md5_of_its_bytes():
    salt = digest_salt(layout="nc", names=["a", "b"], delimiter="\t", default_state="NC")

    [digest] = line_digests([b"x\ty\r"], salt)

    assert digest == hashlib.md5(salt + b"x\ty\r").digest()
    other = digest_salt(layout="nc", names=["b", "a"], delimiter="\t", default_state="NC")
    assert line_digests([b"x\ty\r"], other) != [digest]


def test_known_lines_are_listed_as_seen_with_their_numbers_and_the_rest_parsed(tmp_path):
    path = write(tmp_path, "v.csv", [LINES[0], "", LINES[1], LINES[2]])
    first = list(read_voter_batches(path, layout="generic", known_digests=KnownDigests()))
    rows = first[0].rows
    digests = dict(zip(rows["line_number"], rows["line_digest"], strict=True))
    known = KnownDigests(digests[2] + digests[5])

    [batch] = list(read_voter_batches(path, layout="generic", known_digests=known))

    assert batch.rows["line_number"].to_list() == [4]
    assert batch.rows["voter_id"].to_list() == ["A2"]
    assert batch.rows["line_digest"].to_list() == [digests[4]]
    assert batch.seen.rows() == [(2, digests[2]), (5, digests[5])]
    assert batch.lines_read == 3
