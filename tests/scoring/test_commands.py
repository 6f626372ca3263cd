"""The scoring commands: train, approve_model and experiment_report, as scripts call them."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from campaign.models import AuditEvent
from scoring.models import ModelStatus, ModelVersion


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_train_then_approve_by_command_is_audited(campaign, staff_user, generated_county):
    day = f"{generated_county['election'].election_on:%Y-%m-%d}"

    summary = run("train", "--campaign", "home", "--kind", "turnout", "--election", day)

    version = ModelVersion.objects.get()
    assert summary.startswith(f"{version} trained: held-out AUC 0.")
    assert version.status == ModelStatus.DRAFT
    assert run("approve_model", "--campaign", "home", "--kind", "turnout", "--user", "staffer") == (
        f"Turnout v{version.pk} (approved) approved for home\n"
    )
    assert AuditEvent.objects.filter(action="model_approve", user=staff_user).count() == 1
    with pytest.raises(CommandError, match="no turnout draft to approve"):
        run("approve_model", "--campaign", "home", "--kind", "turnout", "--user", "staffer")


@pytest.mark.django_db
def test_train_refuses_what_it_cannot_do_with_a_clear_message(campaign, generated_county):
    with pytest.raises(CommandError, match="needs --election"):
        run("train", "--campaign", "home", "--kind", "turnout")
    with pytest.raises(CommandError, match="no election on 2001-01-01"):
        run("train", "--campaign", "home", "--kind", "turnout", "--election", "2001-01-01")
    with pytest.raises(CommandError, match="--approve needs --user"):
        run("train", "--campaign", "home", "--kind", "support", "--approve")
    with pytest.raises(CommandError, match="no program 'nope'"):
        run("train", "--campaign", "home", "--kind", "persuasion", "--program", "nope")
    assert ModelVersion.objects.count() == 0


@pytest.mark.django_db
def test_experiment_report_formats_agree(campaign, generated_county):
    program = generated_county["program"].name
    day = f"{generated_county['election'].election_on:%Y-%m-%d}"
    args = ("experiment_report", "--campaign", "home", "--program", program, "--election", day)

    as_json = json.loads(run(*args, "--format", "json"))
    rows = list(csv.DictReader(io.StringIO(run(*args, "--format", "csv"))))
    table = run(*args)

    assert set(as_json) == {"program", "outcome", "arms"}
    assert as_json["program"] == program
    assert as_json["arms"][0]["arm"] == "control"
    assert {a["arm"]: a["n"] for a in as_json["arms"]} == generated_county["files"].arm_counts
    assert [r["arm"] for r in rows] == [a["arm"] for a in as_json["arms"]]
    assert [float(r["lift"]) for r in rows] == pytest.approx([a["lift"] for a in as_json["arms"]])
    assert table.splitlines()[0].startswith(f"{program}: outcome ")
    assert len(table.splitlines()) == 2 + len(as_json["arms"])
