import argparse
from pathlib import Path

from django.core.management.base import CommandParser

from voters import layouts
from voters.importers import BATCH_ROWS
from voters.management.import_command import ImportCommand
from voters.models import ImportMode
from voters.services import import_contact_history


class Command(ImportCommand):
    help = (
        "Import contact history and survey responses into a campaign: the generic CSV/TSV, or "
        "VAN Contact History and Survey Response report exports (--layout van)."
    )
    kind_label = "contacts"

    def add_arguments(self, parser: CommandParser) -> None:
        # Not ImportCommand's: its --layout lists the voter-file layouts.
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--layout", default="generic", choices=layouts.CONTACT_LAYOUTS)
        parser.add_argument("--mode", default=ImportMode.STRICT, choices=ImportMode.values)
        parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help=argparse.SUPPRESS)

    def handle(self, *args, files, campaign, layout, mode, batch_rows, **options) -> None:
        target = self.campaign(campaign)
        self.run_import(
            lambda on_progress: import_contact_history(
                campaign=target,
                paths=files,
                layout=layout,
                mode=mode,
                on_progress=on_progress,
                batch_rows=batch_rows,
            )
        )
