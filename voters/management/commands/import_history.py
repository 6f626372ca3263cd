from voters.management.import_command import ImportCommand
from voters.services import import_vote_history


class Command(ImportCommand):
    help = "Import vote-history files into a campaign (rows already on record are skipped)."
    kind_label = "history"

    def handle(self, *args, files, campaign, layout, mode, batch_rows, **options) -> None:
        target = self.campaign(campaign)
        self.run_import(
            lambda on_progress: import_vote_history(
                campaign=target,
                paths=files,
                layout=layout,
                mode=mode,
                on_progress=on_progress,
                batch_rows=batch_rows,
            )
        )
