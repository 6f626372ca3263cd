from django.db import migrations, models

# The outbox is a queue: a program's release moves a million rows from queued to due at once,
# and leases and acks move them on by the thousand a second. With PostgreSQL's defaults its
# statistics are refreshed after a tenth of the table has changed, so for minutes the planner
# can believe there are no due texts and scan all of them for every lease. 1 % keeps its picture
# of the table current (messaging.sms also analyzes it after a large release).
QUEUE_STORAGE = (
    "ALTER TABLE messaging_smsmessage SET "
    "(autovacuum_analyze_scale_factor = 0.01, autovacuum_vacuum_scale_factor = 0.02)"
)
DEFAULT_STORAGE = (
    "ALTER TABLE messaging_smsmessage RESET "
    "(autovacuum_analyze_scale_factor, autovacuum_vacuum_scale_factor)"
)


def tune_queue(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(QUEUE_STORAGE)


def untune_queue(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DEFAULT_STORAGE)


class Migration(migrations.Migration):
    dependencies = [
        ("campaign", "0009_email"),
        ("messaging", "0009_sms_message_names"),
        ("voters", "0012_assignment_row_checks_dropped"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("kind", "program"), ("status", "due")),
                fields=["campaign", "created_at", "id"],
                name="sms_due_program",
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("status", "due"), models.Q(("kind", "program"), _negated=True)),
                fields=["campaign", "created_at", "id"],
                name="sms_due_answer",
            ),
        ),
        migrations.RunPython(tune_queue, untune_queue),
    ]
