from django.apps import AppConfig
from django.db.models.signals import post_save


class VotersConfig(AppConfig):
    name = "voters"
    verbose_name = "Voters"

    def ready(self) -> None:
        from campaign.models import Campaign

        # The one signal: campaign/ may not import voters/ (imports flow one way), yet every
        # campaign, however created (command, admin, shell, factory), must start with the
        # built-in support question and the VAN code table.
        post_save.connect(_campaign_saved, sender=Campaign, dispatch_uid="voters_campaign_defaults")


def _campaign_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        from voters.defaults import ensure_campaign_defaults

        ensure_campaign_defaults(instance)
