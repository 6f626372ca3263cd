from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaign.lib import spreadsheet_csv
from scoring.experiments import ExperimentError
from scoring.management.arguments import campaign_of, election_of, program_of, question_of
from scoring.services import TrainingError, experiment_report

COLUMNS = ("arm", "n", "rate", "lift", "ci_low", "ci_high", "p_value")


class Command(BaseCommand):
    help = (
        "Lift of each arm of a randomized program against its control group: outcome rate, lift "
        "with a 95% CI clustered by household, and Holm-adjusted p-values."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--program", required=True, help="the program's name")
        outcome = parser.add_mutually_exclusive_group(required=True)
        outcome.add_argument("--election", help="YYYY-MM-DD: outcome is voting in it")
        outcome.add_argument("--question", help="survey question slug: outcome is a 1-2 answer")
        parser.add_argument("--format", default="table", choices=("table", "json", "csv"))

    def handle(self, *args, campaign, program, election, question, format, **options) -> None:
        target = campaign_of(campaign)
        try:
            report = experiment_report(
                campaign=target,
                program=program_of(target, program),
                election=election_of(target, election),
                question=question_of(target, question),
            )
        except (ExperimentError, TrainingError) as exc:
            raise CommandError(str(exc)) from exc
        {"json": self._json, "csv": self._csv, "table": self._table}[format](report)

    def _json(self, report: dict) -> None:
        keys = ("program", "outcome", "arms")
        self.stdout.write(json.dumps({k: report[k] for k in keys}, indent=2))

    def _csv(self, report: dict) -> None:
        writer = spreadsheet_csv.writer(self.stdout, lineterminator="\n")
        writer.writedicts(COLUMNS, report["arms"])

    def _table(self, report: dict) -> None:
        self.stdout.write(
            f"{report['program']}: outcome {report['outcome']}; {report['n']:,} voters in "
            f"{report['households']:,} households"
        )
        self.stdout.write(f"{'arm':<20}{'n':>8}{'rate':>8}{'lift':>9}  {'95% CI':<19}{'p':>7}")
        for arm in report["arms"]:
            p = "" if arm["p_value"] is None else f"{arm['p_value']:.3f}"
            ci = f"[{arm['ci_low']:+.3f}, {arm['ci_high']:+.3f}]"
            self.stdout.write(
                f"{arm['arm']:<20}{arm['n']:>8,}{arm['rate']:>8.3f}{arm['lift']:>+9.3f}  "
                f"{ci:<19}{p:>7}"
            )
