from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.management.arguments import design_of, summary_lines
from messaging.program_specs import SpecError
from messaging.programs import preview_program


class Command(BaseCommand):
    help = "Counts in a program's universe and per arm after its draw; writes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="program name")
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args, name, campaign, format, **options) -> None:
        design = design_of(campaign, name)
        try:
            summary = preview_program(design=design)
        except SpecError as exc:
            raise CommandError(f"program {name!r}: {exc}") from exc
        if format == "json":
            self.stdout.write(json.dumps(summary, indent=2))
            return
        for line in summary_lines(summary):
            self.stdout.write(line)
        self.stdout.write(f"preview of {name!r} ({design.policy}, seed {design.seed})")
