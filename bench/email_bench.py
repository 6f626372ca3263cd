"""Sending a committed email program through a real local SMTP server, against raw smtplib.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python bench/email_bench.py --voters N [--workers W] [--profile]

On a fresh scratch database, loads N voters with an email each (set-based SQL), commits a
single-variant email program over them (1 % control), and times, once each:
  - filling the outbox: one personalized email rendered per treated address;
  - sending it all with `messaging.email.send_batch` (batches of EMAIL_BATCH_SIZE, one SMTP
    connection each, every message claimed, handed over and marked, its headers and footer
    built, its contact attempt written) to an aiosmtpd server in another process;
  - the baseline: the same number of messages of the same size, built once and pushed by raw
    smtplib over one connection to the same server (no database, no rendering): the floor.
Prints messages per second, the ratio to the baseline, the server's count of distinct recipients
(every address exactly once), and this process's resident memory after each tenth of the
sending (flat: batches hold only their own rows). With `--workers W`, W forked processes send
side by side as Celery workers would (each batch claims its own rows with SKIP LOCKED).
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

from bench.program_bench import rss_mb  # noqa: E402
from bench.scratch import recreate_database, setup_django  # noqa: E402

BENCH_DB = "segment_one_bench_email"


def serve(port: int, ready, stop, results) -> None:
    """The SMTP server's process: counts messages, bytes and distinct recipients."""
    from aiosmtpd.controller import Controller

    class Counting:
        def __init__(self) -> None:
            self.messages = 0
            self.recipients: set[str] = set()
            self.duplicates = 0

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
            stop.send((handler.messages, len(handler.recipients), handler.duplicates))
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
    args = parser.parse_args()
    port = free_port()
    ready, (here, there) = multiprocessing.Event(), multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(port, ready, there, None), daemon=True)
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

    if args.workers > 1:
        started = time.perf_counter()
        sent, batches, memory = send_in_workers(campaign.pk, args.workers)
        before = float("nan")
        send = time.perf_counter() - started
        report(here, port, campaign, design, queued, fill, send, sent, batches, before, memory)
    else:
        send_in_this_process(args.profile, here, port, campaign, design, queued, fill)
    here.send("stop")
    server.join(10)


def send_in_this_process(profiled, here, port, campaign, design, queued, fill) -> None:
    from django.utils import timezone

    from messaging.email import send_batch

    before = rss_mb()
    memory: list[float] = []
    sent = batches = 0
    started = time.perf_counter()
    profile = None
    if profiled:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    while True:
        result = send_batch(campaign_id=campaign.pk, now=timezone.now())
        sent += result.sent
        batches += 1
        if sent >= (len(memory) + 1) * queued / 10:
            memory.append(rss_mb())
        if not result.more:
            break
    send = time.perf_counter() - started
    if profile is not None:
        profile.disable()
        profile.print_stats("tottime")
    report(here, port, campaign, design, queued, fill, send, sent, batches, before, memory)


def send_in_workers(campaign_id: int, workers: int) -> tuple[int, int, list[float]]:
    """`workers` processes sending batches side by side, as Celery workers would (each claims
    its own rows with SKIP LOCKED); returns the messages sent, batches and each one's RSS."""
    from django.db import connections

    connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        results = pool.map(_worker_loop, [campaign_id] * workers)
    return (sum(r[0] for r in results), sum(r[1] for r in results), [r[2] for r in results])


def _worker_loop(campaign_id: int) -> tuple[int, int, float]:
    from django.utils import timezone

    from messaging.email import send_batch

    sent = batches = 0
    while True:
        result = send_batch(campaign_id=campaign_id, now=timezone.now())
        sent, batches = sent + result.sent, batches + 1
        if not result.more:
            return sent, batches, rss_mb()


def report(here, port, campaign, design, queued, fill, send, sent, batches, before, memory):
    from django.utils import timezone

    from messaging.email import build_email
    from messaging.models import EmailMessage

    here.send("count")
    messages, distinct, duplicates = here.recv()
    print(f"send: {sent:,} emails in {batches} batches, {send:.1f} s ({sent / send:,.0f}/s)")
    print(f"fill + send: {fill + send:.1f} s for {queued:,} (target: under 120 s for 100,000)")
    print(f"server received {messages:,} messages, {distinct:,} distinct recipients, "
          f"{duplicates} duplicates")  # fmt: skip

    sample = EmailMessage.objects.filter(design=design).first()
    body = build_email(sample, campaign, now=timezone.now()).message().as_bytes(linesep="\r\n")
    base = baseline_seconds(port, sent, body)
    print(f"baseline (raw smtplib, one real {len(body):,}-byte message resent): {base:.1f} s "
          f"({sent / base:,.0f}/s); send's speed against it: {base / send:.2f}")  # fmt: skip
    steps = ", ".join(f"{m:,.0f}" for m in memory)
    print(f"RSS before sending {before:,.0f} MB; after each tenth (or of each worker): {steps} MB")


if __name__ == "__main__":
    main()
