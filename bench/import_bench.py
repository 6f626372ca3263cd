"""Import throughput against raw PostgreSQL COPY of the same file, measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/import_bench.py --rows N

Generates an NC-layout voter file (ncvoter, 67 columns), then on a fresh database:
  1. baseline: COPY of the file into a plain table of 67 text columns with no indexes;
  2. `manage.py import_voters --layout nc` (parse, normalize, stage, merge): rows/s, peak RSS;
  3. the same command again on the unchanged file (nothing to parse, nothing to write).
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


def baseline_copy(url: str, path: Path) -> float:
    """Seconds to COPY the file as-is into an unindexed table with one text column per field."""
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
    columns = ", ".join(f'"{name}" text' for name in header)
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE raw_ncvoter ({columns})")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY raw_ncvoter FROM STDIN (FORMAT csv, DELIMITER E'\\t', HEADER true, "
                "QUOTE E'\\x01')"
            ) as copy,
            open(path, "rb") as handle,
        ):
            while chunk := handle.read(8 << 20):
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE raw_ncvoter")
    return elapsed


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
    print(f"import / raw COPY throughput: {copy_s / import_s:.2f} (target >= 0.20)")
    print(f"re-import speed-up over first import: {import_s / reimport_s:.2f}x (target >= 2)")
    for name, phases in zip(("import", "re-import"), timings, strict=True):
        spent = sorted(phases.items(), key=lambda item: -item[1])
        print(f"{name} phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in spent if v >= 0.05))


if __name__ == "__main__":
    main()
