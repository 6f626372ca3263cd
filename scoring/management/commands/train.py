from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.cards import persuasion_summary
from scoring.experiments import ExperimentError
from scoring.management.arguments import (
    campaign_of,
    election_of,
    program_of,
    question_of,
    user_of,
)
from scoring.models import ModelKind, ModelVersion
from scoring.services import train_persuasion_model, train_support_model, train_turnout_model


class Command(BaseCommand):
    help = (
        "Train and register a model version (a draft unless --approve): turnout (label: voted in "
        "--election), support (label: answers to the support question), or persuasion (uplift per "
        "arm of --program on --election turnout or --question answers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--kind", required=True, choices=ModelKind.values)
        parser.add_argument("--election", help="YYYY-MM-DD: the label (turnout, persuasion)")
        parser.add_argument("--program", help="the randomized program (persuasion)")
        parser.add_argument("--question", help="survey question slug (persuasion outcome)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--approve", action="store_true", help="approve at once (audited)")
        parser.add_argument("--user", help="username of the staff member training/approving")

    def handle(self, *args, campaign, kind, election, program, question, seed, approve, user,
               **options) -> None:  # fmt: skip
        target = campaign_of(campaign)
        who = user_of(user)
        if approve and who is None:
            raise CommandError("--approve needs --user: approvals are made by a staff member")
        try:
            version = self._train(target, kind, election, program, question, seed, approve, who)
        except (ValidationError, ExperimentError, PermissionDenied) as exc:
            raise CommandError(_message(exc)) from exc
        self.stdout.write(_summary(version))

    def _train(self, target, kind, election, program, question, seed, approve, who):
        common = {"campaign": target, "user": who, "seed": seed, "approve": approve}
        if kind == ModelKind.TURNOUT:
            label = election_of(target, election)
            if label is None:
                raise CommandError("--kind turnout needs --election YYYY-MM-DD")
            return train_turnout_model(election=label, **common)
        if kind == ModelKind.SUPPORT:
            return train_support_model(**common)
        chosen = program_of(target, program)
        if chosen is None:
            raise CommandError("--kind persuasion needs --program NAME")
        return train_persuasion_model(
            program=chosen,
            election=election_of(target, election),
            question=question_of(target, question),
            **common,
        )


def _message(exc: Exception) -> str:
    return "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def _summary(version: ModelVersion) -> str:
    m = version.metrics
    if version.kind == ModelKind.PERSUASION:
        return f"{version} trained on {m['n']:,} voters: {persuasion_summary(m)}"
    return (
        f"{version} trained: held-out AUC {m['auc']:.3f}, log loss {m['log_loss']:.3f}, "
        f"Brier {m['brier']:.3f} on {m['n_test']:,} voters"
    )
