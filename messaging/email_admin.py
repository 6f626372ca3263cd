"""The email outbox in the admin: each campaign's email settings (caps, the provider's webhook
key, the pause) and the emails (read-only: the services write them)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from campaign.admin import CampaignScopedAdmin
from messaging.email_events import complaint_rate
from messaging.models import EmailMessage, EmailSettings
from messaging.sms_admin import ProgramListFilter, flat


@admin.register(EmailSettings)
class EmailSettingsAdmin(CampaignScopedAdmin):
    list_display = (
        "campaign", "per_minute", "per_day", "complaints", "paused_at", "pause_reason",
    )  # fmt: skip
    list_select_related = ("campaign",)
    object_select_related = ("campaign",)
    fields = ("campaign", "per_minute", "per_day", "sendgrid_public_key", "complaints",
              "paused_at", "pause_reason")  # fmt: skip
    # Resuming after an automatic pause is clearing `paused_at` here, a deliberate act.
    readonly_fields = ("complaints", "pause_reason")

    @admin.display(description="complaint rate (30 days)")
    def complaints(self, obj: EmailSettings) -> str:
        # One row per campaign, so two counts a row are cheap; sending pauses above 0.3 %.
        rate = complaint_rate(campaign=obj.campaign_id, now=timezone.now())
        return "no email sent" if rate is None else f"{rate:.2%}"


@admin.register(EmailMessage)
class EmailMessageAdmin(CampaignScopedAdmin):
    """The outbox, newest first (read-only)."""

    editable = False
    list_display = ("id", "created_at", "status", "design", "claimed_at", "sent_at", "error")
    list_select_related = ("design__program",)
    list_filter = ("status", ("design", ProgramListFilter))
    ordering = ("-id",)
    sortable_by = ()
    object_select_related = ("campaign", "design__program", "arm", "variant", "voter")
    fields = (
        "campaign", "status", ("design", "arm", "variant"), "voter", "message_id",
        ("claimed_at", "sent_at", "finished_at"), ("error", "cancel_reason"),
    )  # fmt: skip
    readonly_fields = flat(fields)
