"""Message variants in the admin: write, revise (a used version becomes a new one), preview.

Every write goes through `messaging.services`. The change page previews the variant rendered for
a made-up voter with every value known and for a few of the campaign's voters, and for a text
message its length, encoding and segments, with a warning when a first message does not say how
to opt out. The preview shows rendered messages only: the context holds no phone or email.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString

from campaign.admin import CampaignScopedAdmin, ScopedRelatedFieldListFilter, html_table
from messaging.models import MessageVariant
from messaging.rendering import (
    ALLOWED_FILTERS,
    ALLOWED_TAGS,
    CONTEXT,
    RenderedMessage,
    VariantTemplateError,
)
from messaging.services import (
    create_variant,
    delete_variant,
    example_context,
    render_samples,
    revise_variant,
    sample_voters,
)
from messaging.sms_encoding import GSM7, non_gsm7_characters, sms_size
from voters.models import Channel

SAMPLE_VOTERS = 3
EXAMPLE = "example voter"


class TagsField(forms.CharField):
    """Tags typed as one comma-separated line, kept as a list."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


class MessageVariantForm(forms.ModelForm):
    tags = TagsField(required=False, help_text="Comma-separated, e.g. 'healthcare, young'.")

    class Meta:
        model = MessageVariant
        fields = (
            "campaign", "name", "channel", "subject", "body", "html_body", "is_first_message",
            "tags",
        )  # fmt: skip


@admin.register(MessageVariant)
class MessageVariantAdmin(CampaignScopedAdmin):
    form = MessageVariantForm
    list_display = (
        "name", "version", "channel", "campaign", "is_current", "is_used", "tag_list", "created_at",
    )  # fmt: skip
    list_filter = ("channel", "is_current", ("campaign", ScopedRelatedFieldListFilter))
    list_select_related = ("campaign",)
    object_select_related = ("campaign", "created_by")
    search_fields = ("name",)
    readonly_fields = (
        "template_context", "version", "is_current", "usage", "created_by", "created_at",
        "checks", "preview",
    )  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj=None):
        message = ("channel", "subject", "body", "html_body", "is_first_message", "tags")
        if obj is None:
            return [(None, {"fields": ("campaign", "name", *message, "template_context")})]
        return [
            (None, {"fields": ("campaign", "name", ("version", "is_current"), "usage")}),
            ("Message", {"fields": (*message, "template_context")}),
            ("Preview", {"fields": ("checks", "preview")}),
            (None, {"fields": (("created_by", "created_at"),)}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("template_context",)
        # A variant is its name in its campaign; renaming would orphan what pinned it. Its
        # channel is fixed once a version has been used (a program of that channel pinned it).
        fixed = (
            ("campaign", "name", "channel")
            if obj.version > 1 or obj.is_used
            else ("campaign", "name")
        )
        return (*fixed, *self.readonly_fields)

    def get_actions(self, request: HttpRequest):
        # One at a time from the change page: deleting a version is refused once it is used.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # -- permissions --------------------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Older versions are history: shown, never edited (the current one is revised instead).
        if obj is not None and not obj.is_current:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and (obj.is_used or not obj.is_current):
            return False
        return super().has_delete_permission(request, obj)

    # -- writes, through the services ---------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        content = {
            "body": data["body"],
            "subject": data["subject"],
            "html_body": data["html_body"],
            "is_first_message": data["is_first_message"],
            "tags": data["tags"],
            "by": request.user,
        }
        if change:
            saved = revise_variant(variant=obj, channel=data.get("channel", obj.channel), **content)
            if saved.pk != obj.pk:
                request._variant_new_version = saved
        else:
            saved = create_variant(
                campaign=data["campaign"], name=data["name"], channel=data["channel"], **content
            )
        obj.pk, obj.version, obj.is_current = saved.pk, saved.version, saved.is_current
        obj._state.adding = False
        if saved.lacks_opt_out_language:
            self.message_user(request, OPT_OUT_WARNING, messages.WARNING)

    def response_change(self, request: HttpRequest, obj: MessageVariant) -> HttpResponse:
        new = getattr(request, "_variant_new_version", None)
        if new is None:
            return super().response_change(request, obj)
        self.message_user(
            request,
            f"{obj.name} v{new.version - 1} has been used, so it stays as it was; your edit is "
            f"v{new.version}, now the current version.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:messaging_messagevariant_change", args=[new.pk]))

    def delete_model(self, request, obj):
        delete_variant(variant=obj)

    def delete_queryset(self, request, queryset):
        for variant in queryset:  # only reached one at a time (no bulk action)
            delete_variant(variant=variant)

    # -- columns and fields -------------------------------------------------------------------

    @admin.display(description="used", boolean=True)
    def is_used(self, obj: MessageVariant) -> bool:
        return obj.is_used

    @admin.display(description="tags")
    def tag_list(self, obj: MessageVariant) -> str:
        return ", ".join(obj.tags)

    @admin.display(description="use")
    def usage(self, obj: MessageVariant) -> str:
        if obj.is_used:
            return (
                f"Used since {obj.used_at:%Y-%m-%d %H:%M}: saving an edit makes version "
                f"{obj.version + 1}; this one stays as it was."
            )
        return "Not used yet: saving edits this version in place."

    @admin.display(description="what a template sees")
    def template_context(self, obj: MessageVariant | None = None) -> SafeString:
        return context_help()

    @admin.display(description="checks")
    def checks(self, obj: MessageVariant) -> SafeString:
        warnings = variant_warnings(obj)
        if not warnings:
            return format_html("<p>{}</p>", "No warnings.")
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in warnings))
        )

    @admin.display(description="rendered")
    def preview(self, obj: MessageVariant) -> SafeString:
        try:
            rendered = render_samples(
                variant=obj,
                samples=[
                    (EXAMPLE, example_context(campaign=obj.campaign)),
                    *sample_voters(campaign=obj.campaign, limit=SAMPLE_VOTERS),
                ],
            )
        except VariantTemplateError as exc:
            return format_html("<p>{}</p>", str(exc))
        return preview_table(obj, rendered)


OPT_OUT_WARNING = (
    "This text opens a conversation but does not say how to opt out: add e.g. "
    "'Reply STOP to opt out'."
)


def context_help() -> SafeString:
    rows = [(f"{{{{ {name} }}}}", meaning) for name, meaning in CONTEXT.items()]
    return format_html(
        '{}<p class="help">{}</p>',
        html_table(("name", "meaning"), rows, ""),
        f"Nothing else: no other data, settings or files. Tags: {', '.join(ALLOWED_TAGS)}. "
        f"Filters: {', '.join(ALLOWED_FILTERS)}. A missing value renders as nothing; loop over "
        "talking points with {% for point in voter.talking_points %}…{% endfor %}.",
    )


def variant_warnings(variant: MessageVariant) -> list[str]:
    """What staff should fix before a variant goes out (nothing here stops a save)."""
    warnings = []
    if variant.lacks_opt_out_language:
        warnings.append(OPT_OUT_WARNING)
    if variant.channel == Channel.SMS:
        odd = non_gsm7_characters(variant.body)
        if odd:
            warnings.append(
                f"Characters outside GSM-7 ({' '.join(odd)}) send the text as UCS-2: 70 "
                "characters a segment instead of 160."
            )
    return warnings


def preview_table(
    variant: MessageVariant, rendered: list[tuple[str, RenderedMessage]]
) -> SafeString:
    if variant.channel == Channel.SMS:
        return html_table(
            ("for", "text", "characters", "encoding", "segments"),
            ((who, _pre(m.body), *_sms_columns(m.body)) for who, m in rendered),
            "",
        )
    if variant.channel == Channel.EMAIL:
        return html_table(
            ("for", "subject", "plain text", "HTML"),
            (
                (who, escape(m.subject), _pre(m.body), _html_frame(m.html_body))
                for who, m in rendered
            ),
            "",
        )
    return html_table(("for", "script"), ((who, _pre(m.body)) for who, m in rendered), "")


def _sms_columns(text: str) -> tuple[str, str, str]:
    size = sms_size(text)
    units = "septets" if size.encoding == GSM7 else "UTF-16 units"
    return (
        f"{size.characters} ({size.units} {units})",
        size.encoding,
        f"{size.segments} (of {size.per_segment} each)",
    )


# Rendered templates come back marked safe (the HTML body is HTML, the text is not HTML at all), so
# each is escaped here explicitly: format_html would pass a safe string through as markup.


def _pre(text: str) -> SafeString:
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', escape(text))


def _html_frame(html: str) -> SafeString | str:
    if not html:
        return "—"
    # A sandboxed frame: the email's HTML is shown as a mail client would, and runs no script.
    return format_html(
        '<iframe sandbox srcdoc="{}" style="width: 32em; height: 16em"></iframe>', escape(html)
    )
