from django.db import migrations

# Admin search by last-name prefix runs `UPPER(last_name) LIKE 'SMI%'`; on PostgreSQL only an index
# with text_pattern_ops serves LIKE under a non-C collation. SQLite gets a plain expression index.
PG_CREATE = (
    "CREATE INDEX IF NOT EXISTS voter_last_name_prefix ON voters_voter "
    "(campaign_id, (UPPER(last_name)) text_pattern_ops)"
)
SQLITE_CREATE = (
    "CREATE INDEX IF NOT EXISTS voter_last_name_prefix ON voters_voter "
    "(campaign_id, UPPER(last_name))"
)
DROP = "DROP INDEX IF EXISTS voter_last_name_prefix"


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(PG_CREATE if vendor == "postgresql" else SQLITE_CREATE)


def drop(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("voters", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
