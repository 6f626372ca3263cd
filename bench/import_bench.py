"""Import throughput against raw PostgreSQL COPY of the same file, measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/import_bench.py --rows N

Generates an NC-layout voter file (ncvoter, 67 columns), then on a fresh database:
  1. baseline: COPY of the file into a plain table of 67 text columns with no indexes;
  2. `manage.py import_voters --layout nc` (parse, normalize, stage, merge): rows/s, peak RSS;
  3. the same command again on the unchanged file (nothing to parse, nothing to write);
  4. the storage floor: COPY of the voters the import stored into a bare table of the same
     columns, and the same indexes built on it (what PostgreSQL alone needs for those rows).
Prints rows/s for each, the ratios, the peak resident memory of the import process, and the
seconds each import spent per phase (ImportRun.timings).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voters import synthetic  # noqa: E402

BENCH_DB = "segment_one_bench"


def bench_database_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def recreate_database(base_url: str) -> str:
    # Through the server's maintenance database: DATABASE_URL's own need not exist yet.
    admin_url = urlunsplit(urlsplit(base_url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    url = bench_database_url(base_url)
    run_manage(url, ["migrate", "--no-input", "-v", "0"])
    run_manage(url, ["create_campaign", "bench", "--name", "Benchmark", "--state", "NC"])
    return url


def run_manage(url: str, args: list[str]) -> tuple[float, int, str]:
    """Run a manage.py command; return (seconds, peak RSS in bytes of its process, stdout)."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "campaign.settings"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    out, err = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{err[-4000:]}")
    return elapsed, peak, out


def copy_file_in(conn: psycopg.Connection, statement: str, path: Path) -> None:
    """Stream a file into a COPY ... FROM STDIN statement, 8 MB at a time."""
    with conn.cursor() as cur, cur.copy(statement) as copy, open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            copy.write(chunk)


def baseline_copy(url: str, path: Path) -> float:
    """Seconds to COPY the file as-is into an unindexed table with one text column per field."""
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
    columns = ", ".join(f'"{name}" text' for name in header)
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE raw_ncvoter ({columns})")
        conn.commit()
        started = time.perf_counter()
        copy_file_in(
            conn,
            "COPY raw_ncvoter FROM STDIN (FORMAT csv, DELIMITER E'\\t', HEADER true, "
            "QUOTE E'\\x01')",
            path,
        )
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE raw_ncvoter")
    return elapsed


def storage_floor(url: str, tmp: Path) -> tuple[float, float, int]:
    """What PostgreSQL alone needs to store what the import stored, measured on the imported
    voters themselves: seconds to COPY them (as text, every column) into a bare table of the same
    columns, and seconds to build the same indexes on it. No import that writes these rows and
    indexes can beat their sum, whatever its parser does. Also returns the number of indexes."""
    dump = tmp / "voters.copy"
    with psycopg.connect(url) as conn:
        with (
            conn.cursor() as cur,
            open(dump, "wb") as out,
            cur.copy("COPY (SELECT * FROM voters_voter) TO STDOUT") as copy,
        ):
            for chunk in copy:
                out.write(chunk)
        # The partition the import attached: its indexes are the ones to rebuild.
        partition = conn.execute(
            "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid"
            " WHERE h.inhparent = 'voters_voter'::regclass AND c.relname <> 'voters_voter_default'"
        ).fetchone()[0]
        indexes = [
            row[0]
            for row in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
                [partition],
            )
        ]
        conn.execute("CREATE TABLE floor_voters (LIKE voters_voter INCLUDING DEFAULTS)")
        conn.commit()
        started = time.perf_counter()
        copy_file_in(conn, "COPY floor_voters FROM STDIN", dump)
        conn.commit()
        copy_s = time.perf_counter() - started
        # The same memory for sorting as the import's attach (voters.partitions).
        conn.execute("SET maintenance_work_mem = '512MB'")
        started = time.perf_counter()
        for n, definition in enumerate(indexes):
            head, _, columns = definition.partition(" USING ")
            unique = "UNIQUE " if head.startswith("CREATE UNIQUE") else ""
            conn.execute(f"CREATE {unique}INDEX floor_{n} ON floor_voters USING {columns}")
        conn.commit()
        index_s = time.perf_counter() - started
        conn.execute("DROP TABLE floor_voters")
        conn.commit()
    dump.unlink()
    return copy_s, index_s, len(indexes)


def count_voters(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM voters_voter").fetchone()[0]


def phase_timings(url: str) -> list[dict[str, float]]:
    """Seconds per phase of each import run so far (ImportRun.timings), oldest first."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT timings FROM voters_importrun ORDER BY id").fetchall()
    return [row[0] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=synthetic.DEFAULT_SEED)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        path = Path(tmp) / "ncvoter.txt"
        started = time.perf_counter()
        synthetic.write_nc_voter_file(path, rows=args.rows, seed=args.seed)
        size_mb = path.stat().st_size / 1e6
        took = time.perf_counter() - started
        print(f"generated {args.rows:,} rows ({size_mb:,.0f} MB) in {took:.1f}s")

        url = recreate_database(base_url)
        copy_s = baseline_copy(url, path)
        import_args = ["import_voters", "--campaign", "bench", "--layout", "nc", "--full"]
        import_args.append(str(path))
        import_s, import_rss, out = run_manage(url, import_args)
        print(out.strip().splitlines()[-1])
        loaded = count_voters(url)
        reimport_s, reimport_rss, out = run_manage(url, import_args)
        print(out.strip().splitlines()[-1])
        timings = phase_timings(url)
        floor_copy_s, floor_index_s, floor_indexes = storage_floor(url, Path(tmp))

    rows = args.rows
    print()
    print(f"{'step':<34}{'seconds':>10}{'rows/s':>14}{'vs COPY':>10}")
    for name, seconds in (
        ("raw COPY (baseline, no indexes)", copy_s),
        ("import_voters --layout nc", import_s),
        ("re-import, file unchanged", reimport_s),
    ):
        print(f"{name:<34}{seconds:>10.2f}{rows / seconds:>14,.0f}{copy_s / seconds:>10.2f}")
    print()
    print(f"voters in the database after import: {loaded:,} (expected {rows:,})")
    print(f"peak RSS of the import process: {import_rss / 2**20:,.0f} MiB "
          f"(re-import {reimport_rss / 2**20:,.0f} MiB)")  # fmt: skip
    floor_s = floor_copy_s + floor_index_s
    print(f"storage floor: COPY of the imported voters into a bare table {floor_copy_s:.1f} s, "
          f"their {floor_indexes} indexes {floor_index_s:.1f} s; together {floor_s:.1f} s, "
          f"{copy_s / floor_s:.2f} of the raw COPY's throughput (no import storing these rows "
          "can do better)")  # fmt: skip
    print(f"import / raw COPY throughput: {copy_s / import_s:.2f} (target >= 0.20)")
    print(f"re-import speed-up over first import: {import_s / reimport_s:.2f}x (target >= 2)")
    for name, phases in zip(("import", "re-import"), timings, strict=True):
        spent = sorted(phases.items(), key=lambda item: -item[1])
        print(f"{name} phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in spent if v >= 0.05))


if __name__ == "__main__":
    main()
