"""SMS vendors leasing, acknowledging and reporting back against the production web server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/12 \
        python bench/sms_bench.py --messages 100000 --clients 4

On a fresh scratch database: a committed SMS program whose outbox is filled set-based (one
INSERT … SELECT over generate_series) with `--messages` texts to recipients in Durham NC (ET),
Chicago (CT) and Honolulu (HT), then released by the product's own `release_due_messages` at
the real time of the run, so the quiet-hours windows are the product's (run it between 18:00
and 01:00 UTC, when all three are open; texts whose window is closed are held and reported).
gunicorn serves the app (production settings: DEBUG off, Redis for the cache, nonces and the
throttle, whose rate is raised so the bench measures the server and not the limit) and
`--clients` reference vendor clients, one process each with its own key, do what a vendor does:
lease a batch, "send" it (a fake carrier: a line in the client's send log, written before the
ack as a vendor's write-ahead log), acknowledge it, forward replies (STOPs among them, and STOPs
from numbers whose text is still queued), and then report delivery receipts in batches, shuffled
so that "delivered" often comes before "sent", with some sent twice. Every request is signed,
carries an Idempotency-Key, and is retried with the same key on a dropped connection, a 409 or
a 5xx, and after Retry-After on a 429.

Then a fault phase on a further `--fault-messages` texts: one client is SIGKILLed mid-batch and
restarted (it acks from its send log what it sent and never acknowledged), one gunicorn worker is
SIGKILLed mid-batch (the master forks another), and the bench plays Celery beat by calling
`expire_leases` every few seconds (no Celery worker is on the request path: lease, ack, status and
inbound do their work in the request). Both phases end with the invariants, read from the
database: duplicate sends, lost receipts, texts leased again after their ack, hand-offs outside
the recipient's window, texts to numbers after their opt-out committed; all must be 0.

Baseline (same run, same rows): the two set-based UPDATEs a lease and an ack amount to (due ->
leased, leased -> sent with a vendor id) run straight in SQL on a copy of the outbox with the
same indexes. It is the floor of the database work the API cannot avoid, so the ratio says what
signing, HTTP, idempotency, consent and window checks cost on top of it.
Goals (issue 14 §5): 1,000,000 texts leased and acknowledged in under 10 minutes; receipts
ingested at >= 2,000/s in batches.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import recreate_database, setup_django  # noqa: E402

BENCH_DB = "segment_one_bench_sms"
SECRET_KEY = "bench-only-" + uuid.uuid4().hex
# (area code, ZIP, state): Eastern, Central and Hawaii time; the phone's and ZIP's zones agree.
PLACES = (("919", "27701", "NC"), ("312", "60601", "IL"), ("808", "96813", "HI"))
LEASE, ACK, STATUS, INBOUND = (f"/api/v1/sms/{p}" for p in ("lease", "ack", "status", "inbound"))
STOPS = ("STOP", "stop", "Stop.", " UNSUBSCRIBE ", "quit", "Stop all")
OTHER_REPLIES = ("Who is this?", "Already voted, thanks", "ok")
RECEIPT_BATCH = 1_000
LOG_LINE = re.compile(r"^POST (\S+) (\d{3}) (\d+)$")


def phone_of(i: int) -> str:
    """Recipient `i`'s number: the same formula as the SQL in `load_texts`."""
    return f"+1{PLACES[i % 3][0]}{2_000_000 + i:07d}"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def build(clients: int) -> tuple[int, list[tuple[str, str]]]:
    """The campaign, a committed SMS program over a few real voters (filled by the product),
    and one vendor key per client; returns the design's id and each key with its secret."""
    from campaign.models import Campaign
    from campaign.services import create_campaign, create_vendor_key, vendor_signing_secret
    from messaging.program_specs import parse_spec
    from messaging.programs import commit_program, create_program
    from messaging.services import create_variant
    from messaging.sms import fill_outbox
    from voters.models import Voter

    campaign, _ = create_campaign(slug="bench", name="Bench", state="NC")
    Voter.objects.bulk_create(
        Voter(campaign=campaign, voter_id=f"B{n:05d}", first_name="Pat", last_name="Doe",
              phone=f"+1919555{2_000 + n:04d}", zip5="27701", state="NC", status="active",
              status_raw="A", precinct="P01")
        for n in range(1_000)
    )  # fmt: skip
    create_variant(
        campaign=campaign, name="remind", channel="sms",
        body="Hi {{ voter.first_name }}, it's {{ sender.name }}: polls open 6:30. Reply STOP to "
        "opt out.",
    )  # fmt: skip
    spec = {"name": "Texts", "channel": "sms", "arms": ["remind"], "policy": "single",
            "control_share": 0.001, "seed": 1,
            "universe": {"voter_ids": [f"B{n:05d}" for n in range(1_000)]}}  # fmt: skip
    design = commit_program(design=create_program(campaign=campaign, spec=parse_spec(spec)))
    fill_outbox(design=design)
    keys = []
    for n in range(clients):
        key, full = create_vendor_key(
            campaign=Campaign.objects.get(), name=f"vendor {n}", user=None
        )
        keys.append((full, vendor_signing_secret(key)))
    return design.pk, keys


def load_texts(design_id: int, first: int, count: int) -> float:
    """`count` voters and their queued texts, recipients first..first+count-1, set-based (one
    statement), each text rendered like the product's own first text of the program; then
    released at the real time. Returns seconds."""
    from django.db import connection
    from django.utils import timezone

    from messaging.models import SmsMessage
    from messaging.sms import release_due_messages, window_profile_for

    model = SmsMessage.objects.filter(design_id=design_id).order_by("pk").first()
    profiles = [window_profile_for(zip5=z, phone=phone_of(n), state=s)
                for n, (_, z, s) in enumerate(PLACES)]  # fmt: skip
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH recipient AS (
                SELECT i, '+1' || (ARRAY['919', '312', '808'])[i %% 3 + 1]
                    || lpad((2000000 + i)::text, 7, '0') AS phone
                FROM generate_series(%(first)s, %(last)s) AS i
            ), voter AS (
                INSERT INTO voters_voter (campaign_id, voter_id, first_name, last_name, phone,
                    zip5, state, status, status_raw, precinct, extra, created_at, updated_at)
                SELECT %(campaign)s, 'S' || i, 'Pat', 'Doe', phone,
                    (ARRAY['27701', '60601', '96813'])[i %% 3 + 1],
                    (ARRAY['NC', 'IL', 'HI'])[i %% 3 + 1], 'active', 'A', 'P01', '{}', now(), now()
                FROM recipient
                RETURNING id, phone, substr(voter_id, 2)::int AS i
            )
            INSERT INTO messaging_smsmessage (campaign_id, kind, design_id, arm_id, variant_id,
                voter_id, phone, profile_id, body, encoding, segments, status, error_code,
                cancel_reason, created_at, updated_at)
            SELECT %(campaign)s, 'program', %(design)s, %(arm)s, %(variant)s, id, phone,
                (%(profiles)s::int[])[i %% 3 + 1], %(body)s, %(encoding)s, %(segments)s, 'queued',
                '', '', now(), now()
            FROM voter
            """,
            {"campaign": model.campaign_id, "design": design_id, "arm": model.arm_id,
             "variant": model.variant_id, "profiles": profiles, "body": model.body,
             "encoding": model.encoding, "segments": model.segments, "first": first,
             "last": first + count - 1},
        )  # fmt: skip
        cursor.execute("ANALYZE messaging_smsmessage")
        cursor.execute("ANALYZE voters_voter")
    released = release_due_messages(now=timezone.now())
    print(f"loaded {count:,} texts in {time.perf_counter() - started:.1f} s; released: {released}")
    return time.perf_counter() - started


def sql_floor(design_id: int) -> tuple[int, float]:
    """Rows/s of the lease's and the ack's UPDATEs done straight in SQL on a copy of the due
    texts with the outbox's indexes (the baseline)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        cursor.execute("CREATE TABLE bench_floor (LIKE messaging_smsmessage INCLUDING ALL)")
        cursor.execute(
            "INSERT INTO bench_floor SELECT * FROM messaging_smsmessage "
            "WHERE design_id = %s AND status = 'due'",
            [design_id],
        )
        rows = cursor.rowcount
        started = time.perf_counter()
        cursor.execute(
            "UPDATE bench_floor SET status = 'leased', lease_id = gen_random_uuid(), "
            "leased_at = now(), lease_expires_at = now() + interval '5 minutes' "
            "WHERE status = 'due'"
        )
        cursor.execute(
            "UPDATE bench_floor SET status = 'sent', vendor_message_id = 'SM' || id, "
            "sent_at = now(), lease_expires_at = NULL WHERE status = 'leased'"
        )
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_floor")
    return rows, seconds


# --------------------------------------------------------------------------------------------
# The reference vendor client
# --------------------------------------------------------------------------------------------


class VendorClient:
    """What a vendor writes: signs each request (HMAC-SHA256 over the canonical request, as the
    README's "SMS vendors" says), sends an Idempotency-Key with each POST and keeps it across
    retries, honours Retry-After. Plain http.client: nothing of the product is imported."""

    def __init__(self, port: int, full_key: str, secret: str, timings) -> None:
        self.port, self.full_key, self.secret, self.timings = port, full_key, secret, timings

    def headers(self, path: str, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        canonical = "\n".join(
            (timestamp, nonce, "POST", path, "", hashlib.sha256(body).hexdigest())
        )
        signature = hmac.new(self.secret.encode(), canonical.encode(), hashlib.sha256)
        return {"Authorization": f"Bearer {self.full_key}", "X-Timestamp": timestamp,
                "X-Nonce": nonce, "X-Signature": signature.hexdigest(),
                "Content-Type": "application/json"}  # fmt: skip

    def post(self, path: str, payload: dict) -> dict:
        body = json.dumps(payload).encode()
        key = str(uuid.uuid4())  # one per operation, kept across its retries
        for attempt in range(60):
            headers = {**self.headers(path, body), "Idempotency-Key": key}
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
            except (OSError, http.client.HTTPException):
                # A worker killed under us: the same key again, so what committed is replayed.
                self.timings.write(f"{path} {(time.perf_counter() - started) * 1000:.2f} 0\n")
                time.sleep(min(0.1 * 2**attempt, 2.0))
                continue
            ms = (time.perf_counter() - started) * 1000
            self.timings.write(f"{path} {ms:.2f} {response.status}\n")
            if response.status == 200:
                return json.loads(data)
            if response.status == 429:
                time.sleep(float(response.getheader("Retry-After", "1")))
            elif response.status in (409, 500, 502, 503):
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise SystemExit(f"{path}: {response.status} {data[:300]!r}")
        raise SystemExit(f"{path}: gave up after 60 tries")


def client_main(args: dict) -> None:
    """One vendor process: lease, send, ack, reply until the outbox is drained, then the
    receipts. Everything it did is in its logs (kept line by line, so a SIGKILL loses nothing
    it finished)."""
    rng = random.Random(args["seed"])
    logs = Path(args["logs"])
    n = args["client"]
    opened = [open(logs / f"{name}-{n}.csv", "a", buffering=1)  # noqa: SIM115
              for name in ("leases", "sends", "acks", "receipts", "stops", "timings")]  # fmt: skip
    leases, sends, acks, receipts_log, stops, timings = opened
    client = VendorClient(args["port"], args["key"], args["secret"], timings)
    acked: list[tuple[int, str]] = recover(client, logs, n, acks) if args["recover"] else []
    empty = 0
    while not args["drained"].is_set() and time.time() < args["deadline"]:
        lease = client.post(LEASE, {"limit": args["batch"], "lease_seconds": args["lease_seconds"]})
        texts = lease["messages"]
        if not texts:
            empty += 1
            time.sleep(0.2 if empty < 5 else 1.0)
            continue
        empty = 0
        leased_at = datetime.fromisoformat(lease["expires_at"]).timestamp() - args["lease_seconds"]
        leases.write("".join(f"{m['id']},{leased_at}\n" for m in texts))
        batch = [(m["id"], f"SM{n}x{m['id']}") for m in texts]
        sends.write("".join(f"{i},{v}\n" for i, v in batch))  # sent, then acknowledged
        acked.extend(ack(client, batch, acks))
        reply(client, rng, texts, args["recipients"], stops)
    send_receipts(client, rng, acked, receipts_log)
    for f in opened:
        f.close()


def ack(client: VendorClient, batch: list[tuple[int, str]], log) -> list[tuple[int, str]]:
    answer = client.post(ACK, {"acks": [{"id": i, "vendor_message_id": v} for i, v in batch]})
    results = [r["result"] for r in answer["results"]]
    log.write("".join(f"{i},{v},{r}\n" for (i, v), r in zip(batch, results, strict=True)))
    return [pair for pair, r in zip(batch, results, strict=True) if r in ("acked", "already_acked")]


def recover(client: VendorClient, logs: Path, n: int, acks) -> list[tuple[int, str]]:
    """After a crash: acknowledge what the send log has and the ack log lacks, before leasing
    anything (within the lease, so nobody else sends those texts again)."""
    sent = dict(_rows(logs / f"sends-{n}.csv", 2))
    done = {int(row[0]): row[1] for row in _rows(logs / f"acks-{n}.csv", 3)}
    missing = [(int(i), v) for i, v in sent.items() if int(i) not in done]
    recovered = []
    for start in range(0, len(missing), 500):
        recovered.extend(ack(client, missing[start : start + 500], acks))
    print(f"client {n} restarted: {len(missing)} sends acknowledged from its log", flush=True)
    acked = [(int(row[0]), row[1]) for row in _rows(logs / f"acks-{n}.csv", 3)
             if row[2] in ("acked", "already_acked")]  # fmt: skip
    # Its receipts had not gone out yet (they go at the end), so all of them are still owed.
    return list(dict.fromkeys(acked))


def _rows(path: Path, width: int) -> list[list[str]]:
    if not path.exists():
        return []
    with path.open() as f:
        return [row for row in csv.reader(f) if len(row) == width]  # a torn last line is skipped


def reply(client: VendorClient, rng: random.Random, texts: list[dict], recipients: int, log):
    """About 1% of recipients answer (a third of them STOP), and one number whose text may still
    be queued sends STOP; one reply is forwarded twice."""
    now = datetime.now().astimezone().isoformat()
    answers = [m for m in texts if m["kind"] == "program" and rng.random() < 0.01]
    messages = [
        {"vendor_message_id": f"IN{uuid.uuid4().hex}", "phone": m["to"],
         "body": rng.choice(STOPS) if rng.random() < 1 / 3 else rng.choice(OTHER_REPLIES),
         "received_at": now}
        for m in answers
    ]  # fmt: skip
    stranger = phone_of(rng.randrange(recipients))  # maybe still queued: must be canceled
    messages.append({"vendor_message_id": f"IN{uuid.uuid4().hex}", "received_at": now,
                     "phone": stranger, "body": rng.choice(STOPS)})  # fmt: skip
    messages.append(messages[0])  # the same reply again: changes nothing
    client.post(INBOUND, {"messages": messages})
    log.write("".join(f"{m['phone']}\n" for m in messages if m["body"] in STOPS))


def send_receipts(client: VendorClient, rng: random.Random, acked: list, log) -> None:
    """Two receipts per text (sent, then delivered or undelivered 30003), in batches of 1,000,
    shuffled so the final one often comes first; 10% again in the same or the next batch."""
    receipts = []
    for _, vendor_id in acked:
        final = ("delivered", "") if rng.random() < 0.95 else ("undelivered", "30003")
        receipts.append((vendor_id, "sent", ""))
        receipts.append((vendor_id, *final))
    rng.shuffle(receipts)
    receipts.extend(rng.sample(receipts, len(receipts) // 10))
    rng.shuffle(receipts)
    now = datetime.now().astimezone().isoformat()
    started = time.time()
    for start in range(0, len(receipts), RECEIPT_BATCH):
        batch = receipts[start : start + RECEIPT_BATCH]
        body = [{"vendor_message_id": v, "status": s, "error_code": e, "occurred_at": now}
                for v, s, e in batch]  # fmt: skip
        client.post(STATUS, {"receipts": body})
        log.write("".join(f"{v},{s},{e}\n" for v, s, e in batch))
    log.write(f"#span,{started},{time.time()}\n")


# --------------------------------------------------------------------------------------------
# The server and the run
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "campaign.settings",
           "SECRET_KEY": SECRET_KEY, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0",
           "LOG_LEVEL": "WARNING", "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
           "VENDOR_THROTTLE_RATE": "1000000/min"}  # fmt: skip
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "campaign.wsgi", "-w", str(workers),
        "-b", f"127.0.0.1:{port}", "--timeout", "120", "--access-logfile", str(log),
        "--access-logformat", "%(m)s %(U)s %(s)s %(D)s",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def workers_of(server: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def busiest_worker(server: subprocess.Popen) -> int:
    """The worker that used the most CPU over the last 100 ms: one in the middle of a request."""

    def cpu(pid: int) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    before = {pid: cpu(pid) for pid in workers_of(server)}
    time.sleep(0.1)
    return max(before, key=lambda pid: cpu(pid) - before[pid])


def mid_batch(logs: Path, client: int) -> bool:
    """Whether the client has sent texts it has not acknowledged yet (its ack is in flight)."""
    return len(_rows(logs / f"sends-{client}.csv", 2)) > len(_rows(logs / f"acks-{client}.csv", 3))


def kill_mid_batch(client, server: subprocess.Popen, logs: Path) -> bool:
    """SIGKILLs the client between its send and its ack, and the worker most likely serving a
    request then; False when the moment has not come yet (the caller tries again)."""
    for _ in range(500):
        if mid_batch(logs, 0):
            os.kill(client.pid, signal.SIGKILL)
            os.kill(busiest_worker(server), signal.SIGKILL)
            return True
        time.sleep(0.005)
    return False


def remaining() -> int:
    from messaging.models import SmsMessage

    return SmsMessage.objects.filter(status__in=("queued", "due", "leased")).count()


def run_phase(args, keys, port, logs: Path, recipients: int, fault: bool, server) -> float:
    """Clients until the outbox is drained (the bench polls it, and plays beat); returns the
    seconds from the start to the last ack."""
    from django.db import connections
    from django.utils import timezone

    from messaging.sms import expire_leases

    connections.close_all()  # the clients are forked: no shared connection
    context = multiprocessing.get_context("fork")
    drained = context.Event()
    lease_seconds = 60 if fault else 300
    common = {"port": port, "logs": str(logs), "batch": args.batch, "drained": drained,
              "lease_seconds": lease_seconds, "recipients": recipients,
              "deadline": time.time() + args.max_seconds, "recover": False}  # fmt: skip

    def start(n: int, recover: bool = False):
        process = context.Process(target=client_main, args=(
            {**common, "client": n, "key": keys[n][0], "secret": keys[n][1],
             "seed": n * 7 + fault + recover * 100, "recover": recover},))  # fmt: skip
        process.start()
        return process

    started = time.time()
    clients = [start(n) for n in range(args.clients)]
    killed = False
    while remaining():
        time.sleep(0.5)
        if fault and not killed and time.time() - started > args.fault_after:
            killed = kill_mid_batch(clients[0], server, logs)
            if not killed:
                continue
            print(f"SIGKILL client 0 (sent, not yet acked) and the busiest gunicorn worker "
                  f"{time.time() - started:.1f} s in", flush=True)  # fmt: skip
            clients[0].join()
            time.sleep(2)  # the vendor's supervisor restarts it
            clients[0] = start(0, recover=True)
        if fault:
            expire_leases(now=timezone.now())  # beat's job
        connections.close_all()
    drained.set()
    acked_by = time.time() - started
    for process in clients:
        process.join()
    return acked_by


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def pct(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:7.1f}  p99 {cuts[98]:7.1f} ms"


def report_requests(logs: Path, access: Path, seconds: float, receipt_seconds: float) -> None:
    """Per endpoint: requests per second of its phase (receipts go after the leases), the
    client's and gunicorn's p50/p99, and how many answers were retried (429, 409, 5xx, a
    dropped connection)."""
    client: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for path in logs.glob("timings-*.csv"):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue
            client.setdefault(parts[0], []).append(float(parts[1]))
            if parts[2] != "200":
                errors[parts[0]] = errors.get(parts[0], 0) + 1
    server: dict[str, list[float]] = {}
    for line in access.read_text().splitlines():
        match = LOG_LINE.match(line.strip())
        if match:
            server.setdefault(match[1], []).append(int(match[3]) / 1000)
    for path in (LEASE, ACK, INBOUND, STATUS):
        times = client.get(path, [])
        span = receipt_seconds if path == STATUS else seconds
        print(f"  {path:<20} {len(times):>7,} requests {len(times) / span:7.1f}/s  "
              f"client {pct(times)}  server {pct(server.get(path, []))}  "
              f"retried {errors.get(path, 0)}")  # fmt: skip


def receipt_rate(logs: Path) -> tuple[int, float]:
    count, spans = 0, []
    for path in logs.glob("receipts-*.csv"):
        for line in path.read_text().splitlines():
            if line.startswith("#span"):
                spans.append(tuple(map(float, line.split(",")[1:])))
            else:
                count += 1
    if not spans:
        return count, 0.0
    return count, max(e for _, e in spans) - min(s for s, _ in spans)


def invariants(logs: Path, lease_seconds: int) -> dict[str, int]:
    """The five invariants, from the database (the clients' logs loaded beside the outbox)."""
    from django.db import connection

    from messaging.quiet_hours import open_for
    from messaging.sms import window_profiles

    with connection.cursor() as cursor:
        for table, columns in (("sends", "message_id bigint, vendor_id text"),
                               ("leases", "message_id bigint, leased_at double precision"),
                               ("receipts", "vendor_id text, status text, error_code text"),
                               ("stops", "phone text")):  # fmt: skip
            cursor.execute(f"DROP TABLE IF EXISTS bench_{table}")
            cursor.execute(f"CREATE TABLE bench_{table} ({columns})")
            width = columns.count(",") + 1
            with cursor.copy(f"COPY bench_{table} FROM STDIN") as copy:
                for path in logs.glob(f"{table}-*.csv"):
                    for row in _rows(path, width):
                        if not row[0].startswith("#"):
                            copy.write_row(row)
            cursor.execute(f"ANALYZE bench_{table}")
        found = {}
        queries = {
            "duplicate sends": """SELECT count(*) FROM (SELECT message_id FROM bench_sends
                GROUP BY 1 HAVING count(DISTINCT vendor_id) > 1) d""",
            "duplicate sends to one number": """SELECT count(*) FROM (SELECT m.design_id, m.phone
                FROM bench_sends s JOIN messaging_smsmessage m ON m.id = s.message_id
                WHERE m.kind = 'program' GROUP BY 1, 2
                HAVING count(DISTINCT s.message_id) > 1) d""",
            "lost receipts": """SELECT count(*) FROM (SELECT DISTINCT vendor_id, status
                FROM bench_receipts) r WHERE NOT EXISTS (SELECT 1 FROM messaging_smsreceipt x
                WHERE x.vendor_message_id = r.vendor_id AND x.status = r.status)""",
            "texts not at their final receipt's status": """SELECT count(*) FROM
                (SELECT DISTINCT vendor_id, status FROM bench_receipts WHERE status <> 'sent') r
                JOIN messaging_smsmessage m ON m.vendor_message_id = r.vendor_id
                WHERE m.status <> r.status""",
            "leased again after the ack": """SELECT count(*) FROM bench_leases l
                JOIN messaging_smsmessage m ON m.id = l.message_id
                WHERE to_timestamp(l.leased_at) > m.sent_at""",
            "texts to numbers after their opt-out committed": """SELECT count(*)
                FROM messaging_smsmessage m JOIN voters_consentevent e ON e.campaign_id =
                m.campaign_id AND e.channel = 'sms' AND e.address = m.phone AND e.kind = 'opt_out'
                WHERE m.kind = 'program' AND m.leased_at > e.recorded_at""",
            "opted-out numbers without exactly one confirmation": """SELECT count(*) FROM
                (SELECT e.address, (SELECT count(*) FROM messaging_smsmessage c
                  WHERE c.campaign_id = e.campaign_id AND c.phone = e.address
                    AND c.kind = 'opt_out_confirmation') AS n
                 FROM voters_consentevent e WHERE e.kind = 'opt_out' AND e.channel = 'sms'
                   AND e.source = 'stop_reply' GROUP BY e.campaign_id, e.address) o
                WHERE n <> 1""",
            "program texts never sent (queued, held, due, leased)": """SELECT count(*)
                FROM messaging_smsmessage WHERE kind = 'program'
                AND status IN ('queued', 'held', 'due', 'leased')""",
        }
        for name, sql in queries.items():
            cursor.execute(sql)
            found[name] = cursor.fetchone()[0]
        cursor.execute("""SELECT DISTINCT m.profile_id, l.leased_at FROM bench_leases l
            JOIN messaging_smsmessage m ON m.id = l.message_id WHERE m.kind = 'program'""")
        profiles = window_profiles()
        found["out-of-window hand-offs (lease times)"] = sum(
            not open_for(datetime.fromtimestamp(at).astimezone(), profiles[p], lease_seconds)
            for p, at in cursor.fetchall()
        )
    return found


def print_invariants(found: dict[str, int]) -> bool:
    for name, count in found.items():
        print(f"  {name:<55} {count}")
    return all(v == 0 for k, v in found.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--fault-messages", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--batch", type=int, default=500, help="texts per lease")
    parser.add_argument(
        "--fault-after", type=float, default=5.0, help="seconds into the fault phase"
    )
    parser.add_argument("--max-seconds", type=float, default=1_800)
    args = parser.parse_args()
    os.environ.update(SECRET_KEY=SECRET_KEY, SECURE_SSL_REDIRECT="0", LOG_LEVEL="WARNING")
    url = recreate_database(os.environ["DATABASE_URL"], BENCH_DB)
    setup_django(url)
    design_id, keys = build(args.clients)
    load_texts(design_id, 0, args.messages)
    floor_rows, floor_seconds = sql_floor(design_id)
    total = remaining()
    ok = True
    for phase, fault in (("normal", False), ("fault", True)):
        if fault:
            load_texts(design_id, args.messages, args.fault_messages)
            total = remaining()
        logs = Path(tempfile.mkdtemp(prefix=f"sms-bench-{phase}-"))
        access = logs / "access.log"
        port = free_port()
        server = start_gunicorn(url, port, args.workers, access)
        try:
            recipients = args.messages + (args.fault_messages if fault else 0)
            seconds = run_phase(args, keys, port, logs, recipients, fault, server)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(f"\n== {phase} phase: {total:,} texts, {args.clients} clients, gunicorn -w "
              f"{args.workers}, leases of {args.batch} ==")  # fmt: skip
        count, span = receipt_rate(logs)
        report_requests(logs, access, seconds, span or seconds)
        rate = total / seconds
        print(f"  leased and acknowledged: {total:,} texts in {seconds:.1f} s = {rate:,.0f}/s "
              f"(1,000,000 would take {1_000_000 / rate / 60:.1f} min; goal < 10)")  # fmt: skip
        if span:
            print(f"  receipts ingested: {count:,} in {span:.1f} s = {count / span:,.0f}/s "
                  f"(goal >= 2,000/s)")  # fmt: skip
        if not fault:
            floor = floor_rows / floor_seconds
            print(f"  baseline, the same rows' two UPDATEs in SQL: {floor_rows:,} in "
                  f"{floor_seconds:.1f} s = {floor:,.0f}/s; "
                  f"API / baseline = {rate / floor:.3f}")  # fmt: skip
        print("  invariants (from the database):")
        ok = print_invariants(invariants(logs, 60 if fault else 300)) and ok
    if not ok:
        raise SystemExit("an invariant was broken")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
