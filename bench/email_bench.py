"""Sending a committed email program through a real local SMTP server, against raw smtplib.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python bench/email_bench.py --voters N [--workers W] [--no-pipelining] [--profile]

On a fresh scratch database, loads N voters with an email each (set-based SQL), commits a
single-variant email program over them (1 % control), and times, once each:
  - filling the outbox: one personalized email rendered per treated address;
  - sending it all with `messaging.email.send_batch` (batches of EMAIL_BATCH_SIZE, one SMTP
    connection each, groups of HAND_OVER_GROUP handed over and marked in one commit each, every
    message's headers and footer built, its contact attempt written) to an aiosmtpd server in
    another process, which advertises PIPELINING unless `--no-pipelining`;
  - the baseline: the same number of messages of the same size, built once and pushed by raw
    smtplib over one connection to the same server (no database, no rendering): the floor.
Prints messages per second, the ratio to the baseline, the target (100,000 in under 120 s,
fill included), the invariants read from the server and the database (every sent address
received exactly once: duplicates 0, lost 0), each sending process's peak RSS and its RSS after
its first batch and at the end (flat: batches hold only their own rows), and where the CPU
went: the sending processes, their PostgreSQL backends and the SMTP server. With `--workers W`,
W forked processes send side by side as Celery workers would (each batch claims its own rows
with SKIP LOCKED).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import socket
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.program_bench import peak_rss_mb, rss_mb  # noqa: E402
from bench.scratch import recreate_database, setup_django  # noqa: E402

BENCH_DB = "segment_one_bench_email"


def serve(port: int, ready, stop, pipelining: bool) -> None:
    """The SMTP server's process: counts messages, bytes and distinct recipients."""
    from aiosmtpd.controller import Controller

    class Counting:
        def __init__(self) -> None:
            self.messages = 0
            self.recipients: set[str] = set()
            self.duplicates = 0

        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            # aiosmtpd reads commands from a stream in order, so pipelined clients work; it
            # only does not say so. Production relays (Postfix, providers) advertise it.
            session.host_name = hostname
            return [*responses[:-1], "250-PIPELINING", responses[-1]] if pipelining else responses

        async def handle_DATA(self, server, session, envelope):
            self.messages += 1
            for rcpt in envelope.rcpt_tos:
                if rcpt in self.recipients:
                    self.duplicates += 1
                self.recipients.add(rcpt)
            return "250 OK"

    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        command = stop.recv()
        if command == "count":
            stop.send((handler.messages, handler.recipients, handler.duplicates))
            handler.messages, handler.duplicates = 0, 0
            handler.recipients = set()
        else:
            break
    controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load(url: str, campaign_id: int, voters: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            INSERT INTO voters_voter (campaign_id, voter_id, household_id, first_name, email,
                                      precinct, status, extra, created_at, updated_at)
            SELECT %s, 'V' || i, i, 'VOTER' || i, 'Voter' || i || '@Example.org', 'P' || (i %% 200),
                   'active', '{}'::jsonb, now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [campaign_id, voters],
        )
        conn.execute("ANALYZE")


def baseline_seconds(port: int, count: int, body: bytes) -> float:
    """`count` copies of one real message's bytes over one raw smtplib connection."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(count):
            smtp.sendmail("news@bench.example", [f"b{i}@example.org"], body)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="profile the sending")
    parser.add_argument("--workers", type=int, default=1, help="sending processes")
    parser.add_argument("--no-pipelining", action="store_true", help="server without PIPELINING")
    args = parser.parse_args()
    port = free_port()
    ready, (here, there) = multiprocessing.Event(), multiprocessing.Pipe()
    pipelining = not args.no_pipelining
    server = multiprocessing.Process(
        target=serve, args=(port, ready, there, pipelining), daemon=True
    )
    server.start()
    ready.wait(30)
    os.environ.update(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        LOG_LEVEL="WARNING",
    )
    url = recreate_database(os.environ["DATABASE_URL"], BENCH_DB)
    setup_django(url)

    from campaign.services import create_campaign
    from messaging import programs
    from messaging.email import fill_email_outbox
    from messaging.program_specs import parse_spec
    from messaging.programs import commit_program, create_program
    from messaging.services import create_variant

    campaign, _ = create_campaign(slug="bench", name="Bench", state="NC")
    campaign.email_from_name, campaign.email_from_address = "Bench", "news@bench.example"
    campaign.postal_address = "PO Box 1\nDurham, NC 27701"
    campaign.save()
    started = time.perf_counter()
    load(url, campaign.pk, args.voters)
    print(f"loaded {args.voters:,} voters in {time.perf_counter() - started:.1f} s")
    create_variant(
        campaign=campaign, name="note", channel="email",
        subject="A note for {{ voter.first_name }}",
        body="Hi {{ voter.first_name }},\n\nPolls open at 7. {{ sender.name }}",
        html_body="<html><body><p>Hi {{ voter.first_name }},</p><p>Polls open at 7.</p>"
        "</body></html>",
    )  # fmt: skip
    spec = {"name": "Mail", "channel": "email", "arms": ["note"], "policy": "single",
            "control_share": 0.01, "seed": 1}  # fmt: skip
    # The commit would queue the fill-and-send task, which runs in-process here (no broker):
    # this bench times those two steps itself.
    programs._fill_outbox_on_commit = lambda design_id: None
    design = commit_program(design=create_program(campaign=campaign, spec=parse_spec(spec)))

    started = time.perf_counter()
    queued = fill_email_outbox(design=design)
    fill = time.perf_counter() - started
    print(f"fill: {queued:,} emails rendered and queued in {fill:.1f} s ({queued / fill:,.0f}/s)")

    print(f"SMTP server: aiosmtpd in its own process, PIPELINING {'on' if pipelining else 'off'}")
    server_cpu = cpu_seconds(server.pid)
    started = time.perf_counter()
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
        workers = [send_all(campaign.pk)]
        profile.disable()
        profile.print_stats("tottime")
    else:
        workers = send_in_workers(campaign.pk, args.workers)
    send = time.perf_counter() - started
    server_cpu = cpu_seconds(server.pid) - server_cpu
    report(here, port, campaign, design, queued, fill, send, workers, server_cpu)
    here.send("stop")
    server.join(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_in_workers(campaign_id: int, workers: int) -> list[dict]:
    """`workers` processes sending batches side by side, as Celery workers would (each claims
    its own rows with SKIP LOCKED); returns each one's figures."""
    from django.db import connections

    connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        return pool.map(send_all, [campaign_id] * workers)


def send_all(campaign_id: int) -> dict:
    """Batches until the queue is empty; this process's sent count, batches, RSS after the
    first batch, at the end and at its peak, and the CPU of this process and its backend."""
    from django.db import connection
    from django.utils import timezone

    from messaging.email import send_batch

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_cpu, own_cpu = cpu_seconds(backend), time.process_time()
    sent = batches = 0
    first_rss = None
    while True:
        result = send_batch(campaign_id=campaign_id, now=timezone.now())
        sent, batches = sent + result.sent, batches + 1
        first_rss = first_rss or rss_mb()
        if not result.more:
            return {
                "sent": sent, "batches": batches, "first_rss": first_rss, "end_rss": rss_mb(),
                "peak_rss": peak_rss_mb(), "cpu": time.process_time() - own_cpu,
                "db_cpu": cpu_seconds(backend) - backend_cpu,
            }  # fmt: skip


def report(here, port, campaign, design, queued, fill, send, workers, server_cpu):
    from django.utils import timezone

    from messaging.email import build_email
    from messaging.models import EmailMessage

    here.send("count")
    messages, received, duplicates = here.recv()
    rows = dict(EmailMessage.objects.filter(design=design).values_list("address", "status"))
    sent = sum(w["sent"] for w in workers)
    not_sent = sum(1 for status in rows.values() if status != "sent")
    lost = sum(
        1 for address, status in rows.items() if status == "sent" and address not in received
    )
    strangers = len(received - rows.keys())
    rate = sent / send
    print(f"send: {sent:,} emails in {sum(w['batches'] for w in workers)} batches by "
          f"{len(workers)} process(es), {send:.1f} s ({rate:,.0f}/s)")  # fmt: skip
    whole = fill + send
    print(f"fill + send: {whole:.1f} s for {queued:,} ({queued / whole:,.0f}/s); 100,000 at "
          f"this rate: {100_000 * whole / queued:.0f} s (target: under 120 s, 834/s)")  # fmt: skip
    print(f"invariants: server received {messages:,} messages, {len(received):,} distinct "
          f"recipients; duplicates {duplicates}, lost {lost} (sent in the database, never "
          f"received), strangers {strangers}, not sent {not_sent}")  # fmt: skip

    sample = EmailMessage.objects.filter(design=design).first()
    body = build_email(sample, campaign, now=timezone.now()).message().as_bytes(linesep="\r\n")
    base = baseline_seconds(port, sent, body)
    print(f"baseline (raw smtplib, one real {len(body):,}-byte message resent over one "
          f"connection): {base:.1f} s ({sent / base:,.0f}/s); send's speed against it: "
          f"{base / send:.2f}")  # fmt: skip
    for index, w in enumerate(workers):
        print(f"process {index}: RSS after its first batch {w['first_rss']:,.0f} MB, at the end "
              f"{w['end_rss']:,.0f} MB, peak {w['peak_rss']:,.0f} MB")  # fmt: skip
    client = sum(w["cpu"] for w in workers)
    database = sum(w["db_cpu"] for w in workers)
    print(f"CPU per message: sending processes {client / sent * 1e3:.2f} ms, their PostgreSQL "
          f"backends {database / sent * 1e3:.2f} ms, SMTP server {server_cpu / sent * 1e3:.2f} "
          f"ms; {client + database + server_cpu:.1f} s in all over {send:.1f} s on "
          f"{os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
