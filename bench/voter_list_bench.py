"""Server time of the voter list's searches against the unfiltered list, in the same run.

    SEGMENT_ONE_VAR_DIR=var/demo python bench/voter_list_bench.py [--surname NAME] [--runs N]

Reads whatever database the settings name (the demo's SQLite by default; DATABASE_URL for
PostgreSQL) and writes nothing but a session and the user below: a staff member of every
campaign, `bench-voter-list`. Times, median of N requests through Django's test client (the
whole request: middleware, queries, template), each search following its redirect to
`?qs=<token>` as a browser does:
  - baseline: the unfiltered list;
  - `?q=<surname>`, `?q=<first three letters>`, `?party__exact=rep`, and the surname with
    `?party__exact=dem`;
  - the latest-turnout band, the best-message filter and the turnout sort (scoring's columns).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surname", default="Hill")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campaign.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from campaign.models import Campaign, Membership, Role

    user, _ = get_user_model().objects.get_or_create(
        username="bench-voter-list", defaults={"is_staff": True}
    )
    for campaign in Campaign.objects.all():
        Membership.objects.get_or_create(
            user=user, campaign=campaign, defaults={"role": Role.STAFF}
        )
    client = Client(HTTP_HOST="127.0.0.1")  # a host the settings allow
    client.force_login(user)

    def median_ms(params: dict) -> float:
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get("/admin/voters/voter/", params, follow=True)
            times.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise SystemExit(f"{params}: HTTP {response.status_code}")
        return 1000 * statistics.median(times)

    columns = {"baseline: the unfiltered list": {}}
    surname = args.surname
    columns.update(
        {
            f"q={surname}": {"q": surname},
            f"q={surname[:3]}": {"q": surname[:3]},
            "party=rep": {"party__exact": "rep"},
            f"q={surname} & party=dem": {"q": surname, "party__exact": "dem"},
            "turnout 60-80%": {"turnout_band": "60-80"},
            "best message: plan_making": {"best_message": "plan_making"},
            "sorted by turnout": {"o": "-7"},
        }
    )
    baseline = None
    for name, params in columns.items():
        ms = median_ms(params)
        baseline = baseline or ms
        print(f"{name:32s} {ms:7.0f} ms  {ms / baseline:5.2f}x baseline")


if __name__ == "__main__":
    main()
