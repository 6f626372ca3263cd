import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# A text in a final status (delivered, failed, undelivered, canceled) keeps it: a late or
# repeated receipt must never move it back. messaging.sms writes every status change as a
# conditional UPDATE; this trigger refuses any other writer's. PostgreSQL only; the embedded
# SQLite demo relies on the conditional UPDATEs alone.
FINAL_FUNCTION = """
CREATE OR REPLACE FUNCTION messaging_sms_final() RETURNS trigger AS $$
BEGIN
    IF OLD.status IN ('delivered', 'failed', 'undelivered', 'canceled')
       AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'SMS % is % (final): status change to % refused',
            OLD.id, OLD.status, NEW.status USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def create_trigger(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FINAL_FUNCTION, params=None)
    schema_editor.execute(
        "CREATE TRIGGER messaging_smsmessage_final BEFORE UPDATE OF status "
        "ON messaging_smsmessage FOR EACH ROW EXECUTE FUNCTION messaging_sms_final()"
    )


def drop_trigger(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS messaging_smsmessage_final ON messaging_smsmessage"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS messaging_sms_final()")


class Migration(migrations.Migration):
    dependencies = [
        ("campaign", "0008_sms_outbox"),
        ("messaging", "0006_field_result_settlement"),
        ("voters", "0012_assignment_row_checks_dropped"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SmsWindowProfile",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.CharField(help_text="'zone,zone;ST,ST'.", max_length=500, unique=True),
                ),
                ("zones", models.JSONField()),
                ("states", models.JSONField()),
            ],
        ),
        migrations.CreateModel(
            name="PausedVariant",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("filtered", models.PositiveIntegerField()),
                ("sent", models.PositiveIntegerField()),
                ("paused_at", models.DateTimeField(auto_now_add=True)),
                (
                    "variant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="messaging.messagevariant",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SmsInbound",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("vendor_message_id", models.CharField(max_length=100)),
                (
                    "phone",
                    models.CharField(help_text="Who sent it (E.164 when readable).", max_length=32),
                ),
                ("body", models.TextField()),
                ("received_at", models.DateTimeField()),
                (
                    "is_vendor_confirmed",
                    models.BooleanField(
                        default=False, help_text="The vendor already answered the keyword itself."
                    ),
                ),
                ("kind", models.CharField(help_text="messaging.replies.ReplyKind", max_length=16)),
                ("rule", models.CharField(blank=True, max_length=64)),
                (
                    "recorded",
                    models.CharField(
                        blank=True, help_text="opt_out, opt_in or empty.", max_length=8
                    ),
                ),
                ("needs_review", models.BooleanField(default=False)),
                ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "review_outcome",
                    models.CharField(
                        blank=True,
                        help_text="opted_out or kept, once staff decided.",
                        max_length=16,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "campaign",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="campaign.campaign",
                    ),
                ),
                (
                    "vendor_key",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty when it came through the Twilio endpoint.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="campaign.vendorapikey",
                    ),
                ),
                (
                    "voter",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="voters.voter",
                    ),
                ),
            ],
            options={
                "verbose_name": "SMS reply",
                "verbose_name_plural": "SMS replies",
                "ordering": ["-received_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="SmsMessage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("program", "Program message"),
                            ("opt_out_confirmation", "Opt-out confirmation"),
                            ("opt_in_confirmation", "Opt-in confirmation"),
                            ("help", "HELP answer"),
                        ],
                        default="program",
                        max_length=24,
                    ),
                ),
                ("phone", models.CharField(help_text="E.164", max_length=20)),
                ("body", models.TextField()),
                ("encoding", models.CharField(max_length=8)),
                ("segments", models.PositiveSmallIntegerField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("held", "Held (quiet hours)"),
                            ("due", "Due"),
                            ("leased", "Leased to a vendor"),
                            ("sent", "Sent"),
                            ("unknown", "Unknown (outcome lost)"),
                            ("delivered", "Delivered"),
                            ("failed", "Failed"),
                            ("undelivered", "Undelivered"),
                            ("canceled", "Canceled"),
                        ],
                        default="queued",
                        max_length=12,
                    ),
                ),
                (
                    "hold_until",
                    models.DateTimeField(
                        blank=True,
                        help_text="Held: when the recipient's window next opens.",
                        null=True,
                    ),
                ),
                ("lease_id", models.UUIDField(blank=True, null=True)),
                ("leased_at", models.DateTimeField(blank=True, null=True)),
                ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                ("vendor_message_id", models.CharField(blank=True, max_length=100, null=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "finished_at",
                    models.DateTimeField(blank=True, help_text="When it became final.", null=True),
                ),
                ("error_code", models.CharField(blank=True, max_length=16)),
                ("cancel_reason", models.CharField(blank=True, max_length=32)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "arm",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="voters.programarm",
                    ),
                ),
                (
                    "campaign",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="campaign.campaign",
                    ),
                ),
                (
                    "design",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="sms_messages",
                        to="messaging.programdesign",
                    ),
                ),
                (
                    "leased_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="campaign.vendorapikey",
                    ),
                ),
                (
                    "reply_to",
                    models.OneToOneField(
                        blank=True,
                        help_text="The reply this text answers (a confirmation or the HELP text): one each.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="answer",
                        to="messaging.smsinbound",
                    ),
                ),
                (
                    "variant",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="messaging.messagevariant",
                    ),
                ),
                (
                    "voter",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="voters.voter",
                    ),
                ),
                (
                    "profile",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="messaging.smswindowprofile",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="smsinbound",
            name="in_reply_to",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="replies",
                to="messaging.smsmessage",
            ),
        ),
        migrations.CreateModel(
            name="SmsReceipt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("vendor_message_id", models.CharField(max_length=100)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("held", "Held (quiet hours)"),
                            ("due", "Due"),
                            ("leased", "Leased to a vendor"),
                            ("sent", "Sent"),
                            ("unknown", "Unknown (outcome lost)"),
                            ("delivered", "Delivered"),
                            ("failed", "Failed"),
                            ("undelivered", "Undelivered"),
                            ("canceled", "Canceled"),
                        ],
                        max_length=12,
                    ),
                ),
                ("error_code", models.CharField(blank=True, max_length=16)),
                ("occurred_at", models.DateTimeField()),
                ("received_at", models.DateTimeField(auto_now_add=True)),
                (
                    "campaign",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="campaign.campaign",
                    ),
                ),
                (
                    "message",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="receipts",
                        to="messaging.smsmessage",
                    ),
                ),
            ],
            options={
                "ordering": ["-received_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="SmsSettings",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "per_second",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="At most this many texts handed to vendors per second.",
                        null=True,
                    ),
                ),
                (
                    "per_day",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="At most this many per day (the campaign's local day). Texts over a cap wait.",
                        null=True,
                    ),
                ),
                (
                    "help_contact",
                    models.CharField(
                        blank=True,
                        help_text="How to reach the campaign, in the HELP answer (a phone, email or web site).",
                        max_length=100,
                    ),
                ),
                (
                    "help_frequency",
                    models.CharField(
                        default="Msg frequency varies",
                        help_text="In the HELP answer.",
                        max_length=100,
                    ),
                ),
                (
                    "twilio_auth_token",
                    models.CharField(
                        blank=True,
                        help_text="The Twilio account's auth token, which signs its callbacks. Empty: every Twilio callback is refused (there is no way to accept them unsigned).",
                        max_length=64,
                    ),
                ),
                (
                    "campaign",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="sms_settings",
                        to="campaign.campaign",
                    ),
                ),
            ],
            options={
                "verbose_name": "SMS settings",
                "verbose_name_plural": "SMS settings",
            },
        ),
        migrations.CreateModel(
            name="UntextablePhone",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("phone", models.CharField(max_length=20)),
                (
                    "reason",
                    models.CharField(help_text="messaging.replies.ErrorEffect", max_length=16),
                ),
                ("error_code", models.CharField(max_length=16)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "campaign",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="campaign.campaign",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="smsinbound",
            index=models.Index(
                fields=["campaign", "phone", "-received_at"], name="sms_inbound_phone"
            ),
        ),
        migrations.AddIndex(
            model_name="smsinbound",
            index=models.Index(
                condition=models.Q(("needs_review", True), ("reviewed_at__isnull", True)),
                fields=["campaign", "phone"],
                name="sms_inbound_review",
            ),
        ),
        migrations.AddConstraint(
            model_name="smsinbound",
            constraint=models.UniqueConstraint(
                fields=("campaign", "vendor_message_id"), name="uniq_sms_inbound"
            ),
        ),
        migrations.AddConstraint(
            model_name="smsreceipt",
            constraint=models.UniqueConstraint(
                fields=("campaign", "vendor_message_id", "status"), name="uniq_sms_receipt"
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                fields=["campaign", "status", "profile"], name="sms_campaign_status"
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("status__in", ["queued", "held"])),
                fields=["profile", "hold_until"],
                name="sms_pending",
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("status", "sent")),
                fields=["sent_at"],
                name="sms_awaiting_outcome",
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("status", "leased")),
                fields=["lease_expires_at"],
                name="sms_lease_expiry",
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("leased_at__isnull", False)),
                fields=["campaign", "leased_at"],
                name="sms_campaign_leased_at",
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                fields=["campaign", "phone", "-created_at"], name="sms_campaign_phone"
            ),
        ),
        migrations.AddConstraint(
            model_name="smsmessage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("design__isnull", False)),
                fields=("design", "phone"),
                name="uniq_sms_program_phone",
            ),
        ),
        migrations.AddConstraint(
            model_name="smsmessage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("vendor_message_id__isnull", False)),
                fields=("campaign", "vendor_message_id"),
                name="uniq_sms_vendor_id",
            ),
        ),
        migrations.AddConstraint(
            model_name="smsmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "queued",
                            "held",
                            "due",
                            "leased",
                            "sent",
                            "unknown",
                            "delivered",
                            "failed",
                            "undelivered",
                            "canceled",
                        ],
                    )
                ),
                name="sms_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="smsmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("kind__in", ["program", "opt_out_confirmation", "opt_in_confirmation", "help"])
                ),
                name="sms_kind_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="smsmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("design__isnull", False), ("kind", "program")),
                    models.Q(
                        models.Q(("kind", "program"), _negated=True), ("design__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="sms_program_has_design",
            ),
        ),
        migrations.AddConstraint(
            model_name="smsmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "leased"), _negated=True),
                    models.Q(("lease_expires_at__isnull", False), ("lease_id__isnull", False)),
                    _connector="OR",
                ),
                name="sms_leased_has_lease",
            ),
        ),
        migrations.AddConstraint(
            model_name="untextablephone",
            constraint=models.UniqueConstraint(
                fields=("campaign", "phone"), name="uniq_untextable_phone"
            ),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
