from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.management.arguments import campaign_of, program_of
from scoring.services.exports import ExportError, export_out_of_fold, export_scores


class Command(BaseCommand):
    help = (
        "Write one CSV row per voter of the latest complete scoring run (audited); with "
        "--program NAME --out-of-fold, the persuasion model's cross-fitted uplifts instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
        parser.add_argument("--program", help="the persuasion model's program (--out-of-fold)")
        parser.add_argument("--out-of-fold", action="store_true")

    def handle(self, *args, campaign, out, program, out_of_fold, **options) -> None:
        target = campaign_of(campaign)
        if out_of_fold and not program:
            raise CommandError("--out-of-fold needs --program NAME")
        handle = out.open("w", newline="", encoding="utf-8") if out else self.stdout
        try:
            if out_of_fold:
                rows = export_out_of_fold(
                    campaign=target, program=program_of(target, program), out=handle,
                    actor="export_scores command",
                )  # fmt: skip
            else:
                rows = export_scores(campaign=target, out=handle, actor="export_scores command")
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if out:
                handle.close()
        if out:
            sys.stderr.write(f"{rows:,} voters written to {out}\n")
