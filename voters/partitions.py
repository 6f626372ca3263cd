"""Voters and households partitioned by campaign (PostgreSQL; see migration voters 0007).

Each campaign whose voters came from an import has partitions of its own, `voters_voter_c<id>`
and `voters_household_c<id>`; rows written any other way (the admin, tests) live in the default
partitions. A campaign's first import loads its voters and households into new tables with no
indexes, then attaches them as the campaign's partitions: PostgreSQL builds the indexes by sorting,
once, instead of updating them row by row in index pages spread over every campaign's rows (which
made an 8-million-row first import five times slower per row than a one-million-row one).

Attaching is the one moment a campaign's first import touches what other campaigns use (see
`NewPartition.attach`); it is catalog work, done right before the import commits.
"""

from __future__ import annotations

import logging
import time

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

VOTERS = "voters_voter"
HOUSEHOLDS = "voters_household"
# How long one attempt to attach waits for the locks it needs before letting the queries queued
# behind it through and trying again (a waiting exclusive lock request stalls all of them).
ATTACH_LOCK_TIMEOUT = "2s"
ATTACH_ATTEMPTS = 30
ATTACH_BACKOFF_SECONDS = 1.0
# Lock not available (the timeout), and a deadlock PostgreSQL broke by failing the attach: rolling
# back to the savepoint releases the attach's locks, so trying again is safe.
RETRYABLE = {"55P03", "40P01"}


def partition_name(parent: str, campaign_id: int) -> str:
    return f"{parent}_c{int(campaign_id)}"


def default_partition(parent: str) -> str:
    return f"{parent}_default"


def is_partitioned(cursor, parent: str) -> bool:
    if connection.vendor != "postgresql":
        return False
    cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", [parent])
    return bool(cursor.fetchone()[0])


def has_own_partition(cursor, parent: str, campaign_id: int) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partition_name(parent, campaign_id)])
    return bool(cursor.fetchone()[0])


def table_holding(cursor, parent: str, campaign_id: int) -> str:
    """The table a campaign's rows are written to: its partition, the default one, or (SQLite,
    or before migration 0007) the parent itself."""
    if not is_partitioned(cursor, parent):
        return parent
    if has_own_partition(cursor, parent, campaign_id):
        return partition_name(parent, campaign_id)
    return default_partition(parent)


class NewPartition:
    """A campaign's partition, filled before it is attached (inside the import's transaction:
    if the import fails or is killed, the table never existed).

    Everything slow happens while the table is still the import's alone: the rows go in, then
    `complete` builds the parent's indexes by sort and gathers statistics. Attaching, which locks
    tables every campaign uses (the default partition, and the tables that reference the
    parent), is then catalog work and one query per foreign key of the parent, and the import
    commits right after it.
    """

    def __init__(self, parent: str, campaign_id: int):
        self.parent = parent
        self.campaign_id = int(campaign_id)
        self.name = partition_name(parent, campaign_id)

    def create(self, cursor) -> None:
        # Same columns, defaults (the id sequence) and storage as the parent; no indexes yet.
        cursor.execute(
            f"CREATE TABLE {self.name} (LIKE {self.parent} INCLUDING DEFAULTS INCLUDING STORAGE)"
        )

    def complete(self, cursor) -> None:
        """Give the filled table the parent's keys and indexes (PostgreSQL attaches equivalent
        ones instead of building its own), a check that stands for the partition bound (so
        attaching does not scan the rows again), and statistics.

        Not the parent's foreign keys: attaching a table that has its own copy drops the copy's
        triggers on the referenced table, under an exclusive lock on it (the campaigns table,
        which every import and page reads); the parent's key, cloned by the attach, is checked
        with one query instead."""
        # Sorting a few million keys in memory rather than in temporary files.
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute(
            """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = %s::regclass AND contype IN ('p', 'u')
               ORDER BY contype = 'p' DESC, conname""",
            [self.parent],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(
                f'ALTER TABLE {self.name} ADD CONSTRAINT "{self._own(name)}" {definition}'
            )
        cursor.execute(
            """SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = %s::regclass
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)""",
            [self.parent],
        )
        for name, definition in cursor.fetchall():
            head, _, method_and_columns = definition.partition(" USING ")
            unique = "UNIQUE " if head.startswith("CREATE UNIQUE ") else ""
            cursor.execute(
                f'CREATE {unique}INDEX "{self._own(name)}" ON {self.name}'
                f" USING {method_and_columns}"
            )
        cursor.execute(
            f"ALTER TABLE {self.name} ADD CONSTRAINT {self._bound}"
            f" CHECK (campaign_id IS NOT NULL AND campaign_id = {self.campaign_id})"
        )
        cursor.execute(f"ANALYZE {self.name}")

    def attach(self, cursor) -> None:
        """Attach the completed table as the campaign's partition.

        Attaching takes a share row exclusive lock on every table that references the parent and
        an exclusive lock on the default partition, which every foreign-key check against the
        parent touches. The referencing tables are locked first, in one statement, so an import
        writing contact history (which holds one and then checks keys against the default
        partition) is waited for rather than deadlocked with; each attempt waits a short time,
        then lets the queries queued behind it through and tries again.
        """
        referencing = self._referencing_tables(cursor)
        for attempt in range(1, ATTACH_ATTEMPTS + 1):
            last = attempt == ATTACH_ATTEMPTS
            try:
                with transaction.atomic():
                    timeout = "0" if last else ATTACH_LOCK_TIMEOUT
                    cursor.execute(f"SET LOCAL lock_timeout = '{timeout}'")
                    if referencing:
                        cursor.execute(
                            f"LOCK TABLE {', '.join(referencing)} IN SHARE ROW EXCLUSIVE MODE"
                        )
                    cursor.execute(
                        f"ALTER TABLE {self.parent} ATTACH PARTITION {self.name}"
                        f" FOR VALUES IN ({self.campaign_id})"
                    )
                    cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
                break
            except OperationalError as exc:
                if _sqlstate(exc) not in RETRYABLE or last:
                    raise
                logger.info("partition %s: tables busy, attempt %s", self.name, attempt)
                time.sleep(min(attempt, 5) * ATTACH_BACKOFF_SECONDS)
        # The partition bound holds it now; the check would only cost every later write.
        cursor.execute(f"ALTER TABLE {self.name} DROP CONSTRAINT {self._bound}")

    @property
    def _bound(self) -> str:
        return f"{self.name}_bound"

    def _own(self, name: str) -> str:
        """The partition's name for one of the parent's constraints or indexes (index names are
        unique per schema; PostgreSQL cuts names at 63 bytes)."""
        return f"{self.name}_{name}"[:63]

    def _referencing_tables(self, cursor) -> list[str]:
        cursor.execute(
            """SELECT DISTINCT conrelid::regclass::text FROM pg_constraint
               WHERE confrelid = %s::regclass AND contype = 'f' AND conparentid = 0
               ORDER BY 1""",
            [self.parent],
        )
        return [row[0] for row in cursor.fetchall()]


def _sqlstate(exc: Exception) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None)
