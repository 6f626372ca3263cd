"""The program page in the admin: universe, arms with counts, what was delivered, and the lift
after the election."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging.admin import filter_text, universe_facts
from messaging.models import ProgramDesign
from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program
from scoring.services import experiment_report
from tests.e2e.browser import browser as browser  # a fixture, used by name
from tests.factories import (
    ContactAttemptFactory,
    ElectionFactory,
    HouseholdFactory,
    MessageVariantFactory,
    SurveyQuestionFactory,
    VoteRecordFactory,
    VoterFactory,
)
from voters.models import Assignment, ContactAttempt, VoteRecord

pytestmark = pytest.mark.django_db

VOTERS = 8  # in households of one: 8 units, 4 of them control at a control share of 0.5


def committed_program(campaign, arms=("health",), policy="single") -> ProgramDesign:
    for name in arms:
        MessageVariantFactory(campaign=campaign, name=name)
    for _ in range(VOTERS):
        VoterFactory(campaign=campaign, household=HouseholdFactory(campaign=campaign))
    # The seed draws 2 households into each arm of a uniform program of two (the page tests below
    # read those counts).
    spec = {"name": "Doors", "channel": "door", "arms": list(arms), "policy": policy,
            "control_share": 0.5, "seed": 1}  # fmt: skip
    design = create_program(campaign=campaign, spec=parse_spec(spec))
    return commit_program(design=design)


def page_url(design: ProgramDesign) -> str:
    return reverse("admin:messaging_programdesign_change", args=[design.pk])


def voters_in(design: ProgramDesign, arm: str) -> list:
    assigned = Assignment.objects.filter(program=design.program_id, arm__name=arm)
    return [a.voter for a in assigned.select_related("voter", "arm").order_by("voter_id")]


def url_of(name: str, design: ProgramDesign) -> str:
    return reverse(f"admin:messaging_programdesign_{name}", args=[design.pk])


def future_election(campaign, days: int = 30, **kwargs):
    return ElectionFactory(
        campaign=campaign, election_on=timezone.localdate() + dt.timedelta(days=days), **kwargs
    )


def row(*cells) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


# -- universe and arms ---------------------------------------------------------------------------


def test_the_universe_shows_the_committed_counts(staff_client, campaign):
    design = committed_program(campaign)

    page = staff_client.get(page_url(design)).content.decode()

    assert row("voters in the universe", 8) in page
    assert row("households", 8) in page
    assert row("distinct phone numbers", 8) in page
    assert row("distinct email addresses", 8) in page
    assert row("households to randomize", 8) in page
    assert row("households assigned (control included)", 8) in page
    assert row("voter status", "Active") in page
    assert (
        row(
            "backlash voters",
            "left out (every message predicted to hurt, beyond the safety margin)",
        )
        in page
    )


def test_universe_figures_have_thousands_separators():
    summary = {
        "universe": {"voters": 1234567, "households": 654321, "phones": 1000, "emails": 999,
                     "units": 654321},
        "left_out": {"backlash_voters": 12345, "left_alone_units": 0, "over_budget_units": 2500},
        "arms": [{"arm": "control", "units": 65432, "voters": 1}, {"arm": "a", "units": 500000,
                                                                  "voters": 2}],
        "expected_net_votes": 1234.56, "policy": "uniform", "seed": 7,
    }  # fmt: skip

    facts = universe_facts(summary, "sms")

    assert facts == [
        ("voters in the universe", "1,234,567"),
        ("households", "654,321"),
        ("distinct phone numbers", "1,000"),
        ("distinct email addresses", "999"),
        ("phone numbers to randomize", "654,321"),
        ("left out: voters every message would hurt", "12,345"),
        ("left out: phone numbers every message would hurt", "0"),
        ("left out: phone numbers beyond the budget", "2,500"),
        ("phone numbers assigned (control included)", "565,432"),
        ("expected net votes", "1,234.6"),
        ("policy, seed", "uniform, 7"),
    ]


def test_universe_filters_read_as_words():
    assert filter_text("party", ["dem", "una"]) == "Democratic, Unaffiliated"
    assert filter_text("age", [18, 35]) == "18 to 35"
    assert filter_text("turnout", [0.3, 0.7]) == "30.0% to 70.0% (the latest complete scoring run)"
    assert filter_text("uplift", {"health": [0.01, 1]}) == "health: +1.0 pp to +100.0 pp"
    assert filter_text("not_contacted_days", 14) == "not contacted in the last 14 days"
    assert filter_text("exclude_running_programs", True) == (
        "nobody already in another running program"
    )
    ids = [f"NC{i}" for i in range(13)]
    assert filter_text("voter_ids", ids) == (
        "only the 13 listed: NC0, NC1, NC2, NC3, NC4, NC5, NC6, NC7, NC8, NC9, NC10, NC11, … "
        "(13 in all)"
    )


def test_arms_show_units_share_voters_and_the_pinned_version_control_first(staff_client, campaign):
    design = committed_program(campaign, arms=("health", "economy"), policy="uniform")
    pins = {p.arm.name: p.variant for p in design.arm_variants.select_related("arm", "variant")}

    page = staff_client.get(page_url(design)).content.decode()

    counts = {
        name: Assignment.objects.filter(program=design.program_id, arm__name=name).count()
        for name in ("control", "health", "economy")
    }
    assert counts == {"control": 4, "health": 2, "economy": 2}
    variant = reverse("admin:messaging_messagevariant_change", args=[pins["health"].pk])
    control = page.index(row("control", "— (no message)", 4, "50.0%", 4))
    health = page.index(row("health", f'<a href="{variant}">health v1</a>', 2, "25.0%", 2))
    economy = page.index("<td>economy</td>")
    assert control < health < economy
    assert "<th>variant (version)</th><th>households</th><th>share of units</th>" in page


def test_the_page_is_read_only_so_a_form_save_is_refused(staff_client, campaign):
    design = committed_program(campaign)

    page = staff_client.get(page_url(design)).content.decode()
    response = staff_client.post(page_url(design), {"_save": "Save"})

    assert 'name="_save"' not in page
    assert url_of("cancel", design) in page  # the status buttons stay
    assert response.status_code == 403
    assert ProgramDesign.objects.get().status == "committed"
    assert Assignment.objects.count() == VOTERS


# -- delivered ---------------------------------------------------------------------------------


def test_delivered_counts_per_arm_channel_and_result(staff_client, campaign):
    design = committed_program(campaign, arms=("health", "economy"), policy="uniform")
    health, economy = voters_in(design, "health"), voters_in(design, "economy")
    arms = {a.name: a for a in design.program.arms.all()}

    def attempt(voter, arm, result, channel="door"):
        ContactAttemptFactory(voter=voter, program=design.program, arm=arms.get(arm),
                              channel=channel, result=result)  # fmt: skip

    for result in ("contacted", "contacted", "contacted", "not_home", "not_home", "refused"):
        attempt(health[0], "health", result)
    attempt(economy[0], "economy", "contacted")
    attempt(economy[1], None, "moved")  # imported without its arm
    attempt(health[1], "health", "delivered", channel="sms")
    ContactAttemptFactory(voter=health[0], result="contacted")  # not this program's

    page = staff_client.get(page_url(design)).content.decode()

    assert "<h3>Door: 8 attempts</h3>" in page
    assert (
        "<th>arm</th><th>attempts</th><th>contacted (reached)</th><th>not home / no answer</th>"
        "<th>refused</th><th>moved</th>"
    ) in page
    door = page[page.index("<h3>Door") : page.index("<h3>Text message")]
    assert row("control", 0, 0, 0, 0, 0) in door
    assert row("health", 6, 3, 2, 1, 0) in door
    assert row("economy", 1, 1, 0, 0, 0) in door
    assert row("arm not recorded", 1, 0, 0, 0, 1) in door
    assert "<h3>Text message: 1 attempt</h3>" in page
    texts = page[page.index("<h3>Text message") :]
    assert "<th>delivered (reached)</th><th>failed</th><th>opted out</th>" in texts
    assert row("health", 1, 1, 0, 0) in texts
    assert "attempts were recorded for control voters" not in page
    assert ContactAttempt.objects.count() == 10  # the page wrote nothing


def test_the_page_counts_deliveries_in_the_same_queries_however_many(staff_client, campaign):
    design = committed_program(campaign)
    voter = voters_in(design, "health")[0]
    arm = design.program.arms.get(name="health")
    ContactAttemptFactory(voter=voter, program=design.program, arm=arm)
    staff_client.get(page_url(design))  # warms per-process caches (content types), so run alone
    with CaptureQueriesContext(connection) as one:
        staff_client.get(page_url(design))
    for result in ("not_home", "refused", "contacted", "moved") * 5:
        ContactAttemptFactory(voter=voter, program=design.program, arm=arm, result=result)

    with CaptureQueriesContext(connection) as many:
        staff_client.get(page_url(design))

    assert len(many) == len(one)
    # The delivered table, and (a door program) the turfs' progress: each one grouped query.
    grouped = [q["sql"] for q in many if "voters_contactattempt" in q["sql"]]
    assert len(grouped) == 2
    assert all("GROUP BY" in sql for sql in grouped)


def test_nothing_delivered_yet_reads_so(staff_client, campaign):
    design = committed_program(campaign)

    page = staff_client.get(page_url(design)).content.decode()

    assert "<p>Nothing delivered yet.</p>" in page


def test_attempts_on_control_voters_are_flagged(staff_client, campaign):
    design = committed_program(campaign)
    control = voters_in(design, "control")
    arm = design.program.arms.get(name="control")
    for voter in control[:2]:
        ContactAttemptFactory(voter=voter, program=design.program, arm=arm)

    page = staff_client.get(page_url(design)).content.decode()

    assert row("control", 2, 2, 0, 0) in page
    assert (
        "2 attempts were recorded for control voters. The control group should get nothing from "
        "this program, so its lift will read smaller than it is."
    ) in page


def test_a_draft_has_no_deliveries_and_no_lift(staff_client, campaign):
    MessageVariantFactory(campaign=campaign, name="health")
    VoterFactory(campaign=campaign)
    spec = {"name": "Doors", "channel": "door", "arms": ["health"], "policy": "single",
            "control_share": 0.5}  # fmt: skip
    design = create_program(campaign=campaign, spec=parse_spec(spec))

    response = staff_client.get(page_url(design))

    page = response.content.decode()
    assert "Nothing is delivered before the program is committed." in page
    assert "Not drawn yet" in page
    assert "results" not in response.context_data
    assert 'id="program-results"' not in page


# -- after the election --------------------------------------------------------------------------


def test_the_outcomes_offered_are_elections_since_the_commit_most_recent_first(
    staff_client, campaign, other_campaign
):
    design = committed_program(campaign)
    ElectionFactory(campaign=campaign, election_on=dt.date(2020, 11, 3))  # before: not offered
    soon = future_election(campaign, days=30)
    later = future_election(campaign, days=400)
    future_election(other_campaign)
    question = SurveyQuestionFactory(campaign=campaign, slug="issue", text="Top issue?")
    SurveyQuestionFactory(campaign=other_campaign, slug="theirs")

    results = staff_client.get(page_url(design)).context["results"]

    assert results["elections"] == [(later.pk, str(later)), (soon.pk, str(soon))]
    assert (question.pk, "issue: Top issue?") in results["questions"]
    assert "theirs" not in str(results["questions"])
    assert results["report"] is None
    assert results["error"] == ""


def test_the_lift_table_for_an_election(staff_client, campaign):
    design = committed_program(campaign)
    election = future_election(campaign, label="General 2027")
    control, health = voters_in(design, "control"), voters_in(design, "health")
    VoteRecordFactory(voter=control[0], election=election)  # control: 1 of 4 voted
    VoteRecordFactory(voter=control[1], election=election, voted=False)
    for voter in health[:3]:  # health: 3 of 4
        VoteRecordFactory(voter=voter, election=election)

    response = staff_client.get(page_url(design), {"election": election.pk})

    assert response.status_code == 200
    results = response.context["results"]
    expected = experiment_report(campaign=campaign, program=design.program, election=election)
    assert results["report"] == expected
    assert [(a["arm"], a["n"], a["rate"]) for a in expected["arms"]] == [
        ("control", 4, 0.25), ("health", 4, 0.75),
    ]  # fmt: skip
    assert expected["arms"][1]["lift"] == pytest.approx(0.5)
    assert (expected["n"], expected["households"]) == (8, 8)
    page = response.content.decode()
    assert "General 2027: 8 voters in 8 randomized units, of 8 assigned." in page
    assert row("control", 4, "25.0%", "(baseline)", "", "—") in page
    health_row = expected["arms"][1]
    ci = f"[{100 * health_row['ci_low']:+.1f}, {100 * health_row['ci_high']:+.1f}]"
    assert row("health", 4, "75.0%", "+50.0 pp", ci, f"{health_row['p_value']:.3f}") in page
    assert 'id="lift-chart" src="data:image/png;base64,iVBORw0KGgo' in page
    query = f"program={design.program_id}&amp;election={election.pk}"
    assert f'href="/admin/scoring/modelversion/experiment/?{query}"' in page
    assert f'<option value="{election.pk}" selected>General 2027</option>' in page
    assert VoteRecord.objects.count() == 5  # the page wrote nothing


def test_an_election_with_no_vote_history_is_a_message(staff_client, campaign):
    design = committed_program(campaign)
    election = future_election(campaign, label="General 2027")

    response = staff_client.get(page_url(design), {"election": election.pk})

    assert response.status_code == 200
    assert response.context["results"]["report"] is None
    assert (
        "No vote history of General 2027 has been imported yet: the lift needs to know who voted "
        "(import_history)."
    ) in response.content.decode()
    assert 'id="lift-table"' not in response.content.decode()


def test_a_report_that_cannot_be_made_is_a_message(staff_client, campaign):
    design = committed_program(campaign)
    question = SurveyQuestionFactory(campaign=campaign, slug="issue")

    response = staff_client.get(page_url(design), {"question": question.pk})

    assert response.status_code == 200
    results = response.context["results"]
    assert results["report"] is None
    assert results["error"].startswith("question 'issue' cannot measure this program")


def test_two_outcomes_at_once_ask_for_one(staff_client, campaign):
    design = committed_program(campaign)
    election = future_election(campaign)
    question = SurveyQuestionFactory(campaign=campaign, slug="issue")

    response = staff_client.get(
        page_url(design), {"election": election.pk, "question": question.pk}
    )

    assert response.status_code == 200
    assert response.context["results"]["error"] == (
        "Choose one outcome: an election or a survey question."
    )


def test_another_campaigns_program_or_election_is_a_404(staff_client, campaign, other_campaign):
    theirs = committed_program(other_campaign)
    their_election = future_election(other_campaign)
    VoteRecordFactory(voter=voters_in(theirs, "control")[0], election=their_election)
    ours = ProgramDesign.objects.get(pk=committed_program(campaign).pk)

    answers = [
        staff_client.get(page_url(theirs)).status_code,
        staff_client.get(page_url(theirs), {"election": their_election.pk}).status_code,
        staff_client.get(page_url(ours), {"election": their_election.pk}).status_code,
        staff_client.get(page_url(ours), {"election": "not-a-number"}).status_code,
    ]

    assert answers == [404, 404, 404, 404]
    assert ProgramDesign.objects.get(pk=theirs.pk).status == "committed"


def test_a_viewer_reads_the_page_and_the_lift_but_no_phone_or_email(client, campaign, make_member):
    design = committed_program(campaign)
    election = future_election(campaign)
    control, health = voters_in(design, "control"), voters_in(design, "health")
    VoteRecordFactory(voter=control[0], election=election)
    VoteRecordFactory(voter=health[0], election=election)
    ContactAttemptFactory(
        voter=health[0], program=design.program, arm=design.program.arms.get(name="health")
    )
    client.force_login(make_member(campaign, "viewer"))

    response = client.get(page_url(design), {"election": election.pk})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="lift-table"' in page
    assert "<h3>Door: 1 attempt</h3>" in page
    for voter in [*control, *health]:
        assert voter.phone not in page
        assert voter.email not in page
        assert voter.last_name not in page
    assert response.context["status_actions"] == []
    assert "export_url" not in response.context


# -- in a browser --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_program_page_in_a_browser_shows_the_lift(browser, live_server, tmp_path, make_member):
    from tests.factories import CampaignFactory

    campaign = CampaignFactory(slug="home", name="Home campaign", state="NC")
    design = committed_program(campaign, arms=("health", "economy"), policy="uniform")
    election = future_election(campaign, label="General 2027")
    for arm, voted in (("control", 1), ("health", 2), ("economy", 1)):
        for voter in voters_in(design, arm)[:voted]:
            VoteRecordFactory(voter=voter, election=election)
    for voter in voters_in(design, "health"):
        ContactAttemptFactory(voter=voter, program=design.program,
                              arm=design.program.arms.get(name="health"))  # fmt: skip
    client = Client()
    client.force_login(make_member(campaign, "viewer"))
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    page = context.new_page()

    page.goto(f"{live_server.url}{page_url(design)}")
    page.select_option("#id_election", str(election.pk))
    page.click("#outcome-form input[type=submit]")
    page.wait_for_selector("#lift-table")
    landed = page.url
    scrolled_to_results = page.evaluate(
        "() => document.getElementById('program-results').getBoundingClientRect().top"
    )
    shot = tmp_path / "program-page.png"
    page.screenshot(path=str(shot), full_page=True)
    chart = page.evaluate(
        "() => { const i = document.getElementById('lift-chart');"
        " return [i.naturalWidth, i.getBoundingClientRect().right]; }"
    )
    widest = page.evaluate("() => document.documentElement.scrollWidth")
    arms = page.locator("#lift-table tbody td:first-child").all_inner_texts()
    context.close()

    assert arms == ["control", "health", "economy"]  # as in the arms table
    assert abs(scrolled_to_results) < 5  # the page opens at the results, not the top
    assert landed.endswith(f"?election={election.pk}&question=#program-results")
    assert chart[0] > 300  # drawn
    assert chart[1] <= 1366  # and inside the window
    assert widest <= 1366  # nothing wider than the window
    assert shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")
