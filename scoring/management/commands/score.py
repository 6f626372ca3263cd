from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from scoring.management.arguments import campaign_of, election_of
from scoring.models import RunStatus, ScoringRun
from scoring.services import ScoringError, run_progress, start_scoring_run

# Two cheap queries a poll; a second between polls made --wait end half a second late on average.
POLL_SECONDS = 0.25


class Command(BaseCommand):
    help = (
        "Start a scoring run: every voter of the campaign scored by its approved models, in "
        "voter-id chunks on the Celery `scoring` queue. --wait follows it to the end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument(
            "--target-election", help="YYYY-MM-DD (default: the campaign's next election)"
        )
        parser.add_argument("--chunk-voters", type=int, default=20_000)
        parser.add_argument("--wait", action="store_true", help="follow the run to its end")

    def handle(self, *args, campaign, target_election, chunk_voters, wait, **options) -> None:
        target = campaign_of(campaign)
        try:
            run = start_scoring_run(
                campaign=target,
                target_election=election_of(target, target_election),
                chunk_voters=chunk_voters,
            )
        except ScoringError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if wait:
            run = self._follow(run)
        run.refresh_from_db()
        progress = run_progress(run)
        self.stdout.write(
            f"{run}: {progress['voters_scored']:,} of {run.voters_total:,} voters scored in "
            f"{progress['chunks_done']} of {run.chunks_total} chunks "
            f"({progress['voters_per_second']:,.0f} voters/s)"
        )
        if run.status == RunStatus.FAILED:
            raise CommandError(f"scoring run {run.pk} failed: {run.error}")

    def _follow(self, run: ScoringRun) -> ScoringRun:
        bar = tqdm(total=run.voters_total, unit="voters", disable=not sys.stderr.isatty())
        while True:
            run.refresh_from_db()
            progress = run_progress(run)
            bar.update(progress["voters_scored"] - bar.n)
            if run.status in (RunStatus.COMPLETE, RunStatus.FAILED):
                bar.close()
                return run
            time.sleep(POLL_SECONDS)
