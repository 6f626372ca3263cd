from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.canvassing import TurfError, cut_program_turfs
from messaging.management.arguments import design_of, turf_lines
from scoring.management.arguments import user_of


class Command(BaseCommand):
    help = (
        "Cut a committed door program's treated households into turfs of --min to --max doors "
        "within each precinct, in walking order, ranked by expected net votes per door. Cutting "
        "again replaces the turfs, until a result has been recorded. Audited under --user."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--program", required=True, help="program name")
        parser.add_argument("--min", type=int, default=40, dest="min_doors", help="default 40")
        parser.add_argument("--max", type=int, default=80, dest="max_doors", help="default 80")
        parser.add_argument("--user", help="username of the staff member cutting them")

    def handle(self, *args, campaign, program, min_doors, max_doors, user, **options) -> None:
        design = design_of(campaign, program)
        try:
            turfs = cut_program_turfs(
                design=design,
                min_doors=min_doors,
                max_doors=max_doors,
                by=user_of(user) if user else None,
            )
        except TurfError as exc:
            raise CommandError(str(exc)) from exc
        for line in turf_lines(turfs):
            self.stdout.write(line)
        doors = sum(t.doors for t in turfs)
        voters = sum(t.voters for t in turfs)
        self.stdout.write(
            f"program {program!r} cut into {len(turfs):,} turfs: {doors:,} doors, {voters:,} voters"
        )
