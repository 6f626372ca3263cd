"""Many rows into one table in one statement, without a model instance per row.

Django's `bulk_create` builds an instance per row and compiles a VALUES list of every field of
every row; for a vendor's batch of a thousand receipts that Python work cost more than the
database's. On PostgreSQL the rows go instead as one array per column through
`INSERT … SELECT … FROM unnest(…)`: one statement whose text does not grow with the batch. On the
embedded SQLite default (small batches) it is `bulk_create`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    ignore_conflicts: bool = False,
) -> int:
    """Inserts `rows` (tuples in the order of `columns`, model field names; a foreign key by its
    `_id` attname) into `model`'s table; a row that conflicts with a unique constraint is skipped
    when `ignore_conflicts`. Fields not named take their database default, so give every field
    without one (auto_now_add fields included: they are not filled here). Returns the number of
    rows written (on SQLite, offered)."""
    if not rows:
        return 0
    fields = [_field(model, name) for name in columns]
    if connection.vendor != "postgresql":
        objects = [model(**{f.attname: value for f, value in zip(fields, row, strict=True)})
                   for row in rows]  # fmt: skip
        model.objects.bulk_create(objects, ignore_conflicts=ignore_conflicts)
        return len(objects)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays = ", ".join(f"%s::{_array_type(f)}" for f in fields)
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    sql = f"INSERT INTO {model._meta.db_table} ({names}) SELECT * FROM unnest({arrays}){conflict}"
    # The values go to psycopg as they are: it adapts ints, strings, aware datetimes, UUIDs and
    # None itself, and a field's get_db_prep_value per value cost as much as the rest together.
    values = [[row[i] for row in rows] for i in range(len(fields))]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.rowcount


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)  # a field's name or its attname (`voter_id`)
    if not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    if isinstance(field, models.JSONField):
        raise ValueError(f"{model.__name__}.{name}: JSON columns are not supported here")
    return field


def _array_type(field: models.Field) -> str:
    # The column's own type (varchar(100), timestamp with time zone, bigint, …) as an array, so
    # the values arrive typed exactly as the column is (a foreign key's is its target's).
    return f"{field.db_type(connection)}[]"
