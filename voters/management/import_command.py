"""What import_voters and import_history share: arguments, progress bar and error report."""

from __future__ import annotations

import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaign.lib.progress import ByteProgressBar
from campaign.models import Campaign
from voters import layouts
from voters.importers import BATCH_ROWS, ImportFailed, ImportProgress
from voters.models import ImportMode, ImportRun

# A terminal shows this many bad rows; all of them are kept on the import run in the admin.
MAX_PRINTED_REJECTS = 1_000


class ImportCommand(BaseCommand):
    kind_label = "file"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--layout", default="generic", choices=layouts.LAYOUTS)
        parser.add_argument("--mode", default=ImportMode.STRICT, choices=ImportMode.values)
        parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help=argparse.SUPPRESS)

    def campaign(self, slug: str) -> Campaign:
        try:
            return Campaign.objects.get(slug=slug)
        except Campaign.DoesNotExist:
            raise CommandError(f"no campaign {slug!r}; create it with create_campaign") from None

    def progress_bar(self) -> tuple[ByteProgressBar, callable]:
        bar = ByteProgressBar(description=f"importing {self.kind_label}")

        def on_progress(p: ImportProgress) -> None:
            bar.update(
                bytes_done=p.bytes_done, bytes_total=p.bytes_total, rows=p.rows_read, phase=p.phase
            )

        return bar, on_progress

    def run_import(self, start) -> ImportRun:
        bar, on_progress = self.progress_bar()
        try:
            run = start(on_progress)
        except ImportFailed as exc:
            bar.close()
            self.print_rejects(exc.rejects)
            raise CommandError(str(exc)) from exc
        bar.close()
        if run.rejected:
            shown = run.rejected_rows.order_by("file_name", "line_number")[:MAX_PRINTED_REJECTS]
            for row in shown:
                self.stderr.write(f"{row.file_name}, line {row.line_number}: {row.reasons}")
            self.stderr.write(
                f"{run.rejected:,} rows quarantined; see import run {run.pk} in the admin"
            )
        self.stdout.write(f"import {run.pk}: {run.summary()} in {run.duration}")
        if run.field_summary():
            self.stdout.write(run.field_summary())
        for warning in run.warnings or []:
            self.stderr.write(f"warning: {warning}")
        return run

    def print_rejects(self, rejects: list[layouts.RejectedLine]) -> None:
        for reject in rejects[:MAX_PRINTED_REJECTS]:
            reasons = "; ".join(f"{e.field}: {e.reason}" for e in reject.errors)
            self.stderr.write(f"{reject.file_name}, line {reject.line_number}: {reasons}")
        if len(rejects) > MAX_PRINTED_REJECTS:
            self.stderr.write(f"… and {len(rejects) - MAX_PRINTED_REJECTS:,} more bad rows")
