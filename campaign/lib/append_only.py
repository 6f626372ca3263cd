"""Database-enforced append-only tables (history: contacts, answers, consent, audit).

A trigger refuses UPDATE and DELETE of a row, so no code path (a stray admin action, a shell
session, a future bug) can rewrite history. TRUNCATE, used only by test teardown, is unaffected.
PostgreSQL only; the embedded SQLite demo relies on the services alone.
"""

from __future__ import annotations

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION segment_one_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""


def _create(table: str):
    def create(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(FUNCTION, params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION segment_one_append_only()"
        )

    return create


def _drop(table: str):
    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")

    return drop


def append_only(table: str) -> migrations.RunPython:
    """A migration operation making `table` append-only."""
    return migrations.RunPython(_create(table), _drop(table))
