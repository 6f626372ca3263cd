"""Server time of the experiment report page on an existing database (the demo's, by default).

    SEGMENT_ONE_VAR_DIR=var/demo .venv/bin/python bench/experiment_report_bench.py \
        --program 1 --election 4 [--runs 5] [--figures FILE]

(On PostgreSQL, add DATABASE_URL and REQUIRE_2FA=false: the bench signs in without a device.)

Signs in as the demo's staff user inside this process (Django's test client, no network), asks
the report page `--runs` times and prints each time and the median; the first answer may
include work a cache keeps for the next. `--figures FILE` writes the report's numbers as JSON,
or, when FILE exists, checks that they are identical to the ones it holds (to show that a change
made the page faster without changing what it says).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", type=int, required=True)
    parser.add_argument("--election", type=int)
    parser.add_argument("--question", type=int)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--user", default="demo")
    parser.add_argument("--figures", type=Path)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campaign.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    setup_test_environment()  # the client's responses then carry their template context
    client = Client()
    client.force_login(get_user_model().objects.get(username=args.user))
    query = {"program": args.program}
    query |= {"election": args.election} if args.election else {"question": args.question}
    url = reverse("admin:scoring_modelversion_experiment")
    times, cpu, report = [], [], None
    for _ in range(args.runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, query)
        times.append(time.perf_counter() - started)
        # This process's CPU: on a shared machine, what the page costs whatever else runs
        # (with SQLite it includes the queries; PostgreSQL's own work is not in it).
        cpu.append(time.process_time() - started_cpu)
        if response.status_code != 200 or response.context["report"] is None:
            context = response.context or {}  # a redirect (sign-in, two factors) has none
            print(f"error: {response.status_code} {context.get('error', '')}")
            return 1
        report = response.context["report"]
    print(f"{connection.vendor}: " + ", ".join(f"{t:.2f}" for t in times) + " s")
    print(
        f"median {statistics.median(times):.2f} s over {len(times)} runs "
        f"(CPU of this process: median {statistics.median(cpu):.2f} s)"
    )
    if args.figures:
        figures = json.loads(json.dumps(report, default=str))
        if args.figures.exists():
            same = json.loads(args.figures.read_text()) == figures
            print("figures identical" if same else "figures DIFFER")
            return 0 if same else 1
        args.figures.write_text(json.dumps(figures, indent=1, sort_keys=True))
        print(f"figures written to {args.figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
