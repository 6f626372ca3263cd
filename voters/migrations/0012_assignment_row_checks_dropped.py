"""Assignments without per-row foreign-key checks on the voter and the import run.

A program's commit writes a row per voter in one COPY; each row's deferred checks (the voter's
(campaign, voter) pair key of migration 0007, a lookup and a row lock on the voter, and the
import run's, queued even when it is NULL) took 5.5 of the 13 seconds of the write at a million
voters. Why the rows are sound without them: the comment on `Assignment` in voters/models.py.
The import run's index covers only the rows that have one (imports), not every commit's NULLs.
"""

import django.db.models.deletion
from django.db import migrations, models

PAIR_KEY = "voters_assignment_voter_pair_fk"


def drop_pair_key(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE voters_assignment DROP CONSTRAINT IF EXISTS {PAIR_KEY}")


def add_pair_key(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE voters_assignment ADD CONSTRAINT {PAIR_KEY}"
            " FOREIGN KEY (campaign_id, voter_id) REFERENCES voters_voter (campaign_id, id)"
            " DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("voters", "0011_assignment_propensity_unit"),
    ]

    operations = [
        migrations.RunPython(drop_pair_key, add_pair_key, elidable=False),
        migrations.AlterField(
            model_name="assignment",
            name="import_run",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="voters.importrun",
            ),
        ),
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(
                condition=models.Q(("import_run__isnull", False)),
                fields=["import_run"],
                name="assignment_import_run",
            ),
        ),
    ]
