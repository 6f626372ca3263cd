"""Message variants: what a program says to a voter, per channel, templated and versioned."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from campaign.models import Campaign
from messaging.rendering import CompiledVariant, VariantTemplateError, compile_template
from messaging.sms_encoding import has_opt_out_language
from voters.models import Channel


class MessageVariantQuerySet(models.QuerySet["MessageVariant"]):
    def current(self) -> MessageVariantQuerySet:
        """The version of each variant that new work uses (one per campaign and name)."""
        return self.filter(is_current=True)


class MessageVariant(models.Model):
    """One version of a message variant: a door or phone script, a text, an email, a mail piece.

    A variant is its `name` within a campaign; each edit of a variant that has been used makes a
    new row with the next `version`, so whatever pinned a version (a program's arm) keeps exactly
    the words it was given. A version is "used" from `used_at` on; from then the database refuses
    any change to it but `is_current` and `tags` (migration 0001's trigger, on PostgreSQL), and
    its deletion. Written only through `messaging.services`.
    """

    # No index of its own: uniq_variant_version starts with campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="message_variants", db_index=False
    )
    name = models.CharField(
        max_length=200, help_text="What programs call this variant (their arms' names)."
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    is_current = models.BooleanField(
        default=True, editable=False, help_text="The version new programs get."
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(
        max_length=300, blank=True, help_text="Email only: the subject line (a template too)."
    )
    body = models.TextField(
        help_text="The script or message (for email, its plain-text body), as a template."
    )
    html_body = models.TextField(
        "HTML body", blank=True, help_text="Email only: the HTML body, as a template."
    )
    is_first_message = models.BooleanField(
        default=True,
        help_text="SMS only: opens a conversation with the number, so it must say how to opt "
        "out (e.g. 'Reply STOP to opt out').",
    )
    tags = models.JSONField(default=list, blank=True, help_text="Labels for finding variants.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When something first pinned this version; from then it is never edited.",
    )

    objects = MessageVariantQuerySet.as_manager()

    class Meta:
        # By id, not the campaign: ordering by the foreign key would join campaigns for its name.
        ordering = ["campaign_id", "name", "-version"]
        constraints = [
            # A version's address, which pins refer to; also the admin list per campaign.
            models.UniqueConstraint(
                fields=["campaign", "name", "version"], name="uniq_variant_version"
            ),
            # One current version per variant: what a new program's arm named `name` gets.
            models.UniqueConstraint(
                fields=["campaign", "name"],
                condition=models.Q(is_current=True),
                name="uniq_current_variant",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="variant_channel_known"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="variant_version_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_used(self) -> bool:
        return self.used_at is not None

    @property
    def lacks_opt_out_language(self) -> bool:
        """An SMS that opens a conversation and does not say how to stop."""
        return (
            self.channel == Channel.SMS
            and self.is_first_message
            and not has_opt_out_language(self.body)
        )

    def clean(self) -> None:
        """Every template parses and reads only the message context; email fields on email."""
        errors: dict[str, str] = {}
        if self.channel == Channel.EMAIL and not self.subject.strip():
            errors["subject"] = "An email needs a subject."
        if self.channel and self.channel != Channel.EMAIL:
            for field in ("subject", "html_body"):
                if getattr(self, field).strip():
                    errors[field] = "Only an email has a subject and an HTML body."
        for field, source in self._templates():
            try:
                compile_template(source, **self._template_options(field))
            except VariantTemplateError as exc:
                errors.setdefault(field, str(exc))
        if errors:
            raise ValidationError(errors)

    def compiled(self) -> CompiledVariant:
        """The variant's templates, parsed and checked, to render for many voters."""
        templates = {
            field: compile_template(source, **self._template_options(field))
            for field, source in self._templates()
        }
        return CompiledVariant(
            name=self.name,
            subject=templates.get("subject"),
            body=templates["body"],
            html_body=templates.get("html_body"),
        )

    def _templates(self) -> list[tuple[str, str]]:
        """(field, source) of each template the variant has; the body always counts."""
        fields = ("subject", "body", "html_body")
        return [(f, getattr(self, f)) for f in fields if f == "body" or getattr(self, f)]

    def _template_options(self, field: str) -> dict:
        label = str(self._meta.get_field(field).verbose_name)
        return {"html": field == "html_body", "variant": self.name, "field": label}
