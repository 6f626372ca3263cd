"""A generated county imported into PostgreSQL through the real importers, for scoring tests."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from campaign.models import Election
from voters.models import Assignment, Program, ProgramArm, Voter
from voters.services import import_contact_history, import_vote_history, import_voter_file
from voters.synthetic import generate_county


def load_assignments(campaign, path: Path, program_name: str) -> Program:
    """The program's recorded arms, written as the assignments importer would write them."""
    program = Program.objects.create(campaign=campaign, name=program_name)
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    arms = {
        name: ProgramArm.objects.create(program=program, name=name, is_control=name == "control")
        for name in sorted({r["arm"] for r in rows})
    }
    pks = dict(Voter.objects.filter(campaign=campaign).values_list("voter_id", "pk"))
    Assignment.objects.bulk_create(
        Assignment(
            campaign=campaign,
            program=program,
            arm=arms[r["arm"]],
            voter_id=pks[r["voter_id"]],
            assigned_at=dt.datetime.fromisoformat(r["assigned_at"]).replace(tzinfo=dt.UTC),
        )
        for r in rows
    )
    return program


@pytest.fixture
def generated_county(campaign, tmp_path):
    files = generate_county(tmp_path / "county", voters=12_000, seed=11)
    import_voter_file(campaign=campaign, paths=[files.voters_csv])
    import_vote_history(campaign=campaign, paths=[files.history_csv])
    program = load_assignments(campaign, files.assignments_csv, files.program_name)
    election = Election.objects.get(
        campaign=campaign, election_on=files.program_election.on, election_type="general"
    )
    return {"files": files, "program": program, "election": election}


@pytest.fixture
def county_with_answers(campaign, generated_county):
    """The same county with its contact history and support IDs imported."""
    files = generated_county["files"]
    import_contact_history(campaign=campaign, paths=[files.contacts_csv], mode="quarantine")
    return generated_county
