"""Door results from 20 organizers at once against the production web server (gunicorn).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/field_bench.py

On a fresh scratch database: the walk-list bench's county (bench/walklist_bench.py), a committed
door program cut into turfs of 60-80 doors, and one turf each for `--organizers` organizers who
sign in on /field/login/ with a password and a TOTP code (REQUIRE_2FA on, as in production).
Then gunicorn (`-w 4` as the README runs it) serves the app, and one process per organizer, each
with its own session:
  - baseline: `--requests` authenticated GETs of /field/ (their turfs page), all at once;
  - measured: `--requests` door results POSTed to /field/results/ (a mix of not home, talked with
    a support answer, refused and do not contact), all at once;
each phone sending its next request as soon as the last is answered (the worst case; a real
organizer sends one a minute or so; `--pause-ms` spaces them). Prints p50/p95/p99 in ms as
gunicorn measured them (its access log's request time, i.e. at the server) and as the organizers'
processes saw them, results per second, and the results' p95 as a multiple of the baseline's.
Target: p95 at the server < 100 ms. At the end the database must hold each result exactly once.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import recreate_database, setup_django  # noqa: E402
from bench.walklist_bench import PER_PRECINCT, load  # noqa: E402

BENCH_DB = "segment_one_bench_field"
PASSWORD = "bench password 1"
OUTCOMES = (
    ["not_home"] * 12 + ["contacted"] * 5 + ["refused", "come_back", "do_not_contact"]
)  # about what a door program sees
LOG_LINE = re.compile(r"^(GET|POST) (\S+) (\d{3}) (\d+)$")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def build(url: str, organizers: int) -> None:
    """The county, the program, its turfs and one organizer (with a TOTP device) per turf."""
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from campaign.models import Membership, Role
    from campaign.services import create_campaign
    from messaging.canvassing import assign_turfs, cut_program_turfs
    from messaging.program_specs import parse_spec
    from messaging.programs import commit_program, create_program
    from messaging.services import create_variant
    from scoring.models import ModelVersion, RunStatus, ScoringRun

    campaign, _ = create_campaign(slug="bench", name="Bench", state="NC")
    model = ModelVersion.objects.create(
        campaign=campaign, kind="persuasion", status="approved",
        features_as_of="2030-01-01", feature_spec={}, model_card="", artifact=b"",
        metrics={"arms": {"health": {}}, "best_single_arm": "health"},
    )  # fmt: skip
    run = ScoringRun.objects.create(
        campaign=campaign, status=RunStatus.COMPLETE, as_of="2030-01-01",
        persuasion_model=model, finished_at="2030-01-01T00:00:00Z",
    )  # fmt: skip
    households = int(organizers * 70 / 0.9) + PER_PRECINCT
    voters = load(url, campaign.pk, run.pk, households)
    create_variant(
        campaign=campaign, name="health", channel="door",
        body="Hi {{ voter.first_name }}, I'm with {{ sender.name }}. Can we count on your vote?",
    )  # fmt: skip
    spec = {"name": "Doors", "channel": "door", "arms": ["health"], "policy": "single",
            "control_share": 0.1, "seed": 1}  # fmt: skip
    design = commit_program(design=create_program(campaign=campaign, spec=parse_spec(spec)))
    turfs = cut_program_turfs(design=design, min_doors=60, max_doors=80)
    users = get_user_model()
    for n, turf in enumerate(turfs[:organizers]):
        user = users.objects.create_user(username=f"organizer{n}", password=PASSWORD)
        Membership.objects.create(user=user, campaign=campaign, role=Role.ORGANIZER)
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        assign_turfs(turfs=[turf], organizer=user)
    print(f"{voters:,} voters, {len(turfs)} turfs, {organizers} organizers with a turf each")


def totp_token(username: str) -> str:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "campaign.settings",
        "SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1",
        "REQUIRE_2FA": "1",
        # Plain HTTP on localhost: no redirect to HTTPS, cookies without the Secure flag.
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "campaign.wsgi", "-w", str(workers),
        "-b", f"127.0.0.1:{port}", "--access-logfile", str(log),
        "--access-logformat", "%(m)s %(U)s %(s)s %(D)s",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def server_times(log: Path, method: str, path: str) -> list[float]:
    """Milliseconds gunicorn spent on each request to `path` (its %(D)s, microseconds)."""
    found = []
    for line in log.read_text().splitlines():
        match = LOG_LINE.match(line.strip())
        if match and match[1] == method and match[2] == path:
            found.append(int(match[4]) / 1000)
    return found


# --------------------------------------------------------------------------------------------
# An organizer's phone
# --------------------------------------------------------------------------------------------


class Phone:
    """One organizer's session: cookies kept by hand over http.client (no extra dependency)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers={"Cookie": cookie, **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        conn.close()
        return response.status, data

    def sign_in(self, username: str, token: str) -> None:
        self.request("GET", "/field/login/")
        form = {"username": username, "password": PASSWORD, "otp_token": token,
                "csrfmiddlewaretoken": self.cookies["csrftoken"]}  # fmt: skip
        status, _ = self.request(
            "POST", "/field/login/", urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Referer": self.origin},
        )  # fmt: skip
        if status != 302:
            raise SystemExit(f"sign-in of {username} failed: {status}")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def post_json(self, path: str, payload: dict) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.cookies["csrftoken"],
                   "Referer": self.origin}  # fmt: skip
        return self.request("POST", path, json.dumps(payload).encode(), headers)


def organizer(args: tuple) -> dict:
    """One organizer's process: sign in, fetch the turf, then the two timed phases."""
    port, username, token, turf_id, requests, start, seed, pause = args
    rng = random.Random(seed)
    phone = Phone(port)
    phone.sign_in(username, token)
    status, body = phone.request("GET", f"/field/turfs/{turf_id}/data.json")
    if status != 200:
        raise SystemExit(f"{username}'s turf: {status}")
    data = json.loads(body)
    voters = [v["voter_id"] for door in data["doors"] for v in door["voters"]]
    rng.shuffle(voters)
    _wait_until(start)
    baseline = _timed(lambda: phone.request("GET", "/field/"), requests, 200, pause)
    _wait_until(start + 60)
    keys: list[str] = []

    def one_result() -> tuple[int, bytes]:
        outcome = rng.choice(OUTCOMES)
        key = str(uuid.uuid4())
        keys.append(key)
        payload = {
            "key": key, "turf": turf_id, "program": data["turf"]["program"],
            "voter": voters[len(keys) % len(voters)], "outcome": outcome,
            "recorded_at": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        if outcome == "contacted":
            payload["support"] = str(rng.randint(1, 5))
        return phone.post_json("/field/results/", payload)

    began = time.time()
    results = _timed(one_result, requests, 201, pause)
    return {"baseline": baseline, "results": results, "keys": keys, "span": (began, time.time())}


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def _timed(call, count: int, expected: int, pause: float) -> list[float]:
    times = []
    for _ in range(count):
        time.sleep(pause)
        started = time.perf_counter()
        status, body = call()
        times.append((time.perf_counter() - started) * 1000)
        if status != expected:
            raise SystemExit(f"unexpected {status}: {body[:200]!r}")
    return times


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def percentiles(values: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def line(label: str, values: list[float]) -> str:
    p50, p95, p99 = percentiles(values)
    return f"{label:<44} p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f} ms  (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizers", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="per organizer and phase")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--pause-ms",
        type=float,
        default=0.0,
        help="each phone's pause before each request (0: back to back, the worst case)",
    )
    args = parser.parse_args()
    url = recreate_database(os.environ["DATABASE_URL"], BENCH_DB)
    setup_django(url)
    build(url, args.organizers)

    from django.db import connections

    from messaging.models import FieldResult, Turf
    from voters.models import ContactAttempt

    log = Path(tempfile.mkdtemp()) / "access.log"
    port = free_port()
    server = start_gunicorn(url, port, args.workers, log)
    try:
        tokens = [totp_token(f"organizer{n}") for n in range(args.organizers)]
        turfs = dict(
            Turf.objects.filter(organizer__username__startswith="organizer").values_list(
                "organizer__username", "pk"
            )
        )
        connections.close_all()  # the organizers' processes are forked: no shared connection
        start = time.time() + 10 + args.organizers * 0.5  # everyone signed in first
        pause = args.pause_ms / 1000
        jobs = [
            (port, name, tokens[n], turfs[name], args.requests, start, n, pause)
            for n, name in enumerate(f"organizer{n}" for n in range(args.organizers))
        ]
        with multiprocessing.get_context("fork").Pool(args.organizers) as pool:
            outcome = pool.map(organizer, jobs)
    finally:
        server.terminate()
        server.wait(timeout=30)

    base_client = [t for o in outcome for t in o["baseline"]]
    post_client = [t for o in outcome for t in o["results"]]
    keys = [k for o in outcome for k in o["keys"]]
    base_server = server_times(log, "GET", "/field/")
    post_server = server_times(log, "POST", "/field/results/")
    phase_seconds = max(o["span"][1] for o in outcome) - min(o["span"][0] for o in outcome)
    print(f"gunicorn -w {args.workers}; {args.organizers} organizers at once, "
          f"{args.requests} requests each per phase, {args.pause_ms:.0f} ms apart")  # fmt: skip
    print(line("baseline GET /field/ at the server", base_server))
    print(line("door result POST at the server", post_server))
    print(line("baseline GET /field/ seen by the phones", base_client))
    print(line("door result POST seen by the phones", post_client))
    print(f"results recorded: {len(post_client) / phase_seconds:.0f}/s")
    ratio = percentiles(post_server)[1] / percentiles(base_server)[1]
    print(f"result p95 / baseline p95 at the server: {ratio:.2f}x")
    verdict = "met" if percentiles(post_server)[1] < 100 else "MISSED"
    print(f"target p95 < 100 ms at the server: {verdict}")
    rows = FieldResult.objects.filter(key__in=keys).count()
    attempts = ContactAttempt.objects.filter(source="organizer").count()
    print(f"exactly once: {rows} results and {attempts} contact attempts for {len(keys)} sent")
    if rows != len(keys) or len(set(keys)) != len(keys):
        raise SystemExit("results lost or doubled")


if __name__ == "__main__":
    main()
