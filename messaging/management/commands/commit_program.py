from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.management.arguments import design_of, summary_lines
from messaging.program_specs import SpecError
from messaging.programs import ProgramStateError, commit_program
from scoring.management.arguments import user_of


class Command(BaseCommand):
    help = (
        "Draw a program and write its assignments, in one transaction; a program is committed "
        "once. Audited under --user."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="program name")
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--user", help="username of the staff member committing it")

    def handle(self, *args, name, campaign, user, **options) -> None:
        design = design_of(campaign, name)
        try:
            design = commit_program(design=design, by=user_of(user) if user else None)
        except (SpecError, ProgramStateError) as exc:
            raise CommandError(f"program {name!r}: {exc}") from exc
        for line in summary_lines(design.summary):
            self.stdout.write(line)
        assigned = sum(arm["voters"] for arm in design.summary["arms"])
        self.stdout.write(f"program {name!r} committed: {assigned:,} voters assigned")
