"""Real published files through the real importers and commands (issue 11 §1): NUL bytes, over-long
lines and binary files in every import command, identical VAN rows, per-field counts and warnings.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from tests.factories import VoterFactory
from tests.voters.test_contact_imports import (
    NOTHING,
    VAN_CONTACT_HEADER,
    VOTER_HEADER,
    VOTERS,
    contacts,
    table_counts,
    van_contact_row,
    write_van,
)
from voters.importers import ImportFailed
from voters.models import ContactAttempt, ImportRun, RejectedRow, Voter, VoteRecord
from voters.services import import_contact_history, import_voter_file

VOTER_ROWS = (
    b"voter_id,first_name,zip,notes\nB1,Ann,27701,x\nB2,B\x00b,27701,y\x00z\nB3,Cy,27705,\n"
)
# Per command: its arguments, and a file of its kind whose line 3 has a NUL inside a field.
COMMANDS = {
    "import_voters": ([], VOTER_ROWS),
    "import_history": (
        [],
        b"voter_id,election_date,election_type\nA1,2022-11-08,general\n"
        b"A2,2022-11-08,gen\x00eral\nA3,2022-11-08,general\n",
    ),
    "import_contacts": (
        [],
        b"voter_id,occurred_at,channel,result\nA1,2024-10-05,door,contacted\n"
        b"A2,2024-10-05,door,contac\x00ted\nA3,2024-10-05,door,not_home\n",
    ),
    "import_assignments": (
        ["--program", "Fall GOTV"],
        b"voter_id,arm\nA1,control\nA2,post\x00card\nA3,postcard\n",
    ),
}
NUL = "NUL byte (\\x00) in the field"
NUL_FIELD = {
    "import_voters": f"first_name: {NUL}; notes: {NUL}",
    "import_history": "election_type: NUL byte (\\x00) in the field",
    "import_contacts": "result: NUL byte (\\x00) in the field",
    "import_assignments": "arm: NUL byte (\\x00) in the field",
}


@pytest.fixture
def known_voters(campaign, other_campaign, tmp_path):
    """A1-A3 in our campaign (VANIDs 101-103), and the same ids in a rival campaign."""
    path = tmp_path / "known.csv"
    path.write_text("\n".join([VOTER_HEADER, *VOTERS]) + "\n", encoding="utf-8")
    import_voter_file(campaign=campaign, paths=[path])
    import_voter_file(campaign=other_campaign, paths=[path])


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def history_counts(campaign) -> tuple[int, int, int]:
    return (
        Voter.objects.filter(campaign=campaign).count(),
        VoteRecord.objects.filter(campaign=campaign).count(),
        ImportRun.objects.filter(campaign=campaign, status="succeeded").count(),
    )


def test_nul_inside_a_field_is_a_quarantined_row_with_line_and_fields(campaign, tmp_path):
    path = write_bytes(tmp_path, "voters.csv", VOTER_ROWS)

    run = import_voter_file(campaign=campaign, paths=[path], mode="quarantine")

    assert (run.status, run.rows_read, run.created, run.rejected) == ("succeeded", 3, 2, 1)
    assert list(Voter.objects.filter(campaign=campaign).order_by("voter_id").values_list(
        "voter_id", "first_name", "extra"
    )) == [("B1", "Ann", {"notes": "x"}), ("B3", "Cy", {})]  # fmt: skip
    [row] = RejectedRow.objects.filter(import_run=run)
    assert (row.file_name, row.line_number, row.raw) == (
        "voters.csv",
        3,
        "B2,B\\x00b,27701,y\\x00z",
    )
    assert row.errors == [
        {"field": "first_name", "reason": "NUL byte (\\x00) in the field"},
        {"field": "notes", "reason": "NUL byte (\\x00) in the field"},
    ]


def test_nul_inside_a_field_fails_a_strict_import_naming_line_and_field(campaign, tmp_path):
    path = write_bytes(tmp_path, "voters.csv", VOTER_ROWS)

    with pytest.raises(ImportFailed) as failure:
        import_voter_file(campaign=campaign, paths=[path])

    [reject] = failure.value.rejects
    assert (reject.line_number, [e.field for e in reject.errors]) == (3, ["first_name", "notes"])
    assert Voter.objects.filter(campaign=campaign).count() == 0
    assert ImportRun.objects.get(campaign=campaign).status == "failed"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_import_command_quarantines_a_nul_row(
    command, campaign, known_voters, tmp_path, capsys
):
    args, data = COMMANDS[command]
    path = write_bytes(tmp_path, "nul.csv", data)

    call_command(command, "--campaign", "home", "--mode", "quarantine", *args, str(path))

    captured = capsys.readouterr()
    assert f"nul.csv, line 3: {NUL_FIELD[command]}" in captured.err
    assert "1 rows quarantined" in captured.err
    assert "3 rows read" in captured.out
    run = ImportRun.objects.filter(campaign=campaign).latest("pk")
    assert (run.status, run.rows_read, run.rejected) == ("succeeded", 3, 1)


def _long_line(command: str) -> bytes:
    header = COMMANDS[command][1].split(b"\n")[0]
    return header + b"\nA1," + b"9" * 200_000 + b"\n"


BAD_FILES = {
    "long.csv": (_long_line, "long.csv, line 2: line longer than 131,072 bytes"),
    "cr.csv": (
        lambda c: b"voter_id,zip\r" + b"A1,27701\r" * 20_000,
        "cr.csv, line 1: line longer than 131,072 bytes",
    ),
    "random.csv": (
        lambda c: os.urandom(4096).replace(b"PK", b"pk"),
        "random.csv, line ",
    ),
    "book.xlsx": (
        lambda c: b"PK\x03\x04" + os.urandom(200),
        "book.xlsx, line 1: not a text file: a ZIP archive (or an .xlsx workbook)",
    ),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_import_command_names_file_and_line_of_an_unreadable_file(
    command,
    name,
    campaign,
    known_voters,
    tmp_path,
    capsys,
):
    args, _ = COMMANDS[command]
    make, message = BAD_FILES[name]
    path = write_bytes(tmp_path, name, make(command))
    before = (table_counts(campaign), history_counts(campaign))

    with pytest.raises(CommandError) as caught:
        call_command(command, "--campaign", "home", "--mode", "quarantine", *args, str(path))

    assert str(caught.value).startswith(message)
    assert "Traceback" not in capsys.readouterr().err
    assert (table_counts(campaign), history_counts(campaign)) == before
    assert ImportRun.objects.filter(campaign=campaign).latest("pk").status == "failed"


def test_binary_file_error_says_it_is_not_text(campaign, tmp_path):
    path = write_bytes(tmp_path, "dump.bin", b"\x00\x01\x02\x03" * 1000)

    with pytest.raises(ImportFailed) as failure:
        import_voter_file(campaign=campaign, paths=[path])

    assert (
        str(failure.value) == "dump.bin, line 1: not a text file: binary data (4,000 control bytes)"
    )


# --------------------------------------------------------------------------------------------
# Identical rows in one VAN export
# --------------------------------------------------------------------------------------------


def test_identical_rows_in_one_van_export_are_separate_attempts(campaign, known_voters, tmp_path):
    knock = van_contact_row("101", "10/5/2024", "Not Home", "Walk")
    path = write_van(tmp_path, "ContactHistory.xls", VAN_CONTACT_HEADER, [knock, knock, knock])

    run = import_contact_history(campaign=campaign, paths=[path], layout="van")

    assert (run.rows_read, run.created, run.duplicates, run.rejected) == (3, 3, 0, 0)
    stored = contacts(campaign)
    assert [c[:2] + c[3:] for c in stored] == [
        ("A1", "door", "not_home", "Not Home", None, None, None, "Pat Canvasser", "import")
    ] * 3
    assert len({c[2] for c in stored}) == 1  # one moment, three knocks
    assert len(set(ContactAttempt.objects.values_list("dedupe_key", flat=True))) == 3


def test_the_same_van_export_twice_adds_nothing_the_second_time(campaign, known_voters, tmp_path):
    knock = van_contact_row("101", "10/5/2024", "Not Home", "Walk")
    other = van_contact_row("102", "10/5/2024", "Not Home", "Walk")
    path = write_van(tmp_path, "ContactHistory.xls", VAN_CONTACT_HEADER, [knock, other, knock])
    import_contact_history(campaign=campaign, paths=[path], layout="van")
    before = (contacts(campaign), table_counts(campaign))

    run = import_contact_history(campaign=campaign, paths=[path], layout="van")

    assert (run.rows_read, run.created, run.duplicates) == (3, 0, 3)
    assert (contacts(campaign), table_counts(campaign)) == before
    assert before[1] == {**NOTHING, "contacts": 3}


def test_a_later_export_repeating_a_row_adds_only_the_new_occurrence(
    campaign, known_voters, tmp_path
):
    knock = van_contact_row("101", "10/5/2024", "Not Home", "Walk")
    first = write_van(tmp_path, "week1.xls", VAN_CONTACT_HEADER, [knock])
    import_contact_history(campaign=campaign, paths=[first], layout="van")
    second = write_van(tmp_path, "week2.xls", VAN_CONTACT_HEADER, [knock, knock])

    run = import_contact_history(campaign=campaign, paths=[second], layout="van")

    assert (run.created, run.duplicates) == (1, 1)
    assert ContactAttempt.objects.filter(campaign=campaign).count() == 2


# --------------------------------------------------------------------------------------------
# Per-field counts and warnings
# --------------------------------------------------------------------------------------------

UNREADABLE_ZIPS = (
    "voter_id,first_name,suffix,zip,city\n"
    "Z1,Ann,,27517.5,Durham\n"
    "Z2,Bob,JR,2751-7,Durham\n"
    "Z3,Cy,,ZIP,Durham\n"
    "Z4,Di,,27517.25,\n"
)
ZIP_WARNING = "zip: 0 of 4 rows readable (4 values in the file could not be read)"


def test_an_unreadable_zip_column_is_warned_about_by_the_command_and_kept_on_the_run(
    campaign, tmp_path, capsys
):
    path = write_bytes(tmp_path, "voters.csv", UNREADABLE_ZIPS.encode())

    call_command("import_voters", "--campaign", "home", str(path))

    out, err = capsys.readouterr()
    assert (
        "values per field, of 4 rows parsed: voter_id 4, first_name 4, suffix 1, city 3, "
        "zip 0 (4 unreadable)\n"
    ) in out
    assert f"warning: {ZIP_WARNING}\n" in err
    run = ImportRun.objects.get(campaign=campaign)
    assert (run.status, run.created, run.rejected, run.warnings) == (
        "succeeded", 4, 0, [ZIP_WARNING],
    )  # fmt: skip
    assert run.field_counts == {
        "rows": 4,
        "fields": [
            {"field": "voter_id", "given": 4, "usable": 4},
            {"field": "first_name", "given": 4, "usable": 4},
            {"field": "suffix", "given": 1, "usable": 1},
            {"field": "city", "given": 3, "usable": 3},
            {"field": "zip", "given": 4, "usable": 0},
        ],
    }
    # The voters are imported all the same, with no zip: the warning is what tells.
    assert list(
        Voter.objects.filter(campaign=campaign).order_by("voter_id").values_list("voter_id", "zip5")
    ) == [("Z1", None), ("Z2", None), ("Z3", None), ("Z4", None)]


def test_the_import_run_page_shows_field_counts_and_the_warning(staff_client, campaign, tmp_path):
    path = write_bytes(tmp_path, "voters.csv", UNREADABLE_ZIPS.encode())
    run = import_voter_file(campaign=campaign, paths=[path])

    page = staff_client.get(reverse("admin:voters_importrun_change", args=[run.pk]))

    text = page.content.decode()
    assert page.status_code == 200
    assert "values per field, of 4 rows parsed: voter_id 4, first_name 4" in text
    assert ZIP_WARNING in text


def test_readable_files_and_sparse_columns_give_no_warning(campaign, tmp_path, capsys):
    text = UNREADABLE_ZIPS.replace("27517.5", "27517.0").replace("2751-7", "27517-1234")
    path = write_bytes(tmp_path, "voters.csv", text.replace("ZIP", "27701").encode())

    call_command("import_voters", "--campaign", "home", str(path))

    out, err = capsys.readouterr()
    assert "zip 3 (1 unreadable)" in out  # 27517.25 is no zip
    assert "warning" not in err
    assert ImportRun.objects.get(campaign=campaign).warnings == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("import_history", "voter_id 2, election_date 2, election_type 2"),
        ("import_contacts", "voter_id 2, occurred_at 2, channel 2, result 2"),
        ("import_assignments", "voter_id 2, arm 2"),
    ],
)
def test_every_import_command_prints_its_field_counts(
    command, expected, campaign, known_voters, tmp_path, capsys
):
    args, data = COMMANDS[command]
    lines = data.split(b"\n")  # the header and the two lines without a NUL
    path = write_bytes(tmp_path, "f.csv", b"\n".join([lines[0], lines[1], lines[3]]) + b"\n")

    call_command(command, "--campaign", "home", *args, str(path))

    assert f"values per field, of 2 rows parsed: {expected}\n" in capsys.readouterr().out


def test_voter_ids_stored_as_decimals_are_rewritten_and_a_reimport_adds_no_one(
    campaign, other_campaign, tmp_path
):
    # Given voters an earlier import stored with decimal ids, one of them clashing with an
    # integer id already in the campaign, and the same ids in another campaign
    for voter_id in ("123.0", "77.00", "5.0", "5", "6.5"):
        VoterFactory(campaign=campaign, voter_id=voter_id)
    VoterFactory(campaign=other_campaign, voter_id="123.0")
    migration = importlib.import_module("voters.migrations.0009_voter_ids_written_as_decimals")

    # When the migration's rewrite runs
    with connection.schema_editor() as editor:
        migration.rewrite_decimal_voter_ids(django_apps, editor)

    # Then whole decimals are integers where the integer is free, and nothing else changed
    ids = sorted(Voter.objects.filter(campaign=campaign).values_list("voter_id", flat=True))
    assert ids == ["123", "5", "5.0", "6.5", "77"]
    other = Voter.objects.filter(campaign=other_campaign).values_list("voter_id", flat=True)
    assert list(other) == ["123"]
    # And the same file, now read as integers, updates those voters instead of adding them again
    path = tmp_path / "again.csv"
    path.write_text("voter_id,first_name\n123.0,Ann\n77.00,Bo\n", encoding="utf-8")
    import_voter_file(campaign=campaign, paths=[path])
    assert Voter.objects.filter(campaign=campaign).count() == 5
    assert Voter.objects.get(campaign=campaign, voter_id="123").first_name == "Ann"
