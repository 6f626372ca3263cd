from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.program_specs import SpecError, parse_spec_text
from messaging.programs import create_program
from scoring.management.arguments import campaign_of, user_of


class Command(BaseCommand):
    help = (
        "Create a draft program from a YAML or JSON spec (channel, arms, policy, control and "
        "exploration shares, budget, universe); preview_program shows its draw, commit_program "
        "writes it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("spec", help="YAML or JSON file")
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--user", help="username of the staff member creating it")

    def handle(self, *args, spec, campaign, user, **options) -> None:
        target = campaign_of(campaign)
        try:
            text = Path(spec).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{spec}: cannot read: {exc}") from exc
        try:
            design = create_program(
                campaign=target,
                spec=parse_spec_text(text),
                by=user_of(user) if user else None,
            )
        except SpecError as exc:
            raise CommandError(f"{spec}: {exc}") from exc
        self.stdout.write(
            f"program {design.program.name!r} created (draft, seed {design.seed}); "
            f"preview it with preview_program"
        )
