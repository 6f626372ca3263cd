"""Program-assignment imports: programs and arms found or created, no voter ever re-drawn."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from voters.importers import ImportFailed
from voters.models import Assignment, ImportRun, Program, ProgramArm, RejectedRow
from voters.services import import_program_assignments, import_voter_file

VOTER_HEADER = "voter_id,first_name,last_name,address,city,zip"
VOTERS = [
    "A1,Ann,Lee,12 Oak St,Durham,27701",
    "A2,Bob,Lee,12 Oak St,Durham,27701",
    "A3,Cy,Diaz,5 Elm Ave,Durham,27705",
    "A4,Di,Ng,7 Elm Ave,Durham,27705",
]
HEADER = "voter_id,arm,assigned_at"
ROWS = [
    "A1,Control,2024-09-01",
    "A2,jobs-message,2024-09-01 10:30",
    "A3,health-message,09/01/2024",
    "ZZ9,control,2024-09-01",
]


def write(tmp_path: Path, name: str, header: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def assignments(campaign) -> list[tuple]:
    return list(
        Assignment.objects.filter(campaign=campaign)
        .order_by("voter__voter_id")
        .values_list("program__name", "voter__voter_id", "arm__name", "arm__is_control",
                     "assigned_at")
    )  # fmt: skip


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def voters(campaign, other_campaign, tmp_path):
    path = write(tmp_path, "voters.csv", VOTER_HEADER, VOTERS)
    import_voter_file(campaign=campaign, paths=[path])
    import_voter_file(campaign=other_campaign, paths=[path])
    return path


@pytest.fixture
def arms_file(tmp_path):
    return write(tmp_path, "arms.csv", HEADER, ROWS)


def test_import_creates_the_program_its_arms_and_assignments(
    campaign, other_campaign, voters, arms_file
):
    run = import_program_assignments(
        campaign=campaign, program="Fall persuasion", paths=[arms_file]
    )

    assert (run.status, run.kind, run.rows_read, run.created, run.duplicates) == (
        "succeeded", "assignments", 4, 3, 0,
    )  # fmt: skip
    assert (run.orphaned, run.rejected) == (1, 0)
    assert run.counts == {"program": "Fall persuasion", "program_created": 1, "arms_created": 3}
    assert assignments(campaign) == [
        ("Fall persuasion", "A1", "control", True, at(2024, 9, 1, 4)),
        ("Fall persuasion", "A2", "jobs-message", False, at(2024, 9, 1, 14, 30)),
        ("Fall persuasion", "A3", "health-message", False, at(2024, 9, 1, 4)),
    ]
    assert run.summary() == (
        "4 rows read: 3 assignments added to Fall persuasion (a new program), 0 already on "
        "record, 1 for unknown voters, 0 rejected; 3 new arms"
    )
    assert Program.objects.filter(campaign=other_campaign).count() == 0
    assert Assignment.objects.filter(campaign=other_campaign).count() == 0


def test_reimport_adds_nothing(campaign, voters, arms_file):
    import_program_assignments(campaign=campaign, program="Fall persuasion", paths=[arms_file])
    before = assignments(campaign)

    run = import_program_assignments(
        campaign=campaign, program="Fall persuasion", paths=[arms_file]
    )

    assert (run.created, run.duplicates, run.orphaned, run.rejected) == (0, 3, 1, 0)
    assert run.counts == {"program": "Fall persuasion", "program_created": 0, "arms_created": 0}
    assert assignments(campaign) == before
    assert (Program.objects.count(), ProgramArm.objects.count()) == (1, 3)


def test_a_voter_already_assigned_to_another_arm_is_rejected_in_strict_mode(
    campaign, voters, arms_file, tmp_path
):
    import_program_assignments(campaign=campaign, program="Fall persuasion", paths=[arms_file])
    before = assignments(campaign)
    changed = write(tmp_path, "changed.csv", HEADER, ["A4,new-arm,", "A1,jobs-message,"])

    with pytest.raises(ImportFailed) as failure:
        import_program_assignments(campaign=campaign, program="Fall persuasion", paths=[changed])

    [reject] = failure.value.rejects
    assert (reject.file_name, reject.line_number, reject.raw) == (
        "changed.csv",
        3,
        "A1,jobs-message,",
    )
    assert [(e.field, e.reason) for e in reject.errors] == [("arm", "already assigned to control")]
    assert assignments(campaign) == before
    assert ProgramArm.objects.filter(name="new-arm").count() == 0
    assert ImportRun.objects.get(pk=ImportRun.objects.latest("created_at").pk).status == "failed"


def test_a_conflict_is_quarantined_and_the_rest_imported(campaign, voters, arms_file, tmp_path):
    import_program_assignments(campaign=campaign, program="Fall persuasion", paths=[arms_file])
    changed = write(tmp_path, "changed.csv", HEADER, ["A4,new-arm,2024-09-02", "A1,jobs-message,"])

    run = import_program_assignments(
        campaign=campaign, program="Fall persuasion", paths=[changed], mode="quarantine"
    )

    assert (run.created, run.rejected, run.duplicates) == (1, 1, 0)
    assert list(RejectedRow.objects.filter(import_run=run).values_list(
        "line_number", "raw", "errors")) == [
        (3, "A1,jobs-message,", [{"field": "arm", "reason": "already assigned to control"}])
    ]  # fmt: skip
    assert assignments(campaign)[0] == ("Fall persuasion", "A1", "control", True, at(2024, 9, 1, 4))
    assert assignments(campaign)[3] == (
        "Fall persuasion",
        "A4",
        "new-arm",
        False,
        at(2024, 9, 2, 4),
    )


def test_a_voter_listed_twice_with_two_arms_keeps_the_first(campaign, voters, tmp_path):
    path = write(tmp_path, "arms.csv", HEADER, ["A1,a,", "A1,A,", "A1,a,", "A2,b,"])

    run = import_program_assignments(
        campaign=campaign, program="P", paths=[path], mode="quarantine"
    )

    assert (run.created, run.duplicates, run.rejected) == (2, 1, 1)
    assert list(
        RejectedRow.objects.filter(import_run=run).values_list("line_number", "errors")
    ) == [(3, [{"field": "arm", "reason": "already assigned to a"}])]
    assert [(v, arm) for _, v, arm, _, _ in assignments(campaign)] == [("A1", "a"), ("A2", "b")]


def test_an_existing_program_gets_new_arms_only(campaign, voters, arms_file, tmp_path):
    import_program_assignments(campaign=campaign, program="Fall persuasion", paths=[arms_file])
    more = write(tmp_path, "more.csv", HEADER, ["A4,CONTROL,2024-09-03"])

    run = import_program_assignments(campaign=campaign, program="Fall persuasion", paths=[more])

    assert run.counts == {"program": "Fall persuasion", "program_created": 0, "arms_created": 0}
    assert assignments(campaign)[3] == ("Fall persuasion", "A4", "control", True, at(2024, 9, 3, 4))


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (",control,", "voter_id", "required"),
        ("A4,,", "arm", "required"),
        ("A4,control,2024-02-31", "assigned_at", "impossible date or time '2024-02-31'"),
    ],
)
def test_bad_rows_fail_strict_and_are_kept_in_quarantine(
    campaign, voters, tmp_path, line, field, reason
):
    path = write(tmp_path, "arms.csv", HEADER, ["A1,control,", line])

    with pytest.raises(ImportFailed):
        import_program_assignments(campaign=campaign, program="P", paths=[path])
    assert (Program.objects.count(), Assignment.objects.count()) == (0, 0)

    run = import_program_assignments(
        campaign=campaign, program="P", paths=[path], mode="quarantine"
    )
    assert (run.created, run.rejected) == (1, 1)
    assert list(
        RejectedRow.objects.filter(import_run=run).values_list("line_number", "errors")
    ) == [(3, [{"field": field, "reason": reason}])]


def test_an_assignment_without_a_time_is_dated_by_the_import(campaign, voters, tmp_path):
    path = write(tmp_path, "arms.csv", "voter_id,arm", ["A1,control"])

    run = import_program_assignments(campaign=campaign, program="P", paths=[path])

    assignment = Assignment.objects.get()
    assert run.started_at <= assignment.assigned_at <= run.finished_at


def test_command_imports_and_prints_a_summary(campaign, voters, arms_file, capsys):
    call_command(
        "import_assignments", "--campaign", "home", "--program", "Fall persuasion", str(arms_file)
    )

    assert "4 rows read: 3 assignments added to Fall persuasion" in capsys.readouterr().out


def test_command_reports_a_conflict(campaign, voters, arms_file, tmp_path, capsys):
    call_command("import_assignments", "--campaign", "home", "--program", "P", str(arms_file))
    changed = write(tmp_path, "changed.csv", HEADER, ["A2,control,"])

    with pytest.raises(CommandError, match="1 bad row in a strict import"):
        call_command("import_assignments", "--campaign", "home", "--program", "P", str(changed))

    assert "changed.csv, line 2: arm: already assigned to jobs-message" in capsys.readouterr().err
