"""Voters partitioned by campaign (PostgreSQL).

A campaign's first import then fills a table of its own with no indexes, builds them by sort and
attaches it as the campaign's partition (voters.partitions), instead of maintaining six indexes
row by row across every campaign's voters. Campaigns whose voters were written another way live in
the default partition.

A partitioned table's unique keys must hold the partition key, so the primary key becomes
(id, campaign_id) and the tables that reference voters do so by (campaign_id, voter_id): their
single-column constraints are dropped by the AlterFields below and the pairs added here.
SQLite (the demo) keeps one plain table.
"""

import django.db.models.deletion
from django.db import migrations, models

# The tables that reference voters, each with its own campaign column.
REFERENCING = (
    "voters_voterecord",
    "voters_assignment",
    "voters_contactattempt",
    "voters_surveyresponse",
    "voters_consentevent",
)


def _index_definitions(cursor, table: str) -> list[str]:
    """CREATE INDEX statements of the table's indexes, except those of its key constraints."""
    cursor.execute(
        """SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = %s::regclass
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
           ORDER BY i.indexrelid""",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _rebuild(cursor, *, partitioned: bool) -> None:
    """Move voters into a new table (partitioned by campaign or plain) with the same columns,
    defaults, constraints and index names, and point the referencing tables at it."""
    definitions = _index_definitions(cursor, "voters_voter")
    for table in REFERENCING:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_voter_pair_fk")
    cursor.execute("ALTER TABLE voters_voter RENAME TO voters_voter_old")
    cursor.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'voters_voter_old'::regclass"
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name[:50]}_old"')
    cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM voters_voter_old")
    next_id = cursor.fetchone()[0]
    partition_by = " PARTITION BY LIST (campaign_id)" if partitioned else ""
    cursor.execute(
        "CREATE TABLE voters_voter (LIKE voters_voter_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        f" INCLUDING STORAGE INCLUDING COMMENTS){partition_by}"
    )
    # Identity columns cannot be partitioned (before PostgreSQL 17): a sequence owned by the
    # column, which Django resets as it would a serial.
    cursor.execute("ALTER TABLE voters_voter_old ALTER COLUMN id DROP IDENTITY IF EXISTS")
    # The old table's sequence (the reverse direction's) goes; its rows keep their ids.
    cursor.execute("DROP SEQUENCE IF EXISTS voters_voter_id_seq CASCADE")
    cursor.execute(
        f"CREATE SEQUENCE voters_voter_id_seq START {int(next_id)} OWNED BY voters_voter.id"
    )
    cursor.execute(
        "ALTER TABLE voters_voter ALTER COLUMN id SET DEFAULT nextval('voters_voter_id_seq')"
    )
    key = "(id, campaign_id)" if partitioned else "(id)"
    cursor.execute(f"ALTER TABLE voters_voter ADD CONSTRAINT voters_voter_pkey PRIMARY KEY {key}")
    cursor.execute(
        "ALTER TABLE voters_voter ADD CONSTRAINT uniq_voter_id UNIQUE (campaign_id, voter_id)"
    )
    for definition in definitions:
        cursor.execute(definition.replace(" ON ONLY public.", " ON public."))
    if partitioned:
        cursor.execute("CREATE TABLE voters_voter_default PARTITION OF voters_voter DEFAULT")
        cursor.execute("SELECT DISTINCT campaign_id FROM voters_voter_old ORDER BY 1")
        for (campaign_id,) in cursor.fetchall():
            cursor.execute(
                f"CREATE TABLE voters_voter_c{int(campaign_id)} PARTITION OF voters_voter"
                f" FOR VALUES IN ({int(campaign_id)})"
            )
    cursor.execute("INSERT INTO voters_voter SELECT * FROM voters_voter_old")
    cursor.execute("DROP TABLE voters_voter_old")
    if partitioned:
        for table in REFERENCING:
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_voter_pair_fk"
                " FOREIGN KEY (campaign_id, voter_id) REFERENCES voters_voter (campaign_id, id)"
                " DEFERRABLE INITIALLY DEFERRED"
            )


def partition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            _rebuild(cursor, partitioned=True)


def unpartition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            # The AlterFields, reversed next, add back Django's single-column constraints.
            _rebuild(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("voters", "0006_voter_line_digest"),
    ]

    operations = [
        migrations.AlterField(
            model_name="assignment",
            name="voter",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="assignments",
                to="voters.voter",
            ),
        ),
        migrations.AlterField(
            model_name="consentevent",
            name="voter",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The voter whose record the event was recorded against, when known.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="consent_events",
                to="voters.voter",
            ),
        ),
        migrations.AlterField(
            model_name="contactattempt",
            name="voter",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="contact_attempts",
                to="voters.voter",
            ),
        ),
        migrations.AlterField(
            model_name="surveyresponse",
            name="voter",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="survey_responses",
                to="voters.voter",
            ),
        ),
        migrations.AlterField(
            model_name="voterecord",
            name="voter",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="vote_records",
                to="voters.voter",
            ),
        ),
        migrations.RunPython(partition, unpartition),
    ]
