from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaign.services import create_campaign


class Command(BaseCommand):
    help = "Create a campaign (idempotent: an existing campaign with the same slug is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--state", required=True, help="two-letter postal code, e.g. NC")
        parser.add_argument("--time-zone", help="IANA zone; default: the state's main zone")

    def handle(self, *args, slug: str, name: str, state: str, time_zone: str | None, **options):
        try:
            campaign, created = create_campaign(
                slug=slug, name=name, state=state, time_zone=time_zone
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        verb = "created" if created else "already exists"
        self.stdout.write(
            f"campaign {campaign.slug} {verb} (id {campaign.pk}, {campaign.state}, "
            f"{campaign.time_zone})"
        )
