import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# A used version of a message variant is frozen: what a program pinned is what its voters got.
# The trigger refuses any UPDATE of a used row that changes more than `is_current` (retired when
# the next version is written) and `tags` (staff's labels), and refuses its DELETE. Comparing
# the whole row minus those two columns keeps columns added later frozen too. PostgreSQL only;
# the embedded SQLite demo relies on messaging.services alone.
FROZEN_FUNCTION = """
CREATE OR REPLACE FUNCTION messaging_variant_frozen() RETURNS trigger AS $$
BEGIN
    IF OLD.used_at IS NULL THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'message variant % (version %) has been used: DELETE refused',
            OLD.id, OLD.version USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - 'is_current' - 'tags') IS DISTINCT FROM
       (to_jsonb(OLD) - 'is_current' - 'tags') THEN
        RAISE EXCEPTION 'message variant % (version %) has been used: edit refused, write a new version',
            OLD.id, OLD.version USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def create_trigger(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FROZEN_FUNCTION, params=None)
    schema_editor.execute(
        "CREATE TRIGGER messaging_messagevariant_frozen BEFORE UPDATE OR DELETE "
        "ON messaging_messagevariant FOR EACH ROW EXECUTE FUNCTION messaging_variant_frozen()"
    )


def drop_trigger(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS messaging_messagevariant_frozen ON messaging_messagevariant"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS messaging_variant_frozen()")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("campaign", "0003_audit_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MessageVariant",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="What programs call this variant (their arms' names).",
                        max_length=200,
                    ),
                ),
                ("version", models.PositiveIntegerField(default=1, editable=False)),
                (
                    "is_current",
                    models.BooleanField(
                        default=True, editable=False, help_text="The version new programs get."
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[
                            ("door", "Door"),
                            ("phone", "Phone call"),
                            ("sms", "Text message"),
                            ("email", "Email"),
                            ("mail", "Mail piece"),
                        ],
                        max_length=8,
                    ),
                ),
                (
                    "subject",
                    models.CharField(
                        blank=True,
                        help_text="Email only: the subject line (a template too).",
                        max_length=300,
                    ),
                ),
                (
                    "body",
                    models.TextField(
                        help_text="The script or message (for email, its plain-text body), as a template."
                    ),
                ),
                (
                    "html_body",
                    models.TextField(
                        blank=True,
                        help_text="Email only: the HTML body, as a template.",
                        verbose_name="HTML body",
                    ),
                ),
                (
                    "is_first_message",
                    models.BooleanField(
                        default=True,
                        help_text="SMS only: opens a conversation with the number, so it must say how to opt out (e.g. 'Reply STOP to opt out').",
                    ),
                ),
                (
                    "tags",
                    models.JSONField(
                        blank=True, default=list, help_text="Labels for finding variants."
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "used_at",
                    models.DateTimeField(
                        blank=True,
                        editable=False,
                        help_text="When something first pinned this version; from then it is never edited.",
                        null=True,
                    ),
                ),
                (
                    "campaign",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="message_variants",
                        to="campaign.campaign",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["campaign_id", "name", "-version"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("campaign", "name", "version"), name="uniq_variant_version"
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("is_current", True)),
                        fields=("campaign", "name"),
                        name="uniq_current_variant",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("channel__in", ["door", "phone", "sms", "email", "mail"])
                        ),
                        name="variant_channel_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("version__gte", 1)), name="variant_version_gte_1"
                    ),
                ],
            },
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
