from django.db import migrations, models

# `filtering_counted_since` is how carriers have treated a variant, not what it says: staff set
# it on a used (frozen) version when they resume it after a carrier-filtering pause, so the
# freeze trigger leaves that column out of the comparison as it does `is_current` and `tags`.
# The function is 0001's with the list of columns left out of the comparison as a parameter.
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
    IF (to_jsonb(NEW) - IGNORED) IS DISTINCT FROM (to_jsonb(OLD) - IGNORED) THEN
        RAISE EXCEPTION 'message variant % (version %) has been used: edit refused, write a new version',
            OLD.id, OLD.version USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def frozen_function(ignored: tuple[str, ...]) -> str:
    keys = "ARRAY[" + ", ".join(f"'{column}'" for column in ignored) + "]::text[]"
    return FROZEN_FUNCTION.replace("IGNORED", keys)


def allow_filtering_baseline(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            frozen_function(("is_current", "tags", "filtering_counted_since")), params=None
        )


def freeze_filtering_baseline(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(frozen_function(("is_current", "tags")), params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0010_sms_lease_queues"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagevariant",
            name="filtering_counted_since",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="SMS only: carrier filtering (error 30007) counts the texts sent from "
                "then; set when staff resume the variant after a pause, so it starts afresh.",
                null=True,
            ),
        ),
        migrations.RunPython(allow_filtering_baseline, freeze_filtering_baseline),
    ]
