"""Voter-file and vote-history imports: stream, stage, then merge in one transaction.

Every import runs in a single database transaction: parsed batches are loaded into a temporary
staging table (PostgreSQL COPY; plain inserts on the embedded SQLite), then set-based SQL merges the
staging table into households, voters, elections and vote records. A process killed at any moment
therefore leaves the campaign exactly as before (the transaction never committed) or exactly as
after.

The parsing lives in `voters.layouts` (pure, vectorized); this module only moves its batches into
the database and counts what changed.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl
from django.db import connection, transaction
from django.utils import timezone

from voters import layouts, partitions
from voters.layouts.digests import DIGEST_BYTES
from voters.models import (
    Household,
    ImportKind,
    ImportMode,
    ImportRun,
    ImportStatus,
    RejectedRow,
    Voter,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Strict imports stop listing bad rows past this many (they are all counted): a file that bad is
# the wrong file or the wrong layout, and the first hundred thousand reasons say so.
MAX_REJECTS_KEPT_STRICT = 100_000
# Parsed batches waiting for the database; two keep both cores busy without holding much memory.
PARSE_AHEAD = 2
# Lines per parsed batch: 50,000 parse as fast as 100,000 and keep an 8-million-row import's peak
# memory under 1 GiB (batches in flight dominate it).
BATCH_ROWS = 50_000
# Advisory lock keys: one campaign's imports (with the campaign id), and first imports that will
# attach new partitions (see _first_load_partitions).
CAMPAIGN_IMPORT_LOCK = 1_042
FIRST_LOAD_LOCK = 1_044

ProgressCallback = Callable[["ImportProgress"], None]


class ImportFailed(Exception):
    """The import committed nothing; `rejects` lists the bad rows of a strict import."""

    def __init__(
        self,
        message: str,
        rejects: list[layouts.RejectedLine] | None = None,
        rejected_count: int | None = None,
    ):
        super().__init__(message)
        self.rejects = rejects or []
        # All bad rows are counted, though a strict import keeps only the first ones.
        self.rejected_count = len(self.rejects) if rejected_count is None else rejected_count


@dataclass
class ImportProgress:
    file_name: str
    file_index: int
    file_count: int
    bytes_done: int
    bytes_total: int
    rows_read: int
    phase: str = "loading"  # loading -> merging -> done


@dataclass
class ImportSource:
    """A file to import and the name to report it under (an upload's original name, say)."""

    path: Path
    display_name: str

    @classmethod
    def of(cls, path: str | Path, display_name: str | None = None) -> ImportSource:
        path = Path(path)
        return cls(path=path, display_name=display_name or path.name)


@dataclass
class StageResult:
    rows_read: int = 0
    staged: int = 0
    invalid_phones: int = 0
    rejected: int = 0
    kept_rejects: list[layouts.RejectedLine] = field(default_factory=list)
    seen: int = 0  # good lines left unparsed: an earlier import stored them as they are
    field_counts: layouts.FieldCounts = field(default_factory=layouts.FieldCounts)


# --------------------------------------------------------------------------------------------
# SQL dialects: PostgreSQL (production, tests) and SQLite (the embedded demo).
# --------------------------------------------------------------------------------------------

_PG_TYPES = {pl.Utf8: "text", pl.Date: "date", pl.Int16: "smallint", pl.Int32: "integer",
             pl.Int64: "bigint", pl.Float64: "double precision", pl.Boolean: "boolean",
             pl.Binary: "bytea"}  # fmt: skip
_SQLITE_TYPES = {pl.Utf8: "TEXT", pl.Date: "TEXT", pl.Int16: "INTEGER", pl.Int32: "INTEGER",
                 pl.Int64: "INTEGER", pl.Float64: "REAL", pl.Boolean: "INTEGER",
                 pl.Binary: "BLOB"}  # fmt: skip


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _sql_type(name: str, dtype: pl.DataType) -> str:
    # `extra` is staged as jsonb on PostgreSQL: the COPY parses it while the next batch is being
    # parsed on the other core, rather than the voter insert after staging, on one. (A re-import
    # stages only lines that changed, which are nearly all written.)
    if name == "extra":
        return "jsonb" if _is_postgres() else "TEXT"
    types = _PG_TYPES if _is_postgres() else _SQLITE_TYPES
    return types[dtype.base_type()]


def _distinct(left: str, right: str) -> str:
    """SQL for 'row value left differs from right, NULLs compared as values'."""
    return f"{left} IS DISTINCT FROM {right}" if _is_postgres() else f"{left} IS NOT {right}"


def _json(expr: str) -> str:
    # SQLite keeps JSON as text: minified, so formatting never counts as a change.
    return f"({expr})::jsonb" if _is_postgres() else f"json({expr})"


def _copy_csv(frame: pl.DataFrame) -> bytes:
    """`frame` as COPY's CSV: an empty string quoted, NULL as nothing."""
    # CSV has no bytes: bytea goes as its hex text form.
    binary = [c for c, t in frame.schema.items() if t == pl.Binary]
    frame = frame.with_columns(("\\x" + pl.col(c).bin.encode("hex")).alias(c) for c in binary)
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="", date_format="%Y-%m-%d")
    return buffer.getvalue()


@dataclass(frozen=True)
class EncodedRows:
    """A batch ready to load into a staging table, and how many rows it holds."""

    payload: bytes | pl.DataFrame
    rows: int


class StagingTable:
    """A temporary table shaped like a layout's canonical schema, dropped at commit."""

    def __init__(self, name: str, schema: dict[str, pl.DataType]):
        self.name = name
        self.columns = ["file_no", *schema.keys(), "line_number"]
        self.schema = {"file_no": pl.Int32, **schema, "line_number": pl.Int64}

    def create(self, cursor) -> None:
        cols = ", ".join(f"{c} {_sql_type(c, t)}" for c, t in self.schema.items())
        # Dropped first: an import nested in an outer transaction (tests, scripts) never reaches
        # the commit that would drop the previous one.
        self.drop(cursor)
        suffix = " ON COMMIT DROP" if _is_postgres() else ""
        cursor.execute(f"CREATE TEMPORARY TABLE {self.name} ({cols}){suffix}")

    def drop(self, cursor) -> None:
        schema = "pg_temp" if _is_postgres() else "temp"
        cursor.execute(f"DROP TABLE IF EXISTS {schema}.{self.name}")

    def encode(self, frame: pl.DataFrame, file_no: int, *, postgres: bool) -> EncodedRows:
        """The rows as `load_encoded` takes them: COPY's CSV on PostgreSQL, the frame on SQLite.
        Safe to call from the parser's thread (it touches no connection)."""
        frame = frame.with_columns(pl.lit(file_no, dtype=pl.Int32).alias("file_no"))
        frame = frame.select(self.columns)
        return EncodedRows(_copy_csv(frame) if postgres else frame, frame.height)

    def load(self, cursor, frame: pl.DataFrame, file_no: int) -> None:
        self.load_encoded(cursor, self.encode(frame, file_no, postgres=_is_postgres()))

    def load_encoded(self, cursor, rows: EncodedRows) -> None:
        if isinstance(rows.payload, pl.DataFrame):
            self._insert(cursor, rows.payload)
            return
        columns = ", ".join(self.columns)
        with cursor.copy(f"COPY {self.name} ({columns}) FROM STDIN (FORMAT csv)") as cp:
            cp.write(rows.payload)

    def _insert(self, cursor, frame: pl.DataFrame) -> None:
        dates = [c for c, t in frame.schema.items() if t == pl.Date]
        frame = frame.with_columns([pl.col(c).dt.strftime("%Y-%m-%d") for c in dates])
        marks = ", ".join(["%s"] * len(self.columns))
        cursor.executemany(
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({marks})",
            frame.iter_rows(),
        )

    def analyze(self, cursor, *, keys: tuple[str, ...] = ()) -> None:
        # Temporary tables are never auto-analyzed; without statistics the merge joins go wrong.
        # SQLite has no hash join: without an index on the join keys its merge is quadratic.
        if not _is_postgres():
            for key in keys:
                cursor.execute(f"CREATE INDEX temp.{self.name}_{key} ON {self.name} ({key})")
            cursor.execute(f"ANALYZE {self.name}")
            return
        # Statistics of the join keys are all the planner needs; sampling wide JSON costs seconds.
        cursor.execute(f"ANALYZE {self.name} ({', '.join(keys)})")

    def count(self, cursor) -> int:
        cursor.execute(f"SELECT count(*) FROM {self.name}")
        return cursor.fetchone()[0]


# --------------------------------------------------------------------------------------------
# Loading: parse in a background thread while the database takes the previous batch.
# --------------------------------------------------------------------------------------------


def _parse_ahead(
    batches: Iterator[layouts.ParsedBatch],
    encode: Callable[[layouts.ParsedBatch], T],
) -> Iterator[tuple[layouts.ParsedBatch, T]]:
    """Run the parser one or two batches ahead of the consumer, in a thread, with `encode`
    (polars and the database driver both release the GIL, so parsing and COPY overlap on two
    cores). Yields each batch with what `encode` made of it."""
    handoff: queue.Queue = queue.Queue(maxsize=PARSE_AHEAD)
    done = object()
    stop = threading.Event()  # set when the consumer gives up (a database error, say)

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not hand_over((batch, encode(batch))):
                    return
            hand_over(done)
        except BaseException as exc:  # re-raised in the consumer, where it can be reported
            hand_over(exc)

    worker = threading.Thread(target=produce, name="import-parser", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # Let a parser blocked on a full queue see the stop and exit, so a long-lived worker
        # process does not keep a thread and its batches after a failed import.
        stop.set()
        worker.join(timeout=30)


def _stage_files(
    *,
    cursor,
    table: StagingTable,
    sources: list[ImportSource],
    reader: Callable[..., Iterator[layouts.ParsedBatch]],
    reader_options: dict,
    run: ImportRun,
    on_progress: ProgressCallback | None,
    prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    seen_table: StagingTable | None = None,
) -> StageResult:
    result = StageResult()
    strict = run.mode == ImportMode.STRICT
    bytes_total = sum(layouts.file_size(s.path) for s in sources)
    bytes_before = 0
    postgres = _is_postgres()
    for file_no, source in enumerate(sources):
        batches = reader(source.path, display_name=source.display_name, **reader_options)
        encode = partial(
            _encode_batch,
            file_no=file_no,
            table=table,
            seen_table=seen_table,
            prepare=prepare,
            postgres=postgres,
        )
        for batch, (rows, seen) in _parse_ahead(batches, encode):
            result.rows_read += batch.lines_read
            result.invalid_phones += batch.invalid_phones
            if batch.field_counts is not None:
                result.field_counts.add(batch.field_counts)
            result.rejected += len(batch.rejects)
            if strict:
                room = MAX_REJECTS_KEPT_STRICT - len(result.kept_rejects)
                result.kept_rejects.extend(batch.rejects[: max(room, 0)])
            else:
                _save_rejects(run, batch.rejects)
            # A strict import that already failed only goes on reading, to list every bad row.
            if rows is not None and not (strict and result.rejected):
                table.load_encoded(cursor, rows)
                result.staged += rows.rows
            if seen is not None:
                if not (strict and result.rejected):
                    seen_table.load_encoded(cursor, seen)
                result.seen += seen.rows
            if on_progress:
                on_progress(
                    ImportProgress(
                        file_name=source.display_name,
                        file_index=file_no,
                        file_count=len(sources),
                        bytes_done=bytes_before + batch.bytes_read,
                        bytes_total=bytes_total,
                        rows_read=result.rows_read,
                    )
                )
        bytes_before += layouts.file_size(source.path)
    return result


def _encode_batch(
    batch: layouts.ParsedBatch,
    *,
    file_no: int,
    table: StagingTable,
    seen_table: StagingTable | None,
    prepare: Callable[[pl.DataFrame], pl.DataFrame] | None,
    postgres: bool,
) -> tuple[EncodedRows | None, EncodedRows | None]:
    """A batch's staged and seen rows, encoded for loading (in the parser's thread). The
    batch's frames are let go: from here on the encoded rows are what is kept."""
    rows = seen = None
    if batch.rows.height:
        frame = prepare(batch.rows) if prepare is not None else batch.rows
        rows = table.encode(frame, file_no, postgres=postgres)
    if seen_table is not None and batch.seen is not None and batch.seen.height:
        seen = seen_table.encode(batch.seen, file_no, postgres=postgres)
    batch.rows = batch.rows.clear()
    batch.seen = None
    return rows, seen


def _save_rejects(run: ImportRun, rejects: list[layouts.RejectedLine]) -> None:
    RejectedRow.objects.bulk_create(
        [
            RejectedRow(
                import_run=run,
                file_name=r.file_name,
                line_number=r.line_number,
                raw=r.raw,
                errors=[{"field": e.field, "reason": e.reason} for e in r.errors],
            )
            for r in rejects
        ],
        batch_size=2_000,
    )


def _lock_campaign(cursor, campaign_id: int) -> None:
    # Two imports into one campaign would race on households and voter ids; the second waits.
    # SQLite needs nothing: its first write takes the database lock.
    if _is_postgres():
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CAMPAIGN_IMPORT_LOCK, campaign_id])
        # Once for the whole import, what a foreign key on voters.campaign would do per row: the
        # campaign cannot be deleted while its voters are being written.
        cursor.execute("SELECT 1 FROM campaign_campaign WHERE id = %s FOR KEY SHARE", [campaign_id])
        # The merges hash and sort millions of staged rows; the 4 MB default spills them to disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        # Compiling the merges' expressions costs more than it saves: they are bound by writes.
        cursor.execute("SET LOCAL jit = off")
        # Foreign keys checked as rows go in, not in a burst at commit: the phase timings then
        # account for them, and the run's finish time is when the work was done.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _read_lines(path: Path, wanted: set[int]) -> dict[int, str]:
    """The raw text of a few lines, by 1-based number (for rows rejected after staging)."""
    found: dict[int, str] = {}
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                found[number] = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
                if len(found) == len(wanted):
                    break
    return found


def _voter_keys(table: StagingTable, present: StagingTable | None) -> str:
    """SQL for every good line's (file_no, line_number, voter_id): parsed and known alike."""
    keys = f"SELECT file_no, line_number, voter_id FROM {table.name}"
    if present is not None:
        keys += f" UNION ALL SELECT file_no, line_number, voter_id FROM {present.name}"
    return f"({keys})"


def _duplicate_rows(cursor, keys: str) -> list[tuple[int, int, str, int, int]]:
    """Lines whose voter id appeared on an earlier line: (file_no, line, id, first file, line)."""
    cursor.execute(
        f"""
        WITH ranked AS (
            SELECT file_no, line_number, voter_id AS k,
                   row_number() OVER w AS nth,
                   first_value(file_no) OVER w AS first_file,
                   first_value(line_number) OVER w AS first_line
            FROM {keys} AS keyed
            WINDOW w AS (PARTITION BY voter_id ORDER BY file_no, line_number)
        )
        SELECT file_no, line_number, k, first_file, first_line FROM ranked WHERE nth > 1
        ORDER BY file_no, line_number
        """
    )
    return cursor.fetchall()


def _has_duplicates(cursor, keys: str) -> bool:
    # A hash aggregate: far cheaper than the ranked window query, which only runs when needed.
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {keys} AS keyed GROUP BY voter_id HAVING count(*) > 1)"
    )
    return cursor.fetchone()[0]


def _reject_duplicate_voters(
    cursor,
    table: StagingTable,
    sources: list[ImportSource],
    present: StagingTable | None = None,
) -> list[layouts.RejectedLine]:
    keys = _voter_keys(table, present)
    if not _has_duplicates(cursor, keys):
        return []
    duplicates = _duplicate_rows(cursor, keys)
    if not duplicates:
        return []
    wanted: dict[int, set[int]] = {}
    for file_no, line, *_ in duplicates:
        wanted.setdefault(file_no, set()).add(line)
    raw = {f: _read_lines(sources[f].path, lines) for f, lines in wanted.items()}
    rejects = []
    for file_no, line, _voter_id, first_file, first_line in duplicates:
        where = f"line {first_line}"
        if first_file != file_no:
            where += f" of {sources[first_file].display_name}"
        reason = f"duplicate voter_id (first seen on {where})"
        rejects.append(
            layouts.RejectedLine(
                file_name=sources[file_no].display_name,
                line_number=line,
                raw=raw[file_no].get(line, ""),
                errors=(layouts.FieldError("voter_id", reason),),
            )
        )
    # The first line of each voter id stays, parsed or known; every later one goes.
    for later in [table] if present is None else [table, present]:
        cursor.execute(
            f"""DELETE FROM {later.name} WHERE EXISTS (
                    SELECT 1 FROM {keys} AS earlier
                    WHERE earlier.voter_id = {later.name}.voter_id
                      AND (earlier.file_no < {later.name}.file_no
                           OR (earlier.file_no = {later.name}.file_no
                               AND earlier.line_number < {later.name}.line_number)))"""
        )
    return rejects


# Every phase an import times, in the order it runs (the admin lists them so).
PHASES = (
    "wait_for_lock", "read_digests", "parse_and_stage", "check_duplicates", "merge_households",
    "update_voters", "insert_voters", "index_partitions", "remove_absent", "attach_partition",
    "merge_elections", "count_orphans",
    "insert_vote_records",
)  # fmt: skip


@contextmanager
def _timed(run: ImportRun, phase: str):
    """Record how long a phase took on the run (seconds), for the admin and for tuning."""
    started = time.perf_counter()
    yield
    run.timings = {**(run.timings or {}), phase: round(time.perf_counter() - started, 3)}


# --------------------------------------------------------------------------------------------
# Merges
# --------------------------------------------------------------------------------------------


def _merge_households(
    cursor, table: StagingTable, campaign_id: int, now, *, target: str = "voters_household"
) -> int:
    # Ids in the order of the households' first lines: voter files list a household's members
    # together, so the voters' household index then grows at its end rather than at random pages
    # (a million-voter insert ran some seconds faster, for about two more here).
    cursor.execute(
        f"""
        INSERT INTO {target}
            (campaign_id, address_key, address, city, zip5, latitude, longitude, created_at)
        SELECT %s, s.address_key, min(s.address), min(s.city), min(s.zip5),
               avg(s.latitude), avg(s.longitude), %s
        FROM {table.name} s
        WHERE s.address_key IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {target} h
                          WHERE h.campaign_id = %s AND h.address_key = s.address_key)
        GROUP BY s.address_key
        ORDER BY min(s.file_no), min(s.line_number)
        """,
        [campaign_id, now, campaign_id],
    )
    return cursor.rowcount


def _voter_value(column: str) -> str:
    return _json(f"s.{column}") if column == "extra" else f"s.{column}"


def _row_changed(ref: str) -> str:
    # Only lines whose bytes changed since the last import are staged (see layouts.digests), so
    # comparing every value costs little; a line that differs only in padding, quoting or the
    # spelling of a placeholder compares equal here, and its voter is neither written nor counted
    # as updated (its stored digest stays the old line's). A removed voter listed again is always
    # written, to clear its removal.
    values = [_distinct(f"{ref}.{c}", _voter_value(c)) for c in Voter.IMPORTED_FIELDS]
    return "(" + " OR ".join([f"{ref}.removed_at IS NOT NULL", *values]) + ")"


def _update_voters(cursor, table: StagingTable, campaign_id: int, now) -> int:
    # SQLite's UPDATE … FROM cannot alias its target table, so name it in full there.
    target, ref = ("voters_voter AS v", "v") if _is_postgres() else ("voters_voter", "voters_voter")
    assignments = ", ".join(f"{c} = {_voter_value(c)}" for c in Voter.IMPORTED_FIELDS)
    cursor.execute(
        f"""
        UPDATE {target}
        SET {assignments}, household_id = h.id, line_digest = s.line_digest,
            updated_at = %s, removed_at = NULL
        FROM {table.name} s
        LEFT JOIN voters_household h ON h.campaign_id = %s AND h.address_key = s.address_key
        WHERE {ref}.campaign_id = %s AND {ref}.voter_id = s.voter_id AND {_row_changed(ref)}
        """,
        [now, campaign_id, campaign_id],
    )
    return cursor.rowcount


def _insert_voters(
    cursor,
    table: StagingTable,
    campaign_id: int,
    now,
    *,
    campaign_was_empty: bool,
    target: str = "voters_voter",
    households: str = "voters_household",
) -> int:
    fields = Voter.IMPORTED_FIELDS
    # A campaign's first import need not look each voter up (a million index probes).
    only_new = (
        ""
        if campaign_was_empty
        else f"""WHERE NOT EXISTS (SELECT 1 FROM voters_voter v
                                   WHERE v.campaign_id = {int(campaign_id)}
                                     AND v.voter_id = s.voter_id)"""
    )
    cursor.execute(
        f"""
        INSERT INTO {target}
            (campaign_id, voter_id, {", ".join(fields)}, household_id, line_digest,
             created_at, updated_at)
        SELECT %s, s.voter_id, {", ".join(_voter_value(c) for c in fields)}, h.id,
               s.line_digest, %s, %s
        FROM {table.name} s
        LEFT JOIN {households} h ON h.campaign_id = %s AND h.address_key = s.address_key
        {only_new}
        """,
        [campaign_id, now, now, campaign_id],
    )
    return cursor.rowcount


def _remove_absent_voters(
    cursor, table: StagingTable, present: StagingTable | None, campaign_id: int, now
) -> int:
    listed = f"NOT EXISTS (SELECT 1 FROM {table.name} s WHERE s.voter_id = voters_voter.voter_id)"
    if present is not None:
        listed += (
            f" AND NOT EXISTS (SELECT 1 FROM {present.name} p"
            " WHERE p.voter_id = voters_voter.voter_id)"
        )
    # The digest goes with the removal: the voter's line, listed again, must be parsed and written
    # to bring the voter back.
    cursor.execute(
        f"""
        UPDATE voters_voter
        SET status = 'removed', removed_at = %s, updated_at = %s, line_digest = NULL
        WHERE campaign_id = %s AND (status IS NULL OR status <> 'removed') AND {listed}
        """,
        [now, now, campaign_id],
    )
    return cursor.rowcount


def _merge_elections(cursor, table: StagingTable, campaign_id: int, state: str) -> int:
    cursor.execute(
        f"""
        INSERT INTO campaign_election (campaign_id, election_on, election_type, label, state)
        SELECT DISTINCT %s, s.election_on, s.election_type, '', %s
        FROM {table.name} s
        WHERE NOT EXISTS (SELECT 1 FROM campaign_election e
                          WHERE e.campaign_id = %s AND e.election_on = s.election_on
                            AND e.election_type = s.election_type)
        """,
        [campaign_id, state, campaign_id],
    )
    return cursor.rowcount


def _count_orphans(cursor, table: StagingTable, campaign_id: int) -> int:
    cursor.execute(
        f"""SELECT count(*) FROM {table.name} s
            WHERE NOT EXISTS (SELECT 1 FROM voters_voter v
                              WHERE v.campaign_id = %s AND v.voter_id = s.voter_id)""",
        [campaign_id],
    )
    return cursor.fetchone()[0]


def _insert_vote_records(cursor, table: StagingTable, campaign_id: int, run_id: int, now) -> int:
    # ON CONFLICT DO NOTHING skips records already on file and, with the ORDER BY, keeps the first
    # line when a file lists one voter twice for one election.
    cursor.execute(
        f"""
        INSERT INTO voters_voterecord
            (campaign_id, voter_id, election_id, voted, method, method_raw, party,
             import_run_id, created_at)
        SELECT %s, v.id, e.id, s.voted, s.method, s.method_raw, s.party, %s, %s
        FROM {table.name} s
        JOIN voters_voter v ON v.campaign_id = %s AND v.voter_id = s.voter_id
        JOIN campaign_election e ON e.campaign_id = %s AND e.election_on = s.election_on
                                AND e.election_type = s.election_type
        WHERE true
        ORDER BY s.file_no, s.line_number
        ON CONFLICT (voter_id, election_id) DO NOTHING
        """,
        [campaign_id, run_id, now, campaign_id, campaign_id],
    )
    return cursor.rowcount


# --------------------------------------------------------------------------------------------
# The two imports
# --------------------------------------------------------------------------------------------


def _lock_and_stage(
    cursor,
    run: ImportRun,
    table: StagingTable,
    sources: list[ImportSource],
    *,
    reader: Callable[..., Iterator[layouts.ParsedBatch]],
    reader_options: dict,
    on_progress: ProgressCallback | None,
    prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    after_lock: Callable[[], dict] | None = None,
    seen_table: StagingTable | None = None,
) -> StageResult:
    """The start every import shares: wait for the campaign's lock, then parse every file into
    the staging table; the merge that follows is each import's own.

    `after_lock` returns more reader options, read under the lock (what the campaign holds);
    `seen_table` receives the lines the reader left unparsed (`ParsedBatch.seen`)."""
    with _timed(run, "wait_for_lock"):
        _lock_campaign(cursor, run.campaign_id)
    if after_lock is not None:
        reader_options = {**reader_options, **after_lock()}
    table.create(cursor)
    if seen_table is not None:
        seen_table.create(cursor)
    with _timed(run, "parse_and_stage"):
        staged = _stage_files(
            cursor=cursor,
            table=table,
            sources=sources,
            reader=reader,
            reader_options=reader_options,
            run=run,
            on_progress=on_progress,
            prepare=prepare,
            seen_table=seen_table,
        )
    # What each mapped column gave, so a column read as blanks is seen (saved with the run).
    run.field_counts = staged.field_counts.as_json()
    run.warnings = staged.field_counts.warnings()
    _report_phase(on_progress, sources, staged, "merging")
    return staged


def _stored_digests(cursor, campaign_id: int) -> layouts.KnownDigests:
    """The line digests the campaign's voters were last written from (16 bytes each)."""
    query = (
        "SELECT line_digest FROM voters_voter WHERE campaign_id = %s"
        f" AND line_digest IS NOT NULL AND length(line_digest) = {DIGEST_BYTES}"
    )
    if not _is_postgres():
        cursor.execute(query, [campaign_id])
        return layouts.KnownDigests(b"".join(bytes(row[0]) for row in cursor.fetchall()))
    # Binary COPY: a state's eight million digests arrive as one buffer, never as Python objects.
    buffer = bytearray()
    with cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)", [campaign_id]) as copy:
        for chunk in copy:
            buffer += chunk
    # 19-byte header; each row is a field count (2 bytes), a length (4) and the digest; a 2-byte
    # trailer.
    record = 6 + DIGEST_BYTES
    rows = (len(buffer) - 21) // record
    table = np.frombuffer(buffer, dtype=np.uint8, count=rows * record, offset=19)
    digests = table.reshape(rows, record)[:, 6:].copy()
    del table, buffer
    return layouts.KnownDigests(digests)


def _resolve_seen_lines(cursor, seen: StagingTable, campaign_id: int) -> StagingTable:
    """The voter each unparsed line stands for, as (file_no, line_number, voter_id)."""
    present = StagingTable("stage_present", {"voter_id": pl.Utf8})
    present.drop(cursor)
    seen.analyze(cursor, keys=("line_digest",))
    on_commit = " ON COMMIT DROP" if _is_postgres() else ""
    # Under the campaign's lock every digest read before staging is still on its voter.
    cursor.execute(
        f"""CREATE TEMPORARY TABLE {present.name}{on_commit} AS
            SELECT d.file_no, d.line_number, v.voter_id
            FROM {seen.name} d
            JOIN voters_voter v ON v.campaign_id = %s AND v.line_digest = d.line_digest""",
        [campaign_id],
    )
    seen.drop(cursor)
    return present


def _first_load_partitions(cursor, campaign) -> tuple[bool, dict[str, partitions.NewPartition]]:
    """Whether the campaign has no voters yet, and the partitions its first import creates
    (none on SQLite, or where the campaign's rows already live in the default partitions)."""
    parents = (partitions.HOUSEHOLDS, partitions.VOTERS)
    first_load = partitions.is_partitioned(cursor, partitions.VOTERS) and not any(
        partitions.has_own_partition(cursor, parent, campaign.pk) for parent in parents
    )
    if first_load:
        # Looking for the campaign's rows reads the default partitions, which attaching a new
        # partition locks: two first imports doing both at once would deadlock.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FIRST_LOAD_LOCK])
    was_empty = not Voter.objects.filter(campaign=campaign).exists()
    if not (first_load and was_empty) or Household.objects.filter(campaign=campaign).exists():
        return was_empty, {}
    return was_empty, {parent: partitions.NewPartition(parent, campaign.pk) for parent in parents}


def run_voter_import(
    run: ImportRun,
    sources: list[ImportSource],
    *,
    batch_rows: int = BATCH_ROWS,
    on_progress: ProgressCallback | None = None,
) -> ImportRun:
    """Import voter files into `run.campaign` in one transaction; fills in the run's counts.

    Lines whose digest an earlier import stored on a voter are neither parsed nor written (see
    `layouts.digests`); the rest are staged, compared value by value, and merged.
    """
    campaign = run.campaign
    table = StagingTable("stage_voters", {**layouts.VOTER_COLUMNS, "line_digest": pl.Binary})
    seen = StagingTable("stage_seen", {"line_digest": pl.Binary})
    known: dict = {}

    def read_stored_digests() -> dict:
        known["was_empty"], known["new_partitions"] = _first_load_partitions(cursor, campaign)
        with _timed(run, "read_digests"):
            stored = layouts.KnownDigests()
            if not known["was_empty"]:
                stored = _stored_digests(cursor, campaign.pk)
        return {"known_digests": stored}

    with transaction.atomic(), connection.cursor() as cursor:
        staged = _lock_and_stage(
            cursor,
            run,
            table,
            sources,
            reader=layouts.read_voter_batches,
            reader_options={
                "layout": run.layout,
                "batch_rows": batch_rows,
                "default_state": campaign.state,
            },
            on_progress=on_progress,
            after_lock=read_stored_digests,
            seen_table=seen,
        )
        was_empty = known["was_empty"]
        present = None
        with _timed(run, "check_duplicates"):
            if staged.seen:
                present = _resolve_seen_lines(cursor, seen, campaign.pk)
                present.analyze(cursor, keys=("voter_id",))
            table.analyze(cursor, keys=("voter_id", "address_key"))
            duplicates = _reject_duplicate_voters(cursor, table, sources, present)
        _fail_if_strict(run, staged, duplicates)
        if duplicates:
            _save_rejects(run, duplicates)
        now = timezone.now()
        new = known["new_partitions"]
        for partition in new.values():
            partition.create(cursor)
        households = new[partitions.HOUSEHOLDS].name if new else "voters_household"
        with _timed(run, "merge_households"):
            run.households_created = _merge_households(
                cursor, table, campaign.pk, now, target=households
            )
            if new:  # a new table has no statistics: the voter insert joins it by address
                cursor.execute(f"ANALYZE {households}")
        if not was_empty:  # a first import has nothing to update
            with _timed(run, "update_voters"):
                run.updated = _update_voters(cursor, table, campaign.pk, now)
        with _timed(run, "insert_voters"):
            run.created = _insert_voters(
                cursor,
                table,
                campaign.pk,
                now,
                campaign_was_empty=was_empty,
                target=new[partitions.VOTERS].name if new else "voters_voter",
                households=households,
            )
        if new:
            with _timed(run, "index_partitions"):
                for partition in new.values():
                    partition.complete(cursor)
        good = staged.staged + staged.seen - len(duplicates)
        run.unchanged = good - run.created - run.updated
        if run.is_full and not was_empty:  # nobody to remove from an empty campaign
            with _timed(run, "remove_absent"):
                run.removed = _remove_absent_voters(cursor, table, present, campaign.pk, now)
        run.rows_read = staged.rows_read
        run.rejected = staged.rejected + len(duplicates)
        run.invalid_phones = staged.invalid_phones
        table.drop(cursor)
        seen.drop(cursor)
        if present is not None:
            present.drop(cursor)
        if new:
            # Last, right before the commit: attaching locks tables every campaign uses.
            with _timed(run, "attach_partition"):
                for partition in new.values():
                    partition.attach(cursor)
        _finish(run, analyzed={partition.name for partition in new.values()})
    return run


def run_history_import(
    run: ImportRun,
    sources: list[ImportSource],
    *,
    batch_rows: int = BATCH_ROWS,
    on_progress: ProgressCallback | None = None,
) -> ImportRun:
    """Import vote-history files into `run.campaign` in one transaction."""
    campaign = run.campaign
    table = StagingTable("stage_history", layouts.HISTORY_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        staged = _lock_and_stage(
            cursor,
            run,
            table,
            sources,
            reader=layouts.read_history_batches,
            reader_options={"layout": run.layout, "batch_rows": batch_rows},
            on_progress=on_progress,
        )
        table.analyze(cursor, keys=("voter_id", "election_on", "election_type"))
        _fail_if_strict(run, staged, [])
        now = timezone.now()
        with _timed(run, "merge_elections"):
            run.elections_created = _merge_elections(cursor, table, campaign.pk, campaign.state)
        with _timed(run, "count_orphans"):
            run.orphaned = _count_orphans(cursor, table, campaign.pk)
        with _timed(run, "insert_vote_records"):
            run.created = _insert_vote_records(cursor, table, campaign.pk, run.pk, now)
        run.duplicates = staged.staged - run.orphaned - run.created
        run.rows_read = staged.rows_read
        run.rejected = staged.rejected
        table.drop(cursor)
        _finish(run)
    return run


def _report_phase(
    on_progress: ProgressCallback | None, sources: list[ImportSource], staged: StageResult, phase
) -> None:
    if on_progress:
        total = sum(layouts.file_size(s.path) for s in sources)
        on_progress(
            ImportProgress(
                file_name=sources[-1].display_name,
                file_index=len(sources) - 1,
                file_count=len(sources),
                bytes_done=total,
                bytes_total=total,
                rows_read=staged.rows_read,
                phase=phase,
            )
        )


def _fail_if_strict(
    run: ImportRun, staged: StageResult, duplicates: list[layouts.RejectedLine]
) -> None:
    if run.mode != ImportMode.STRICT or not (staged.rejected or duplicates):
        return
    rejects = staged.kept_rejects + duplicates
    count = staged.rejected + len(duplicates)
    noun = "row" if count == 1 else "rows"
    raise ImportFailed(
        f"{count:,} bad {noun} in a strict import; nothing was imported",
        rejects=rejects,
        rejected_count=count,
    )


# The tables each kind of import writes. Their planner statistics are refreshed at the end of the
# merge: autovacuum catches up only later (or never, where it is off), and a scoring run started
# right after a state-scale import would otherwise plan its joins for a table of a hundred rows.
WRITTEN_TABLES = {
    ImportKind.VOTERS: ("voters_voter", "voters_household"),
    ImportKind.HISTORY: ("voters_voterecord", "campaign_election"),
    ImportKind.CONTACTS: (
        "voters_contactattempt", "voters_surveyresponse", "voters_consentevent", "voters_program",
    ),
    ImportKind.ASSIGNMENTS: ("voters_assignment", "voters_programarm"),
}  # fmt: skip


def _finish(run: ImportRun, *, analyzed: set[str] | frozenset[str] = frozenset()) -> None:
    """Mark the run succeeded; refresh the statistics of what it wrote (but the `analyzed`
    tables)."""
    if _is_postgres():
        with connection.cursor() as cursor:
            for table in WRITTEN_TABLES.get(run.kind, ()):
                if table in (partitions.VOTERS, partitions.HOUSEHOLDS):
                    # The campaign's own partition: analyzing the parent would sample (and then
                    # analyze) every campaign's rows.
                    table = partitions.table_holding(cursor, table, run.campaign_id)
                if table not in analyzed:
                    cursor.execute(f"ANALYZE {table}")
    elif connection.vendor == "sqlite":
        # Without statistics SQLite's planner takes any index on campaign_id for a campaign's
        # voters, and the admin's party filter then sorted all of them by id (2 s on the demo's
        # 100,000 voters, 10 ms with statistics): the embedded default is what newcomers see.
        with connection.cursor() as cursor:
            for table in WRITTEN_TABLES.get(run.kind, ()):
                cursor.execute(f"ANALYZE {table}")
    run.status = ImportStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    logger.info("import %s finished: campaign=%s kind=%s", run.pk, run.campaign_id, run.kind)


__all__ = [
    "ImportFailed",
    "ImportKind",
    "ImportProgress",
    "ImportSource",
    "run_history_import",
    "run_voter_import",
]
