"""The whole loop on a generated county: `python manage.py demo` (used by `make demo`)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from campaign.lib.progress import ByteProgressBar
from campaign.models import Campaign, Election, Role
from campaign.services import add_member, create_campaign
from messaging.canvassing import assign_turfs, cut_program_turfs
from messaging.models import MessageVariant, ProgramDesign, ProgramStatus
from messaging.program_specs import parse_spec
from messaging.program_truth import grade_plan, read_true_effects
from messaging.programs import commit_program, create_program, plan_program
from messaging.services import create_variant
from scoring.cards import persuasion_summary
from scoring.models import RunStatus
from scoring.reports import ci_points, p_value_text, percent, points
from scoring.services import (
    approve_model,
    experiment_report,
    run_progress,
    start_scoring_run,
    train_persuasion_model,
    train_support_model,
    train_turnout_model,
)
from voters import synthetic
from voters.importers import ImportProgress
from voters.models import ImportRun, Program
from voters.services import (
    import_contact_history,
    import_program_assignments,
    import_vote_history,
    import_voter_file,
)

DEMO_USERNAME = "demo"
DEMO_ORGANIZER = "organizer"
NEXT_PROGRAM = "Doors: next general, personalized"

# The four door scripts of the next program, one per variant the past program tested (the
# persuasion model predicts an uplift for each of these names).
DOOR_SCRIPTS = {
    "civic_duty": (
        "Hi {{ voter.first_name|default:'there' }}, I'm a volunteer with {{ sender.name }}. "
        "Voting is how this community is heard. Can we count on you to vote this November"
        "{% if voter.polling_place %} at {{ voter.polling_place }}{% endif %}?"
    ),
    "social_pressure": (
        "Hi {{ voter.first_name|default:'there' }}, I'm with {{ sender.name }}. Whether you "
        "vote is public record, and we will be looking at who in the neighbourhood turned out "
        "after the election. Can we count on you this November?"
    ),
    "neighbors": (
        "Hi {{ voter.first_name|default:'there' }}, I'm with {{ sender.name }}. Your neighbours "
        "in this building are talking about the election. Will you join them at the polls"
        "{% if voter.polling_place %} at {{ voter.polling_place }}{% endif %}?"
    ),
    "plan_making": (
        "Hi {{ voter.first_name|default:'there' }}, I'm with {{ sender.name }}. Let's make a "
        "plan: what time of day will you vote, where will you be coming from, and how will you "
        "get{% if voter.polling_place %} to {{ voter.polling_place }}{% else %} there{% endif %}?"
    ),
}
TALKING_POINTS = (
    "{% if voter.talking_points %}\nWhat we know: {{ voter.talking_points|join:'; ' }}.{% endif %}"
)


class Command(BaseCommand):
    help = (
        "Generate a synthetic county with its contact history, import it through the real "
        "importers, create a login."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--voters", type=int, default=50_000, help="voters in the county")
        parser.add_argument("--seed", type=int, default=synthetic.DEFAULT_SEED)
        parser.add_argument("--out", type=Path, default=None, help="where the files go")
        parser.add_argument(
            "--skip-models", action="store_true", help="import only: no training or scoring"
        )

    def handle(
        self, *args, voters: int, seed: int, out: Path | None, skip_models: bool, **options
    ) -> None:
        out = out or Path(settings.DEMO_DIR) / "county"
        started = time.monotonic()
        self.stdout.write(f"Generating a county of {voters:,} voters in {out} …")
        county = synthetic.generate_county(out, voters=voters, seed=seed)
        self.stdout.write(
            f"  {county.voters:,} voters in {county.households:,} households, "
            f"{len(county.elections)} past elections, program {county.program_name!r} "
            f"with arms {', '.join(county.program_arms)}"
        )
        totals = county.contacts
        self.stdout.write(
            f"  {totals.rows + totals.van_rows:,} contact attempts ({totals.van_rows:,} in the VAN "
            f"export), {totals.answers + totals.van_answers:,} support IDs, "
            f"{sum(totals.opt_outs(c) for c in ('door', 'sms', 'email')):,} opt-outs"
        )
        generic, _ = create_campaign(slug="demo", name="Alder County (demo)", state="NC")
        nc, _ = create_campaign(slug="demo-nc", name="Alder County, NC layout (demo)", state="NC")
        self.import_pair(generic, "generic", county.voters_csv, county.history_csv)
        self.import_contacts(generic, county)
        self.import_pair(nc, "nc", county.nc_voter_txt, county.nc_history_txt)
        username, password = self.demo_login([generic, nc])
        if not skip_models:
            user = get_user_model().objects.get(username=username)
            scored = self.train_and_score(generic, county, user)
            self.report_past_program(generic, county)
            if scored:
                self.next_program(generic, county, user)
            else:
                # Workers (REDIS_URL set) score in their own time; cycle two needs the scores.
                self.stdout.write("The scoring run is still with the workers: no next program.")
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.0f}s."))
        self.stdout.write(
            f"  Admin: http://127.0.0.1:8000/admin/  user {username}  password {password}"
        )

    def import_pair(self, campaign: Campaign, layout: str, voters: Path, history: Path) -> None:
        run = self.with_bar(
            f"{campaign.slug}: voters",
            lambda progress: import_voter_file(
                campaign=campaign, paths=[voters], layout=layout, mode="quarantine", full=True,
                on_progress=progress,
            ),
        )  # fmt: skip
        self.stdout.write(f"  {campaign.slug} voters ({layout}): {run.summary()}")
        run = self.with_bar(
            f"{campaign.slug}: history",
            lambda progress: import_vote_history(
                campaign=campaign, paths=[history], layout=layout, mode="quarantine",
                on_progress=progress,
            ),
        )  # fmt: skip
        self.stdout.write(f"  {campaign.slug} history ({layout}): {run.summary()}")

    def import_contacts(self, campaign: Campaign, county: synthetic.CountyFiles) -> None:
        """The past program's assignments, then the contact history: generic, then VAN."""
        # Assignments first, so the program's door knocks find their program and arms.
        run = self.with_bar(
            f"{campaign.slug}: assignments",
            lambda progress: import_program_assignments(
                campaign=campaign, program=county.program_name, paths=[county.assignments_csv],
                mode="quarantine", on_progress=progress,
            ),
        )  # fmt: skip
        self.stdout.write(f"  {campaign.slug} assignments ({county.program_name}): {run.summary()}")
        van_files = [county.van_contacts_xls, county.van_responses_xls]
        for layout, paths in (("generic", [county.contacts_csv]), ("van", van_files)):
            run = self.with_bar(
                f"{campaign.slug}: contacts ({layout})",
                lambda progress, layout=layout, paths=paths: import_contact_history(
                    campaign=campaign, paths=paths, layout=layout, mode="quarantine",
                    on_progress=progress,
                ),
            )  # fmt: skip
            self.stdout.write(f"  {campaign.slug} contacts ({layout}): {run.summary()}")

    def train_and_score(self, campaign: Campaign, county, user) -> bool:
        """The loop's middle: turnout, support and persuasion models, approved, then a run."""
        election = Election.objects.get(
            campaign=campaign, election_on=county.program_election.on, election_type="general"
        )
        program = Program.objects.get(campaign=campaign, name=county.program_name)
        self.stdout.write("Training models (turnout, support, persuasion) …")
        turnout = train_turnout_model(campaign=campaign, election=election, user=user)
        support = train_support_model(campaign=campaign, user=user)
        persuasion = train_persuasion_model(
            campaign=campaign, program=program, election=election, user=user, folds=3
        )
        for version in (turnout, support, persuasion):
            approve_model(version=version, user=user)
            self.stdout.write(f"  {version_summary(version)}")
        run = start_scoring_run(campaign=campaign, user=user)
        run.refresh_from_db()
        progress = run_progress(run)
        self.stdout.write(
            f"  scoring run {run.pk} {run.status}: {progress['voters_scored']:,} voters scored "
            f"({progress['voters_per_second']:,.0f}/s)"
        )
        self.stdout.write(
            "  Look at: /admin/scoring/modelversion/ (metrics, model cards, plots), "
            "/admin/scoring/scoringrun/, and `manage.py export_scores --campaign demo`"
        )
        return run.status == RunStatus.COMPLETE

    def report_past_program(self, campaign: Campaign, county: synthetic.CountyFiles) -> None:
        """Cycle one's result: the past uniform program's lift per arm, as staff read it."""
        election = Election.objects.get(
            campaign=campaign, election_on=county.program_election.on, election_type="general"
        )
        program = Program.objects.get(campaign=campaign, name=county.program_name)
        report = experiment_report(campaign=campaign, program=program, election=election)
        self.stdout.write(
            f"The past program {program.name!r}, turnout in the {election}: "
            f"{report['n']:,} voters in {report['households']:,} households"
        )
        for arm in report["arms"]:
            lift = "" if arm["lift"] is None else (
                f"  lift {points(arm['lift'])} {ci_points(arm['ci_low'], arm['ci_high'])}"
                f"  p {p_value_text(arm['p_value'])}"
            )  # fmt: skip
            self.stdout.write(f"  {arm['arm']:<16} {percent(arm['rate']):>7}{lift}")

    def next_program(self, campaign: Campaign, county: synthetic.CountyFiles, user) -> None:
        """Cycle two: a personalized door program from the persuasion model, with exploration,
        graded against the county's true effects (what no real campaign can know)."""
        existing = ProgramDesign.objects.filter(campaign=campaign, program__name=NEXT_PROGRAM)
        if existing.filter(status=ProgramStatus.COMMITTED).exists():
            self.stdout.write(f"The program {NEXT_PROGRAM!r} was committed by an earlier run.")
            return
        for name, script in DOOR_SCRIPTS.items():
            if not MessageVariant.objects.filter(campaign=campaign, name=name).exists():
                create_variant(
                    campaign=campaign, name=name, channel="door", body=script + TALKING_POINTS,
                    tags=("demo",), by=user,
                )  # fmt: skip
        design = existing.first() or create_program(
            campaign=campaign, spec=parse_spec(NEXT_PROGRAM_SPEC), by=user
        )
        plan = plan_program(design=design)
        grade = grade_plan(plan, read_true_effects(county.ground_truth_csv, plan.arm_names[1:]))
        design = commit_program(design=design, by=user)
        units = {arm["arm"]: arm["units"] for arm in design.summary["arms"]}
        self.stdout.write(
            f"Committed {NEXT_PROGRAM!r} (personalized, 10% control, 10% exploration): "
            + ", ".join(f"{name} {count:,}" for name, count in units.items())
            + " households"
        )
        self.stdout.write("  True expected net votes, from the county's true effects:")
        for line in grade.lines():
            self.stdout.write(f"    {line}")
        self.walk(campaign, design, user)
        self.stdout.write(
            f"  Look at: /admin/messaging/programdesign/{design.pk}/change/ and "
            "/admin/messaging/messagevariant/"
        )

    def walk(self, campaign: Campaign, design: ProgramDesign, user) -> None:
        """The program's doors cut into turfs, the best three given to a demo organizer."""
        turfs = cut_program_turfs(design=design, by=user)
        password = secrets.token_urlsafe(9)
        organizer, _ = get_user_model().objects.get_or_create(username=DEMO_ORGANIZER)
        organizer.set_password(password)
        organizer.save()
        add_member(campaign=campaign, user=organizer, role=Role.ORGANIZER)
        assign_turfs(turfs=turfs[:3], organizer=organizer, by=user)
        doors = sum(t.doors for t in turfs)
        self.stdout.write(
            f"  {len(turfs):,} turfs of its {doors:,} treated doors; the best 3 are the demo "
            f"organizer's: http://127.0.0.1:8000/field/  user {DEMO_ORGANIZER}  password "
            f"{password}"
        )

    def with_bar(self, label: str, start) -> ImportRun:
        bar = ByteProgressBar(description=label)

        def on_progress(p: ImportProgress) -> None:
            bar.update(
                bytes_done=p.bytes_done, bytes_total=p.bytes_total, rows=p.rows_read, phase=p.phase
            )

        try:
            return start(on_progress)
        finally:
            bar.close()

    def demo_login(self, campaigns: list[Campaign]) -> tuple[str, str]:
        """A staff login that is admin of the demo campaigns (a new password each run)."""
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = True
        user.set_password(password)
        user.save()
        for campaign in campaigns:
            add_member(campaign=campaign, user=user, role=Role.ADMIN)
        return DEMO_USERNAME, password


NEXT_PROGRAM_SPEC = {
    "name": NEXT_PROGRAM,
    "description": "Each household gets the script the persuasion model expects to move it most.",
    "channel": "door",
    "arms": list(DOOR_SCRIPTS),
    "policy": "personalized",
    "control_share": 0.1,
    "exploration_share": 0.1,
    "seed": 2026,
    "universe": {"status": ["active"]},
}


def version_summary(version) -> str:
    m = version.metrics
    if version.kind == "persuasion":
        return f"persuasion: {persuasion_summary(m)}"
    return (
        f"{version.kind}: held-out AUC {m['auc']:.3f}, Brier {m['brier']:.3f}, "
        f"depth {version.params['max_depth']} x {version.params['trees']} trees"
    )
