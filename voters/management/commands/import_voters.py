from voters.management.import_command import ImportCommand
from voters.services import import_voter_file


class Command(ImportCommand):
    help = "Import voter files into a campaign (upsert by voter id)."
    kind_label = "voters"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--full",
            action="store_true",
            help="the files are the whole voter file: voters absent from them are marked removed",
        )

    def handle(self, *args, files, campaign, layout, mode, full, batch_rows, **options) -> None:
        target = self.campaign(campaign)
        self.run_import(
            lambda on_progress: import_voter_file(
                campaign=target,
                paths=files,
                layout=layout,
                mode=mode,
                full=full,
                on_progress=on_progress,
                batch_rows=batch_rows,
            )
        )
