"""The SMS outbox in the admin: each campaign's SMS settings (caps, HELP text, Twilio token), the
texts and the replies (read-only: the services write them), the variants paused for carrier
filtering, and a voter's conversation on the voter page. Message bodies are shown with phone
numbers and emails masked, since a reply may hold anyone's; the recipient's number is on the
voter page for those allowed to see it."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from campaign.admin import (
    CampaignScopedAdmin,
    ScopedRelatedFieldListFilter,
    campaign_ids,
    html_table,
    is_superuser,
    scoped_related_queryset,
)
from campaign.lib.masking import mask_contact_details
from campaign.views import client_ip
from messaging.models import PausedVariant, SmsInbound, SmsMessage, SmsSettings
from messaging.sms_inbound import resolve_review, resume_variant
from voters.admin_panels import register_voter_panel
from voters.models import Voter

CONVERSATION_LIMIT = 50


def flat(fields: tuple) -> tuple[str, ...]:
    """A page's field layout (with rows as tuples) as the flat list readonly_fields wants."""
    return tuple(name for row in fields for name in (row if isinstance(row, tuple) else (row,)))


class SmsSettingsForm(forms.ModelForm):
    twilio_auth_token = forms.CharField(
        required=False,
        max_length=64,
        # A secret: typed in, never written back into the page.
        widget=forms.PasswordInput(render_value=False),
        help_text="The Twilio account's auth token, which signs its callbacks. Left empty, the "
        "token stays as it is; without one every Twilio callback is refused.",
    )

    class Meta:
        model = SmsSettings
        fields = (
            "campaign", "per_second", "per_day", "help_contact", "help_frequency",
            "twilio_auth_token",
        )  # fmt: skip

    def clean_twilio_auth_token(self) -> str:
        typed = self.cleaned_data["twilio_auth_token"].strip()
        return typed or (self.instance.twilio_auth_token if self.instance.pk else "")


@admin.register(SmsSettings)
class SmsSettingsAdmin(CampaignScopedAdmin):
    form = SmsSettingsForm
    list_display = ("campaign", "per_second", "per_day", "help_contact")
    list_select_related = ("campaign",)
    object_select_related = ("campaign",)


class ProgramListFilter(ScopedRelatedFieldListFilter):
    """The program filter, naming each program from one query (a design's name is its
    program's: the shared filter would read each program apart)."""

    def field_choices(self, field, request, model_admin):
        qs = scoped_related_queryset(field.related_model, request)
        if qs is None:
            return super().field_choices(field, request, model_admin)
        return [(obj.pk, str(obj)) for obj in qs.select_related("program")[: self.max_choices]]


@admin.register(SmsMessage)
class SmsMessageAdmin(CampaignScopedAdmin):
    """The outbox, newest first (read-only)."""

    editable = False
    list_display = (
        "id", "created_at", "kind", "status", "design", "segments", "leased_at", "sent_at",
        "finished_at", "error_code",
    )  # fmt: skip
    list_select_related = ("design__program",)
    list_filter = ("status", "kind", ("design", ProgramListFilter))
    ordering = ("-id",)
    sortable_by = ()
    object_select_related = ("campaign", "design__program", "arm", "variant", "voter")
    fields = (
        "campaign", ("kind", "status"), ("design", "arm", "variant"), "voter", "masked_body",
        ("encoding", "segments"), ("hold_until", "leased_at", "lease_expires_at"),
        ("vendor_message_id", "sent_at", "finished_at"), ("error_code", "cancel_reason"),
        "reply_to",
    )  # fmt: skip
    readonly_fields = flat(fields)

    @admin.display(description="body")
    def masked_body(self, obj: SmsMessage) -> str:
        return mask_contact_details(obj.body)


@admin.register(SmsInbound)
class SmsInboundAdmin(CampaignScopedAdmin):
    """Replies, newest first. Those that may mean "stop" wait under "needs review", and hold
    their number's texts, until staff opt the number out or keep texting it (the actions)."""

    editable = False
    actions = ("opt_out_reviewed", "keep_texting_reviewed")
    list_display = (
        "received_at", "kind", "rule", "recorded", "needs_review", "review_outcome", "voter",
    )  # fmt: skip
    list_select_related = ("voter",)
    list_filter = ("needs_review", "kind", "recorded")
    ordering = ("-id",)
    sortable_by = ()
    object_select_related = ("campaign", "voter", "in_reply_to")
    fields = (
        "campaign", "vendor_message_id", "voter", "masked_body", "received_at",
        ("kind", "rule"), ("recorded", "needs_review", "is_vendor_confirmed"), "in_reply_to",
        ("reviewed_at", "reviewed_by", "review_outcome"),
    )  # fmt: skip
    readonly_fields = flat(fields)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_review_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, self.edit_roles)

    @admin.action(description="Reviewed: opt these numbers out", permissions=["review"])
    def opt_out_reviewed(self, request: HttpRequest, queryset: QuerySet[SmsInbound]) -> None:
        self._review(request, queryset, opt_out=True)

    @admin.action(description="Reviewed: keep texting these numbers", permissions=["review"])
    def keep_texting_reviewed(self, request: HttpRequest, queryset: QuerySet[SmsInbound]) -> None:
        self._review(request, queryset, opt_out=False)

    def _review(self, request: HttpRequest, queryset: QuerySet[SmsInbound], *, opt_out: bool):
        writable = queryset.select_related("campaign", "voter")
        if not is_superuser(request):
            writable = writable.filter(campaign__in=campaign_ids(request, self.edit_roles))
        decided = sum(
            resolve_review(reply=reply, opt_out=opt_out, by=request.user,
                           client_ip=client_ip(request))
            for reply in writable.filter(needs_review=True, reviewed_at__isnull=True)
        )  # fmt: skip
        outcome = "opted out" if opt_out else "kept"
        self.message_user(request, f"{decided} replies reviewed: numbers {outcome}.")

    @admin.display(description="body")
    def masked_body(self, obj: SmsInbound) -> str:
        return mask_contact_details(obj.body)


@admin.register(PausedVariant)
class PausedVariantAdmin(CampaignScopedAdmin):
    """SMS variants carriers filtered too often (error 30007): their texts wait until staff
    have read the message again and resume it (the action), or revise it."""

    campaign_path = "variant__campaign"
    editable = False
    actions = ("resume_reviewed",)
    list_display = ("variant", "channel", "filtered", "sent", "filtered_share", "paused_at")
    list_select_related = ("variant",)
    ordering = ("-paused_at",)
    object_select_related = ("variant",)
    fields = ("variant", ("filtered", "sent", "filtered_share"), "paused_at")
    readonly_fields = flat(fields)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_resume_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, None, self.edit_roles)

    @admin.action(description="Reviewed: send these variants again", permissions=["resume"])
    def resume_reviewed(self, request: HttpRequest, queryset: QuerySet[PausedVariant]) -> None:
        writable = queryset
        if not is_superuser(request):
            writable = writable.filter(variant__campaign__in=campaign_ids(request, self.edit_roles))
        resumed = sum(
            resume_variant(paused=paused, by=request.user, client_ip=client_ip(request))
            for paused in writable
        )
        self.message_user(
            request, f"{resumed} variants resumed: their texts go out with the next leases."
        )

    @admin.display(description="channel")
    def channel(self, obj: PausedVariant) -> str:
        return obj.variant.get_channel_display()

    @admin.display(description="filtered share")
    def filtered_share(self, obj: PausedVariant) -> str:
        return f"{obj.filtered / obj.sent:.1%}" if obj.sent else "-"


def conversation(voter: Voter) -> SafeString:
    """The texts to the voter's number and its replies, oldest first (two queries): by number,
    so a household's shared phone and the answers to its replies show on each member's page."""
    if not voter.phone:
        return html_table((), [], "No phone number.")
    mine = {"campaign_id": voter.campaign_id, "phone": voter.phone}
    sent = SmsMessage.objects.filter(**mine).order_by("-created_at")
    received = SmsInbound.objects.filter(**mine).order_by("-received_at")
    rows = [
        (m.created_at, "sent", f"{m.get_kind_display()}: {m.get_status_display()}", m.body)
        for m in sent[:CONVERSATION_LIMIT]
    ]
    rows += [
        (r.received_at, "received", _reply_outcome(r), r.body)
        for r in received[:CONVERSATION_LIMIT]
    ]
    rows.sort(key=lambda row: row[0])
    return html_table(
        ("when", "", "what", "text"),
        [
            (f"{at:%Y-%m-%d %H:%M}", way, what, mask_contact_details(body))
            for at, way, what, body in rows
        ],
        "No text messages.",
    )


def _reply_outcome(reply: SmsInbound) -> str:
    outcome = reply.kind + (f" ({reply.rule})" if reply.rule else "")
    if reply.recorded:
        outcome += f": {reply.recorded.replace('_', '-')} recorded"
    if reply.needs_review:
        outcome += f": reviewed, {reply.review_outcome}" if reply.reviewed_at else ": needs review"
    return outcome


register_voter_panel(
    name="sms_conversation",
    title="Text messages",
    label="texts and replies (numbers and emails in them masked)",
    after="Timeline",
    render=conversation,
)
