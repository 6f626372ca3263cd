"""Screenshots of every staff page and the organizer's pages of a running demo, at a 1366 x 900
laptop and a 390 x 844 phone, for a person to look at.

    .venv/bin/python -m tests.e2e.screenshots --base-url http://127.0.0.1:8000 --out var/shots \
        --user demo --organizer organizer

The passwords are the ones `manage.py demo` prints, read from SEGMENT_ONE_STAFF_PASSWORD and
SEGMENT_ONE_ORGANIZER_PASSWORD (or asked for on a terminal), so they stay out of `ps` and shell
history. Pages that need an object (a voter, a run, a program) take the first one their list
shows. Exits 1 naming each page that answered an error status or could not be found, so a
broken page fails the run instead of leaving a picture of an error page among the others; a
page wider than the screen is reported, not failed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS

VIEWPORTS = {"1366": (1366, 900), "390": (390, 844)}
FIRST_ROW = "#result_list tbody tr a[href*='/change/']"


@dataclass
class Run:
    base_url: str
    out: Path
    failures: list[str] = field(default_factory=list)
    wide: list[str] = field(default_factory=list)
    taken: list[Path] = field(default_factory=list)

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)


# (name, path) of the staff pages that need nothing but a path.
ADMIN_PAGES = (
    ("index", "/admin/"),
    ("voters", "/admin/voters/voter/"),
    ("import-runs", "/admin/voters/importrun/"),
    ("scoring-runs", "/admin/scoring/scoringrun/"),
    ("model-versions", "/admin/scoring/modelversion/"),
    ("programs", "/admin/messaging/programdesign/"),
    ("sms-outbox", "/admin/messaging/smsmessage/"),
    ("sms-replies", "/admin/messaging/smsinbound/"),
    ("sms-paused-variants", "/admin/messaging/pausedvariant/"),
    ("email-outbox", "/admin/messaging/emailmessage/"),
    ("audit-log", "/admin/campaign/auditevent/"),
    ("two-factor", "/account/two-factor/"),
)
# (name, list path, how many of its first rows): one page of an object of each list.
FIRST_OF = (
    ("voter", "/admin/voters/voter/", 1),
    ("import-run", "/admin/voters/importrun/", 1),
    ("scoring-run", "/admin/scoring/scoringrun/", 1),
    ("model-version", "/admin/scoring/modelversion/", 3),
    ("program", "/admin/messaging/programdesign/", 1),
    ("sms-conversation", "/admin/messaging/smsinbound/", 1),
)
# Lists that the demo leaves empty: their first object is looked for, and not missed.
MAY_BE_EMPTY = {"sms-conversation"}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} is missing: run `make browser`", file=sys.stderr)
        return 2
    staff_password = _password("SEGMENT_ONE_STAFF_PASSWORD", args.user)
    organizer_password = (
        _password("SEGMENT_ONE_ORGANIZER_PASSWORD", args.organizer) if args.organizer else ""
    )
    run = Run(base_url=args.base_url.rstrip("/") + "/", out=args.out)
    run.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            for label, size in VIEWPORTS.items():
                staff_pages(run, browser, label, size, args.user, staff_password)
                if args.organizer:
                    organizer_pages(run, browser, label, size, args.organizer, organizer_password)
        finally:
            browser.close()
    print(f"{len(run.taken)} screenshots in {run.out}")
    for line in run.wide:
        print(f"wider than the screen: {line}")
    for line in run.failures:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if run.failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path("var/screenshots"))
    parser.add_argument("--user", default="demo", help="a staff login of the demo")
    parser.add_argument("--organizer", default="organizer", help="empty: skip the /field/ pages")
    return parser


def _password(variable: str, user: str) -> str:
    if os.environ.get(variable):
        return os.environ[variable]
    if sys.stdin.isatty():
        return getpass.getpass(f"password of {user}: ")
    raise SystemExit(f"error: set {variable} to the password of {user}")


def staff_pages(run: Run, browser, label: str, size: tuple[int, int], user: str, password: str):
    page, context = _new_page(browser, size)
    try:
        if not _sign_in(run, page, "/admin/login/", user, password, label):
            return
        for name, path in ADMIN_PAGES:
            shoot(run, page, f"{name}-{label}", path)
        for name, list_path, count in FIRST_OF:
            links = _first_links(run, page, list_path, count)
            if not links and name not in MAY_BE_EMPTY:
                run.failures.append(f"{name}-{label}: no row on {list_path} to open")
            for i, href in enumerate(links, start=1):
                shoot(run, page, f"{name}{'-' + str(i) if count > 1 else ''}-{label}", href)
        experiment = _experiment_link(run, page)
        if experiment is None:
            run.failures.append(f"experiment-{label}: no model version links to a report")
        else:
            shoot(run, page, f"experiment-report-{label}", experiment)
    finally:
        context.close()


def organizer_pages(run: Run, browser, label: str, size: tuple[int, int], user: str, password):
    page, context = _new_page(browser, size)
    try:
        shoot(run, page, f"field-login-{label}", "/field/login/")
        if not _sign_in(run, page, "/field/login/", user, password, label):
            return
        shoot(run, page, f"field-home-{label}", "/field/")
        turf = page.locator("a.card.turf").first
        if turf.count() == 0:
            run.failures.append(f"field-turf-{label}: the organizer has no turf to open")
            return
        shoot(run, page, f"field-turf-{label}", turf.get_attribute("href"), settle="#doors, main")
    finally:
        context.close()


def shoot(run: Run, page, name: str, path: str, settle: str | None = None) -> None:
    """Open `path`, fail on an error status, and save the whole page as `name`.png."""
    from playwright.sync_api import Error

    try:
        response = page.goto(run.url(path), wait_until="networkidle")
    except Error as error:  # refused, timed out: a failure of this page, not of the run
        run.failures.append(f"{name}: {path} did not load ({error.message.splitlines()[0]})")
        return
    status = response.status if response is not None else 0
    if status >= 400 or status == 0:
        run.failures.append(f"{name}: {path} answered {status}")
    if settle:
        page.locator(settle).first.wait_for(timeout=10_000)
    overflow = page.evaluate(_OVERFLOW_JS, page.viewport_size["width"])
    if overflow:
        run.wide.append(f"{name} ({overflow})")
    shot = run.out / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    run.taken.append(shot)


# How far the page, or a list's table in its own scrolling box, reaches past the screen. Against
# the screen's width, not innerWidth: a phone widens its layout to a page that is too wide.
_OVERFLOW_JS = """(screen) => {
  const parts = [];
  const page = document.documentElement.scrollWidth - screen;
  if (page > 1) parts.push(`page ${page} px`);
  for (const box of document.querySelectorAll('#changelist .results, .module table')) {
    const more = box.scrollWidth - box.clientWidth;
    if (more > 1) parts.push(`${box.id || box.className || box.tagName} ${more} px`);
  }
  return parts.join(', ');
}"""


def _new_page(browser, size: tuple[int, int]):
    width, height = size
    phone = width < 600
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
    )
    return context.new_page(), context


def _sign_in(run: Run, page, path: str, user: str, password: str, label: str) -> bool:
    from playwright.sync_api import Error

    try:
        page.goto(run.url(path))
    except Error as error:
        reason = error.message.splitlines()[0]
        run.failures.append(f"sign-in-{label}: {path} did not load ({reason})")
        return False
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("input[type=submit], button[type=submit], form button").first.click()
    if page.locator("input[name=password]").count():
        run.failures.append(f"sign-in-{label}: {user} could not sign in at {path}")
        return False
    return True


def _first_links(run: Run, page, list_path: str, count: int) -> list[str]:
    response = page.goto(run.url(list_path))
    if response is None or response.status >= 400:
        return []
    links = page.locator(FIRST_ROW)
    hrefs = [links.nth(i).get_attribute("href") for i in range(min(links.count(), count * 4))]
    return list(dict.fromkeys(hrefs))[:count]  # a row may link its object twice


def _experiment_link(run: Run, page) -> str | None:
    """The report of the program a persuasion model learned from, as its page links it."""
    for href in _first_links(run, page, "/admin/scoring/modelversion/", 10):
        page.goto(run.url(href))
        link = page.locator("a[href*='/experiment/?']").first
        if link.count():
            return link.get_attribute("href")
    return None


if __name__ == "__main__":
    sys.exit(main())
