"""Voters and households partitioned by campaign (PostgreSQL).

A campaign's first import then fills tables of its own with no indexes, builds the indexes by sort
and attaches the tables as the campaign's partitions (voters.partitions), instead of maintaining
every index row by row across every campaign's rows. Rows written another way (the admin, tests)
live in the default partitions.

A partitioned table's unique keys must hold the partition key, so the primary keys become
(id, campaign_id) and the tables that reference voters do so by (campaign_id, voter_id): their
single-column constraints are dropped by the AlterFields below and the pairs added here (nothing
references households in the database). SQLite (the demo) keeps plain tables.
"""

import django.db.models.deletion
from django.db import migrations, models

# The tables that reference voters, each with its own campaign column.
REFERENCING_VOTERS = (
    "voters_voterecord",
    "voters_assignment",
    "voters_contactattempt",
    "voters_surveyresponse",
    "voters_consentevent",
)
PARTITIONED = ("voters_household", "voters_voter")


def _index_definitions(cursor, table: str) -> list[str]:
    """CREATE INDEX statements of the table's indexes, except those of its constraints."""
    cursor.execute(
        """SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = %s::regclass
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
           ORDER BY i.indexrelid""",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _constraints(cursor, table: str) -> list[tuple[str, str, str]]:
    """(name, type, definition) of the table's own constraints, primary key first."""
    cursor.execute(
        """SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f', 'c')
           ORDER BY contype = 'p' DESC, conname""",
        [table],
    )
    return cursor.fetchall()


def _rebuild(cursor, table: str, *, partitioned: bool) -> None:
    """Move the table's rows into a new table (partitioned by campaign, or plain) with the same
    columns, defaults, constraints and index names."""
    indexes = _index_definitions(cursor, table)
    constraints = _constraints(cursor, table)
    old = f"{table}_old"
    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cursor.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = %s::regclass",
        [old],
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name[:50]}_old"')
    cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {old}")
    next_id = cursor.fetchone()[0]
    partition_by = " PARTITION BY LIST (campaign_id)" if partitioned else ""
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE"
        f" INCLUDING COMMENTS){partition_by}"
    )
    # Identity columns cannot be partitioned (before PostgreSQL 17): a sequence owned by the
    # column, which Django resets as it would a serial's. The old table's goes (its rows keep
    # their ids).
    sequence = f"{table}_id_seq"
    cursor.execute(f"ALTER TABLE {old} ALTER COLUMN id DROP IDENTITY IF EXISTS")
    cursor.execute(f"DROP SEQUENCE IF EXISTS {sequence} CASCADE")
    cursor.execute(f"CREATE SEQUENCE {sequence} START {int(next_id)} OWNED BY {table}.id")
    cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{sequence}')")
    for name, kind, definition in constraints:
        if kind == "p":
            definition = "PRIMARY KEY (id, campaign_id)" if partitioned else "PRIMARY KEY (id)"
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for definition in indexes:
        cursor.execute(definition.replace(" ON ONLY public.", " ON public."))
    if partitioned:
        cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        cursor.execute(f"SELECT DISTINCT campaign_id FROM {old} ORDER BY 1")
        for (campaign_id,) in cursor.fetchall():
            cursor.execute(
                f"CREATE TABLE {table}_c{int(campaign_id)} PARTITION OF {table}"
                f" FOR VALUES IN ({int(campaign_id)})"
            )
    cursor.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    cursor.execute(f"DROP TABLE {old}")


def _rebuild_all(cursor, *, partitioned: bool) -> None:
    for table in REFERENCING_VOTERS:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_voter_pair_fk")
    for table in PARTITIONED:
        _rebuild(cursor, table, partitioned=partitioned)
    if partitioned:
        for table in REFERENCING_VOTERS:
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_voter_pair_fk"
                " FOREIGN KEY (campaign_id, voter_id) REFERENCES voters_voter (campaign_id, id)"
                " DEFERRABLE INITIALLY DEFERRED"
            )


def partition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            _rebuild_all(cursor, partitioned=True)


def unpartition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            # The AlterFields, reversed next, add back Django's single-column constraints.
            _rebuild_all(cursor, partitioned=False)


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
