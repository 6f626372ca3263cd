import argparse
from pathlib import Path

from django.core.management.base import CommandParser

from voters.importers import BATCH_ROWS
from voters.management.import_command import ImportCommand
from voters.models import ImportMode
from voters.services import import_program_assignments


class Command(ImportCommand):
    help = (
        "Import the arms (a variant name or 'control') of a past randomized program; the program "
        "and its arms are created when new, and no voter is ever re-assigned."
    )
    kind_label = "assignments"

    def add_arguments(self, parser: CommandParser) -> None:
        # Not ImportCommand's: assignment files have one layout.
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--program", required=True, help="the program's name")
        parser.add_argument("--mode", default=ImportMode.STRICT, choices=ImportMode.values)
        parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help=argparse.SUPPRESS)

    def handle(self, *args, files, campaign, program, mode, batch_rows, **options) -> None:
        target = self.campaign(campaign)
        self.run_import(
            lambda on_progress: import_program_assignments(
                campaign=target,
                program=program,
                paths=files,
                mode=mode,
                on_progress=on_progress,
                batch_rows=batch_rows,
            )
        )
