from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.management.arguments import design_of
from messaging.programs import export_assignments


class Command(BaseCommand):
    help = (
        "A committed program's assignments as CSV (voter id, household, arm, variant, "
        "propensity) for vendors that deliver outside the product. Audited as an export."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="program name")
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args, name, campaign, out, **options) -> None:
        design = design_of(campaign, name)
        if design.committed_at is None:
            raise CommandError(f"program {name!r} is not committed: nothing is assigned yet")
        if not out:
            count = export_assignments(design=design, out=sys.stdout, actor="export_assignments")
        else:
            try:
                with open(out, "w", newline="", encoding="utf-8") as handle:
                    count = export_assignments(
                        design=design, out=handle, actor="export_assignments"
                    )
            except OSError as exc:
                raise CommandError(f"{out}: cannot write: {exc}") from exc
        self.stderr.write(f"{count:,} assignments of {name!r} exported")
