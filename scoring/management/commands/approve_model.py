from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.management.arguments import campaign_of, user_of
from scoring.models import ModelKind, ModelStatus, ModelVersion
from scoring.services import approve_model


class Command(BaseCommand):
    help = (
        "Approve a model version (the latest draft of --kind unless --version is given); the "
        "previously approved one is retired. Audited under --user."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        # DESIGN names the option --version; Django's own --version (print Django's) yields.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign slug")
        parser.add_argument("--kind", required=True, choices=ModelKind.values)
        parser.add_argument("--version", type=int, help="model version id")
        parser.add_argument("--user", required=True, help="username of the approving staff")

    def handle(self, *args, campaign, kind, version, user, **options) -> None:
        target = campaign_of(campaign)
        drafts = ModelVersion.objects.filter(campaign=target, kind=kind)
        if version is not None:
            drafts = drafts.filter(pk=version)
        else:
            drafts = drafts.filter(status=ModelStatus.DRAFT)
        chosen = drafts.order_by("-created_at", "-id").first()
        if chosen is None:
            raise CommandError(f"no {kind} draft to approve in {target.slug}")
        try:
            approved = approve_model(version=chosen, user=user_of(user))
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"{approved} approved for {target.slug}")
