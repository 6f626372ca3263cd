"""Voters partitioned by campaign (PostgreSQL; see migration voters 0007).

Each campaign whose voters came from an import has a partition of its own, `voters_voter_c<id>`;
voters written any other way (the admin, tests) live in `voters_voter_default`. A campaign's first
import loads its voters into a new table with no indexes, then attaches it as the campaign's
partition: PostgreSQL builds the six indexes by sorting, once, instead of updating them row by
row in index pages spread over every campaign's voters (which made an 8-million-row first import
five times slower per row than a one-million-row one).

Attaching locks the default partition (it is checked for voters of the campaign); other campaigns'
partitions are only share-locked, so their imports, scoring and walk lists go on meanwhile.
"""

from __future__ import annotations

import logging
import time

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

PARENT = "voters_voter"
DEFAULT_PARTITION = "voters_voter_default"
# How long one attempt to attach waits for the default partition's lock before letting others
# through and trying again; a queued exclusive lock request would stall every query behind it.
ATTACH_LOCK_TIMEOUT = "2s"
ATTACH_ATTEMPTS = 30
LOCK_NOT_AVAILABLE = "55P03"


def partition_name(campaign_id: int) -> str:
    return f"voters_voter_c{int(campaign_id)}"


def voters_are_partitioned(cursor) -> bool:
    if connection.vendor != "postgresql":
        return False
    cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", [PARENT])
    return bool(cursor.fetchone()[0])


def has_own_partition(cursor, campaign_id: int) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partition_name(campaign_id)])
    return bool(cursor.fetchone()[0])


def table_holding(cursor, campaign_id: int) -> str:
    """The table a campaign's voters are written to: its partition, the default one, or (SQLite,
    or before migration 0007) the one voters table."""
    if not voters_are_partitioned(cursor):
        return PARENT
    if has_own_partition(cursor, campaign_id):
        return partition_name(campaign_id)
    return DEFAULT_PARTITION


class NewPartition:
    """A campaign's partition, filled before it is attached (inside the import's transaction:
    if the import fails or is killed, the table never existed)."""

    def __init__(self, campaign_id: int):
        self.campaign_id = int(campaign_id)
        self.name = partition_name(campaign_id)

    def create(self, cursor) -> None:
        # Same columns, defaults (the id sequence) and storage as the parent; no indexes yet.
        cursor.execute(
            f"CREATE TABLE {self.name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING STORAGE)"
        )

    def attach(self, cursor) -> None:
        """Attach the filled table; PostgreSQL builds each of the parent's indexes on it."""
        # Sorting a few million keys in memory rather than in temporary files.
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for attempt in range(1, ATTACH_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    cursor.execute(f"SET LOCAL lock_timeout = '{ATTACH_LOCK_TIMEOUT}'")
                    cursor.execute(
                        f"ALTER TABLE {PARENT} ATTACH PARTITION {self.name}"
                        f" FOR VALUES IN ({self.campaign_id})"
                    )
                    cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
                return
            except OperationalError as exc:
                if _sqlstate(exc) != LOCK_NOT_AVAILABLE or attempt == ATTACH_ATTEMPTS:
                    raise
                logger.info(
                    "voter partition %s: default partition busy, attempt %s", self.name, attempt
                )
                time.sleep(min(attempt, 5))


def _sqlstate(exc: Exception) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None)
