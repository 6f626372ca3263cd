from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.management.arguments import design_of
from messaging.walklists import download_walk_list
from scoring.management.arguments import user_of


class Command(BaseCommand):
    help = (
        "Write the walk lists of a program's turfs (PDF or CSV, one file per turf, by rank) into "
        "a folder. Each file is an audited download, under --user when given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--program", required=True, help="program name")
        parser.add_argument("--format", choices=("pdf", "csv"), default="pdf", dest="fmt")
        parser.add_argument("--out", required=True, type=Path, help="folder for the files")
        parser.add_argument("--turf", action="append", help="only this turf (repeatable)")
        parser.add_argument("--user", help="username of the staff member printing them")

    def handle(self, *args, campaign, program, fmt, out, turf, user, **options) -> None:
        design = design_of(campaign, program)
        turfs = design.turfs.select_related("design__program", "campaign", "organizer")
        if turf:
            turfs = turfs.filter(name__in=turf)
            missing = set(turf) - set(turfs.values_list("name", flat=True))
            if missing:
                raise CommandError(f"no turf {', '.join(sorted(missing))} in program {program!r}")
        if not turfs.exists():
            raise CommandError(f"program {program!r} has no turfs: run cut_turfs first")
        out.mkdir(parents=True, exist_ok=True)
        by = user_of(user) if user else None
        written = 0
        for one in turfs.order_by("rank"):
            content, _, name = download_walk_list(turf=one, fmt=fmt, by=by)
            (out / f"{one.rank:03d}-{name}").write_bytes(content)
            written += 1
        self.stdout.write(f"{written:,} walk lists ({fmt}) written to {out}")
