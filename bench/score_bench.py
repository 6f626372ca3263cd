"""A full scoring run through Celery against the in-memory floor of the same models, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/score_bench.py --voters N

On a fresh scratch database (issue 4 §9):
  1. generates a county of N voters and imports voters, history, the program's assignments and the
     contact history (support answers) through the real import services;
  2. trains and approves the turnout model (label: the program's general), the support model (if
     the answers suffice) and the K-arm persuasion model (DR-learner on the program's voters,
     `--folds` 3 by default, the fewest nested cross-fitting allows: the folds only cross-fit
     the out-of-fold evaluation, the final per-arm models that score are fitted on every
     program voter whatever the folds);
  3. FULL RUN: `manage.py score --campaign bench --wait` through Celery with two worker processes
     (`celery -A campaign worker -Q scoring -c 1 --pool solo`, twice, one xgboost thread each) on
     a Redis db of its own; wall time from the command's start to the run's completion and where
     it went, peak RSS of each worker, CPU seconds of the workers and the database backends;
  4. FLOOR: the same approved models' xgboost predict and exact TreeSHAP (`pred_contribs`) on the
     whole feature matrix already in memory, 2 threads, exactly the scorer's per-voter work;
  5. where one chunk's time goes (features, predict, SHAP, reasons, write) in-process, and a
     cProfile of `score_chunk` on one fresh chunk.
Prints voters/s of both, the ratio (target >= 0.6), the minutes (target < 10 at 1,000,000).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import psycopg
import redis
import xgboost as xgb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import recreate_database, scratch_url, setup_django  # noqa: E402
from voters import synthetic  # noqa: E402

BENCH_DB = "segment_one_bench_score"
SLUG = "bench"
THREADS = 2  # the floor's: both cores in one process
# Each worker's: cores divided by worker processes, as settings.SCORING_THREADS advises. With two
# threads each, both workers' trees contend for the two cores and the run cost 15-20% more CPU
# seconds (measured at 200,000 voters: 15.6-18.3 against 12.7-13.5 for the workers).
WORKER_THREADS = 1


def say(message: str) -> None:
    print(message, flush=True)


class Timer:
    def __init__(self, label: str):
        self.label = label

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
        if exc[0] is None:
            say(f"  {self.label}: {self.seconds:.1f}s")


# -- setup ------------------------------------------------------------------------------------


def analyze(url: str) -> None:
    """Statistics for the freshly imported tables, as autovacuum would gather them in time.

    Without them (autovacuum off, or a run started right after a big import) the planner takes
    the campaign's voters for a handful of rows and the household query of every chunk runs for
    tens of seconds instead of a fraction of one: `--no-analyze` measures that case.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        setting = conn.execute("SHOW autovacuum").fetchone()[0]
        started = time.perf_counter()
        conn.execute("ANALYZE")
    say(f"  ANALYZE (autovacuum is {setting}): {time.perf_counter() - started:.1f}s")


def reuse_database(url: str):
    """The scratch database of an earlier run, its scoring runs removed (models kept)."""
    from campaign.models import Campaign

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE scoring_voterscore, scoring_scoringchunk, scoring_scoringrun")
    say("  reusing the imported county and approved models of an earlier run")
    return Campaign.objects.get(slug=SLUG)


def load_county(county: synthetic.CountyFiles):
    from campaign.services import create_campaign
    from voters.services import (
        import_contact_history,
        import_program_assignments,
        import_vote_history,
        import_voter_file,
    )

    campaign, _ = create_campaign(slug=SLUG, name="Benchmark", state="NC")
    common = {"campaign": campaign, "mode": "quarantine"}
    with Timer("import voters"):
        import_voter_file(paths=[county.voters_csv], full=True, **common)
    with Timer("import history"):
        import_vote_history(paths=[county.history_csv], **common)
    # Assignments first, so the program's door knocks in the contacts find their arms.
    with Timer("import assignments"):
        import_program_assignments(
            program=county.program_name, paths=[county.assignments_csv], **common
        )
    with Timer("import contacts (answers)"):
        import_contact_history(paths=[county.contacts_csv], **common)
    return campaign


def train_models(campaign, county: synthetic.CountyFiles, folds: int) -> None:
    from django.contrib.auth import get_user_model

    from campaign.models import Election
    from scoring.services import (
        TrainingError,
        train_persuasion_model,
        train_support_model,
        train_turnout_model,
    )
    from voters.models import Program

    user = get_user_model().objects.create_superuser("bench", "bench@example.org", None)
    election = Election.objects.get(
        campaign=campaign, election_on=county.program_election.on, election_type="general"
    )
    with Timer(f"train+approve turnout (label: {election.election_on})"):
        train_turnout_model(campaign=campaign, election=election, user=user, approve=True)
    try:
        with Timer("train+approve support"):
            train_support_model(campaign=campaign, user=user, approve=True)
    except TrainingError as exc:
        say(f"  support model not trained: {'; '.join(exc.messages)}")
    program = Program.objects.get(campaign=campaign, name=county.program_name)
    with Timer(f"train+approve persuasion ({folds} folds)"):
        train_persuasion_model(
            campaign=campaign, program=program, election=election, folds=folds, user=user,
            approve=True,
        )  # fmt: skip


def describe_models(run) -> None:
    for label, version in (
        ("turnout", run.turnout_model),
        ("support", run.support_model),
        ("persuasion", run.persuasion_model),
    ):
        if version is None:
            say(f"  {label}: none approved")
        elif label == "persuasion":
            m = version.metrics
            size = m.get("uplift_size")
            if size is None:
                say(f"  persuasion: v{version.pk}, trained before uplift sizes were searched")
                continue
            say(
                f"  persuasion: v{version.pk}, {len(m['arms'])} arms x uplift model depth "
                f"{size['max_depth']} x {size['n_estimators']} trees, trained on {m['n']:,} "
                "voters (sizes by cross-fitted DR loss above the best: "
                + ", ".join(
                    f"d{c['max_depth']}x{c['n_estimators']}=+{c['above_best']:.5f}±{c['se']:.5f}"
                    for c in m["uplift_sizes"]
                )
                + ")"
            )
        else:
            m, p = version.metrics, version.params
            say(
                f"  {label}: v{version.pk}, depth {p['max_depth']} x {p['trees']} trees, "
                f"held-out AUC {m['auc']:.4f}, AUC given up vs best size "
                f"{m['auc_given_up']:.4f} (sizes: "
                + ", ".join(f"d{s['max_depth']}x{s['trees']}={s['auc']:.4f}" for s in m["sizes"])
                + ")"
            )


# -- the full run -----------------------------------------------------------------------------


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


class Workers:
    """Two solo-pool scoring workers on the scratch database, RSS sampled while they run."""

    def __init__(self, env: dict, log_dir: Path, count: int = 2):
        self.env, self.log_dir, self.count = env, log_dir, count
        self.processes: list[subprocess.Popen] = []
        self.peaks: list[int] = []
        self.logs: list = []
        self.backends: dict[int, float] = {}
        self._stop = threading.Event()

    def start(self) -> None:
        for i in range(self.count):
            # Kept open for the worker's life, closed in stop().
            log = open(self.log_dir / f"worker{i + 1}.log", "w")  # noqa: SIM115
            self.logs.append(log)
            command = [
                sys.executable, "-m", "celery", "-A", "campaign", "worker", "-Q", "scoring",
                "-c", "1", "--pool", "solo", "-n", f"bench{i + 1}@%h", "-l", "INFO",
            ]  # fmt: skip
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
            )
        self.peaks = [0] * self.count
        deadline = time.monotonic() + 120
        while not all(self._ready(i) for i in range(self.count)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise SystemExit(f"workers did not start; see {self.log_dir}")
            time.sleep(0.2)
        threading.Thread(target=self._sample, daemon=True).start()

    def _ready(self, i: int) -> bool:
        return "ready." in (self.log_dir / f"worker{i + 1}.log").read_text(errors="replace")

    def _sample(self) -> None:
        watched = [psutil.Process(p.pid) for p in self.processes]
        while not self._stop.is_set():
            for i, process in enumerate(watched):
                try:
                    rss = process.memory_info().rss
                    rss += sum(c.memory_info().rss for c in process.children(recursive=True))
                    self.peaks[i] = max(self.peaks[i], rss)
                except psutil.NoSuchProcess:
                    pass
            self._sample_backends()
            time.sleep(0.1)

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds so far of the workers and of the database backends serving the scratch
        database. Backends come and go (Celery closes a worker's connection after each task), so
        each one's time is its last sample: a backend's last fraction of a second is missed."""
        workers = sum(_cpu(psutil.Process(p.pid)) for p in self.processes)
        self._sample_backends()
        return workers, sum(self.backends.values())

    def _sample_backends(self) -> None:
        for process in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or ())
            if process.info["name"] == "postgres" and f" {BENCH_DB} " in f"{cmdline} ":
                self.backends[process.pid] = max(self.backends.get(process.pid, 0.0), _cpu(process))

    def stop(self) -> None:
        self._stop.set()
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()


def full_run(
    url: str, redis_url: str, chunk_voters: int, log_dir: Path, threads: int
) -> tuple[float, list, tuple[float, float], tuple[float, float]]:
    """Seconds of `score --wait` from its start to the run's completion; worker peak RSS; the
    command's start and end (epoch seconds), to place the run's own timestamps between; CPU
    seconds the run cost the workers and the database backends."""
    redis.Redis.from_url(redis_url).flushdb()  # the bench's own db: no stale chunks
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_SETTINGS_MODULE": "campaign.settings",
        "SCORING_THREADS": str(threads),
    }
    workers = Workers(env, log_dir)
    workers.start()
    try:
        command = [sys.executable, "manage.py", "score", "--campaign", SLUG, "--wait",
                   "--chunk-voters", str(chunk_voters)]  # fmt: skip
        cpu_before = workers.cpu_seconds()
        started, started_at = time.perf_counter(), time.time()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        ended_at = time.time()
        cpu = tuple(b - a for a, b in zip(cpu_before, workers.cpu_seconds(), strict=True))
    finally:
        workers.stop()
    if done.returncode != 0:
        raise SystemExit(f"score failed:\n{done.stderr[-4000:]}\nworker logs in {log_dir}")
    say(f"  {done.stdout.strip().splitlines()[-1]}")
    return seconds, workers.peaks, (started_at, ended_at), cpu


# -- the floor --------------------------------------------------------------------------------


def floor_seconds(scorer, matrix) -> float:
    """The scorer's xgboost work on the in-memory matrix: predict and exact SHAP of turnout and
    support, every arm's uplift, SHAP of each voter's chosen arm."""

    started = time.perf_counter()
    for model in (scorer.turnout, scorer.support):
        if model is None:
            continue
        booster = model.artifact.boosters["model"]
        dmatrix = xgb.DMatrix(model.features(matrix))
        booster.predict(dmatrix)
        booster.predict(dmatrix, pred_contribs=True)
    model = scorer.persuasion
    if model is not None:
        x = model.features(matrix)
        boosters = model.uplift_boosters()
        dmatrix = xgb.DMatrix(x)
        tau = np.column_stack([b.predict(dmatrix) for b in boosters])
        chosen = model.chosen_arms(tau)
        for k in range(1, len(model.arm_names)):
            rows = np.flatnonzero(chosen == k)
            if rows.size:
                boosters[k - 1].predict(xgb.DMatrix(x[rows]), pred_contribs=True)
    return time.perf_counter() - started


def phases(run, command_started: float, command_ended: float) -> str:
    """The command's start-up, the run's queueing, its chunks, and the command noticing the end."""
    marks = [
        ("command start-up", run.created_at.timestamp()),
        ("chunks made and sent, first one picked up", run.started_at.timestamp()),
        ("scoring (first chunk's start to the run's end)", run.finished_at.timestamp()),
        ("the command noticing the end", command_ended),
    ]
    previous, out = command_started, []
    for label, at in marks:
        out.append(f"{label} {at - previous:.1f}s")
        previous = at
    return "; ".join(out)


def all_boosters(scorer) -> list:
    models = [m for m in (scorer.turnout, scorer.support, scorer.persuasion) if m is not None]
    return [b for m in models for b in m.artifact.boosters.values()]


# -- one chunk, in-process --------------------------------------------------------------------


def chunk_breakdown(scorer, run, chunk) -> dict[str, float]:
    """Seconds per stage of one chunk, the scorer's steps timed one by one (write rolled back)."""
    from django.db import transaction

    from scoring.features import build_features
    from scoring.ml import calibrated_points, shap_values
    from scoring.models import ScoringRun
    from scoring.services.runs import ChunkData, _write_scores

    spent = dict.fromkeys(("features", "predict", "SHAP", "reasons", "write"), 0.0)

    def timed(stage, work):
        started = time.perf_counter()
        result = work()
        spent[stage] += time.perf_counter() - started
        return result

    matrix = timed("features", lambda: build_features(scorer.context, pk_range=chunk))
    n = len(matrix.voter_pks)
    renderer, parts, data = scorer.reasons, [], ChunkData(matrix)
    for label, model in (("turnout", scorer.turnout), ("support", scorer.support)):
        if model is None:
            continue
        booster = model.artifact.boosters["model"]
        x, dmatrix = timed("predict", lambda m=model: data.of(m))
        raw = timed("predict", lambda b=booster, d=dmatrix: b.predict(d))
        calibrator = model.artifact.calibrators["model"]
        calibrated = timed("predict", lambda c=calibrator, raw=raw: c.predict(raw))
        contributions, base = timed("SHAP", lambda b=booster, x=x, d=dmatrix: shap_values(b, x, d))
        scale = timed(
            "reasons",
            lambda c=contributions, b=base, p=calibrated, k=calibrator: calibrated_points(
                c, b, p, k
            ),
        )
        timed(
            "reasons",
            lambda c=contributions, m=model, s=scale, label=label: parts.append(
                renderer.parts(label, c, matrix, m.spec.names, scale=s)
            ),
        )
    model = scorer.persuasion
    if model is not None:
        names = model.arm_names
        x, dmatrix = timed("predict", lambda: data.of(model))
        boosters = model.uplift_boosters()
        tau = timed("predict", lambda: np.column_stack([b.predict(dmatrix) for b in boosters]))
        chosen = model.chosen_arms(tau)
        for k in range(1, len(names)):
            rows = np.flatnonzero(chosen == k)
            if rows.size:
                contributions, _ = timed(
                    "SHAP", lambda k=k, r=rows: shap_values(boosters[k - 1], x[r], dmatrix.slice(r))
                )
                timed(
                    "reasons",
                    lambda c=contributions, r=rows, k=k: parts.append(
                        renderer.parts(f"uplift {names[k]}", c, matrix, model.spec.names, rows=r)
                    ),
                )
    timed("reasons", lambda: renderer.render(n, parts))
    started = time.perf_counter()
    scores = scorer.score(matrix)
    whole_score = time.perf_counter() - started

    # What a chunk writes, into a scratch run (the real run already holds these voters' rows),
    # rolled back.
    with transaction.atomic():
        scratch = ScoringRun.objects.create(
            campaign_id=run.campaign_id, as_of=run.as_of, turnout_model_id=run.turnout_model_id
        )
        timed("write", lambda: _write_scores(scratch.pk, scores))
        transaction.set_rollback(True)
    spent["Scorer.score() as a whole"] = whole_score
    spent["voters"] = n
    return spent


def profile_chunk(run, first_pk: int, last_pk: int, top: int) -> str:
    """cProfile of score_chunk on a fresh chunk of a fresh run (same models; no Celery)."""
    from scoring.models import ScoringChunk, ScoringRun
    from scoring.services.runs import _scorer, score_chunk

    twin = ScoringRun.objects.create(
        campaign_id=run.campaign_id, as_of=run.as_of, target_election=run.target_election,
        turnout_model=run.turnout_model, support_model=run.support_model,
        persuasion_model=run.persuasion_model, chunks_total=1,
    )  # fmt: skip
    chunk = ScoringChunk.objects.create(run=twin, first_pk=first_pk, last_pk=last_pk)
    _scorer(twin)  # models and context loaded once per process, as a worker does: not profiled
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    scored = score_chunk(run_id=twin.pk, chunk_id=chunk.pk)
    profiler.disable()
    seconds = time.perf_counter() - started
    out = io.StringIO()
    out.write(f"score_chunk: {scored:,} voters in {seconds:.2f}s ({scored / seconds:,.0f}/s)\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    global BENCH_DB  # one scratch database a bench run, named once, here
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=synthetic.DEFAULT_SEED)
    parser.add_argument("--folds", type=int, default=3, help="persuasion cross-fitting folds")
    parser.add_argument("--chunk-voters", type=int, default=20_000)
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=WORKER_THREADS,
        help="xgboost threads per worker process",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--database", default=BENCH_DB, help="scratch database (made anew unless --reuse)"
    )
    parser.add_argument("--profile-top", type=int, default=25, help="0: no cProfile")
    parser.add_argument(
        "--no-analyze", action="store_true", help="score on the statistics the imports leave"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the scratch database of an earlier run"
    )
    args = parser.parse_args()
    BENCH_DB = args.database
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    started_all = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="score-bench-") as tmp:
        say(f"setup ({args.voters:,} voters, scratch database {BENCH_DB})")
        if not args.reuse:
            with Timer("generate county"):
                county = synthetic.generate_county(
                    Path(tmp) / "county", voters=args.voters, seed=args.seed
                )
        if args.reuse:
            url = scratch_url(base_url, BENCH_DB)
            setup_django(url)
            campaign = reuse_database(url)
            if not args.no_analyze:
                analyze(url)
        else:
            url = recreate_database(base_url, BENCH_DB)
            with Timer("migrate"):
                setup_django(url)
            campaign = load_county(county)
            if not args.no_analyze:
                analyze(url)
            train_models(campaign, county, args.folds)

        threads = args.worker_threads
        say(f"full run: score --wait through Celery, 2 solo workers x {threads} threads")
        full_s, peaks, command_span, run_cpu = full_run(
            url, args.redis_url, args.chunk_voters, Path(tmp), args.worker_threads
        )

    from scoring.features import build_features
    from scoring.models import RunStatus, ScoringRun
    from scoring.services import run_progress
    from scoring.services.runs import Scorer

    run = ScoringRun.objects.select_related(
        "turnout_model", "support_model", "persuasion_model"
    ).get(campaign=campaign)
    assert run.status == RunStatus.COMPLETE, run.error
    progress = run_progress(run)
    scored = progress["voters_scored"]
    assert scored == run.voters_total == run.scores.count(), "not every voter scored once"
    say("models")
    describe_models(run)

    say("floor: the same models' predict + pred_contribs on the matrix in memory")
    with Timer("Scorer(run): context + models"):
        scorer = Scorer(run)
    for booster in all_boosters(scorer):
        booster.set_param({"nthread": THREADS})
    with Timer("build_features over the whole campaign (not timed in the floor)"):
        matrix = build_features(scorer.context)
    floor_cpu = time.process_time()
    floor_s = floor_seconds(scorer, matrix)
    floor_cpu = time.process_time() - floor_cpu
    floored = len(matrix.voter_pks)
    say(f"  floor: {floored:,} voters in {floor_s:.1f}s")

    say("one chunk in-process")
    chunk = run.chunks.order_by("first_pk").first()
    spent = chunk_breakdown(scorer, run, (chunk.first_pk, chunk.last_pk))
    del matrix
    profile = (
        profile_chunk(run, chunk.first_pk, chunk.last_pk, args.profile_top)
        if args.profile_top
        else ""
    )

    full_rate, floor_rate = scored / full_s, floored / floor_s
    say("")
    say(f"{'':<44}{'seconds':>10}{'voters/s':>12}")
    say(f"{'floor (predict + exact SHAP, in memory)':<44}{floor_s:>10.1f}{floor_rate:>12,.0f}")
    say(f"{'full run (score --wait, 2 Celery workers)':<44}{full_s:>10.1f}{full_rate:>12,.0f}")
    run_rate = progress["voters_per_second"]
    label = "  of which the run itself (first start..end)"
    say(f"{label:<44}{scored / run_rate:>10.1f}{run_rate:>12,.0f}")
    say("")
    say(f"full / floor throughput: {full_rate / floor_rate:.2f} (target >= 0.6)")
    say(f"full run: {full_s / 60:.1f} min for {scored:,} voters "
        f"({full_s / 60 * 1_000_000 / scored:.1f} min per million; target < 10)")  # fmt: skip
    say("peak RSS per worker: " + ", ".join(f"{p / 2**20:,.0f} MiB" for p in peaks))
    say("where the full run's wall time went: " + phases(run, *command_span))
    workers_cpu, backends_cpu = run_cpu
    say(
        f"CPU seconds: floor {floor_cpu:.1f}; full run {workers_cpu + backends_cpu:.1f} (workers "
        f"{workers_cpu:.1f}, database backends {backends_cpu:.1f}; the command's own process and "
        f"the database's shared processes not counted); floor / full run: "
        f"{floor_cpu / (workers_cpu + backends_cpu):.2f}"
    )
    say("")
    n = spent.pop("voters")
    whole = spent.pop("Scorer.score() as a whole")
    total = sum(spent.values())
    say(f"one chunk of {n:,} voters, in-process (stages timed one by one):")
    for stage, seconds in spent.items():
        say(f"  {stage:<10}{seconds:>8.2f}s {seconds / total:>6.1%}")
    say(f"  {'total':<10}{total:>8.2f}s  ({n / total:,.0f} voters/s per process; "
        f"Scorer.score() alone {whole:.2f}s)")  # fmt: skip
    if profile:
        say("")
        say(profile)
    say(f"bench total {(time.perf_counter() - started_all) / 60:.1f} min")


if __name__ == "__main__":
    main()
