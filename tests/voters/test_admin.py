"""The voters admin: tenancy, index-friendly search, filters, bounded queries and the upload."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campaign.admin import BoundedCountPaginator
from campaign.models import Role
from tests.factories import (
    AssignmentFactory,
    CampaignFactory,
    ElectionFactory,
    HouseholdFactory,
    ImportRunFactory,
    MembershipFactory,
    ProgramArmFactory,
    UserFactory,
    VoteRecordFactory,
    VoterFactory,
)
from voters.models import ImportRun, ImportStatus, RejectedRow, Voter, VoteRecord
from voters.selectors import AGE_BANDS, age_between, phone_e164, search_voters

pytestmark = pytest.mark.django_db

VOTERS = reverse("admin:voters_voter_changelist")
# session, user, memberships, precinct choices, election choices, capped count, the page of rows,
# the user's Django permissions (user, group), which the sidebar asks for the auth app's models,
# and the campaigns' latest scoring runs (scoring's columns and filters; with a run, one more:
# the arms its persuasion model could pick)
VOTER_CHANGELIST_QUERIES = 10
# session, user, memberships, the voter with campaign and household, the Django permissions
# (2), household members, vote history, consent per channel, the timeline's contacts, answers and
# consent changes, program assignments
VOTER_PAGE_QUERIES = 16  # one of them: the latest scores; two: the texts and replies (messaging)


def shown(response) -> set[int]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


# -- tenancy ---------------------------------------------------------------------------------


def test_voter_changelist_shows_own_campaign_voters_only(staff_client, campaign, other_campaign):
    own = VoterFactory.create_batch(3, campaign=campaign)
    foreign = VoterFactory(campaign=other_campaign, voter_id="RIVAL0001")

    response = staff_client.get(VOTERS)

    assert shown(response) == {v.pk for v in own}
    assert foreign.voter_id not in response.content.decode()


def test_superuser_sees_voters_of_both_campaigns(superuser_client, campaign, other_campaign):
    own = VoterFactory(campaign=campaign)
    foreign = VoterFactory(campaign=other_campaign)

    assert shown(superuser_client.get(VOTERS)) == {own.pk, foreign.pk}


@pytest.mark.parametrize(
    ("route", "make"),
    [
        ("voters_voter_change", lambda c: VoterFactory(campaign=c)),
        ("voters_household_change", lambda c: HouseholdFactory(campaign=c)),
        ("voters_importrun_change", lambda c: ImportRunFactory(campaign=c)),
        ("voters_voterecord_change", lambda c: VoteRecordFactory(voter=VoterFactory(campaign=c))),
        (
            "voters_rejectedrow_change",
            lambda c: RejectedRow.objects.create(
                import_run=ImportRunFactory(campaign=c), file_name="f.csv", line_number=2, raw="x"
            ),
        ),
    ],
)
def test_change_page_of_a_foreign_object_is_404(staff_client, other_campaign, route, make):
    obj = make(other_campaign)

    assert staff_client.get(reverse(f"admin:{route}", args=[obj.pk])).status_code == 404


def test_change_page_of_own_objects_is_shown(staff_client, campaign):
    voter = VoterFactory(campaign=campaign)
    household = HouseholdFactory(campaign=campaign)
    run = ImportRunFactory(campaign=campaign)

    for route, obj in [
        ("voters_voter_change", voter),
        ("voters_household_change", household),
        ("voters_importrun_change", run),
    ]:
        assert staff_client.get(reverse(f"admin:{route}", args=[obj.pk])).status_code == 200


def test_voters_and_history_cannot_be_changed_or_deleted(staff_client, campaign):
    voter = VoterFactory(campaign=campaign, last_name="Keep")
    record = VoteRecordFactory(voter=voter)
    run = ImportRunFactory(campaign=campaign)

    posts = [
        staff_client.post(
            reverse("admin:voters_voter_change", args=[voter.pk]), {"last_name": "X"}
        ),
        staff_client.post(reverse("admin:voters_voter_delete", args=[voter.pk]), {"post": "yes"}),
        staff_client.post(
            reverse("admin:voters_voterecord_delete", args=[record.pk]), {"post": "yes"}
        ),
        staff_client.post(reverse("admin:voters_importrun_delete", args=[run.pk]), {"post": "yes"}),
    ]

    assert [p.status_code for p in posts] == [403, 403, 403, 403]
    assert Voter.objects.get(pk=voter.pk).last_name == "Keep"
    assert VoteRecord.objects.count() == 1
    assert ImportRun.objects.count() == 1


# -- search ----------------------------------------------------------------------------------


@pytest.fixture
def searchable(campaign, other_campaign):
    return {
        "john": VoterFactory(campaign=campaign, last_name="Smith", first_name="John"),
        "jane": VoterFactory(campaign=campaign, last_name="Smithers", first_name="Jane"),
        "lower": VoterFactory(campaign=campaign, last_name="smithson", first_name="Al"),
        "jones": VoterFactory(
            campaign=campaign, last_name="Jones", first_name="Ann", phone="+19195550123"
        ),
        "by_id": VoterFactory(campaign=campaign, voter_id="NC000123", last_name="Brown"),
        "main": VoterFactory(campaign=campaign, last_name="Ng", address="123 MAIN ST"),
        "main_1234": VoterFactory(campaign=campaign, last_name="Ox", address="1234 MAIN ST"),
        "maple": VoterFactory(campaign=campaign, last_name="Li", address="123 MAPLE AVE"),
        "rival": VoterFactory(
            campaign=other_campaign,
            last_name="Smith",
            first_name="John",
            phone="+19195550123",
            voter_id="NC000123",
            address="123 MAIN ST",
        ),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("smith", {"john", "jane", "lower"}),
        ("SMITHE", {"jane"}),
        ("smith john", {"john"}),
        ("smith, j", {"john", "jane"}),
        ("smithe jo", set()),
        ("NC000123", {"by_id"}),
        ("nc000123", {"by_id"}),
        ("(919) 555-0123", {"jones"}),
        ("919.555.0123", {"jones"}),
        ("+1 919 555 0123", {"jones"}),
        ("123 main", {"main"}),
        ("123 MAIN ST", {"main"}),
        ("mit", set()),  # a prefix, never a substring
    ],
)
def test_voter_search(staff_client, searchable, term, expected):
    response = staff_client.get(VOTERS, {"q": term}, follow=True)

    assert shown(response) == {searchable[k].pk for k in expected}


def test_phone_search_normalizes_to_e164():
    assert phone_e164("(919) 555-0123") == "+19195550123"
    assert phone_e164("555-0123") is None  # no area code: not a number we can look up
    assert phone_e164("smith") is None


def test_voter_search_is_served_by_indexes_on_postgresql(campaign, other_campaign):
    if connection.vendor != "postgresql":
        pytest.skip("index use is a PostgreSQL planner question")
    Voter.objects.bulk_create(
        Voter(
            campaign=campaign if n % 2 else other_campaign,
            voter_id=f"X{n:05d}",
            last_name=f"Name{n:05d}",
            phone=f"+1919555{n:04d}",
        )
        for n in range(4_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE voters_voter")
    own = Voter.objects.filter(campaign_id__in=[campaign.pk])

    by_name = search_voters(own, "smith").explain()
    by_phone = search_voters(own, "(919) 555-0123").explain()

    assert "Index Cond: ((campaign_id = " in by_name
    assert _uses_index(by_name, "voter_last_name_prefix")
    assert "(upper(last_name) ~>=~ 'SMITH'::text)" in by_name
    assert _uses_index(by_name, "uniq_voter_id")
    assert _uses_index(by_phone, "voter_phone")
    assert not _uses_index(by_phone, "voter_last_name_prefix")


def test_voter_search_by_surname_is_served_by_the_index_on_sqlite(campaign, other_campaign):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner: .ci/run runs this on SQLite; PostgreSQL's is checked above")
    Voter.objects.bulk_create(
        Voter(campaign=campaign if n % 2 else other_campaign, voter_id=f"X{n:05d}",
              last_name=("Hill", "Hills", "Hilton", "Hinds", "hillman")[n % 5] + f"{n}")
        for n in range(2_000)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE voters_voter")  # what an import's end does on SQLite
    own = Voter.objects.filter(campaign_id__in=[campaign.pk])

    by_name = search_voters(own, "hill")
    plan = by_name.explain()

    # The range beside the LIKE is what SQLite can search an expression index by.
    assert "voter_last_name_prefix (campaign_id=? AND <expr>>? AND <expr><?)" in plan
    # Own voters are the odd numbers: a fifth of 1,000 per surname; "hill" is Hill, Hills, hillman.
    assert by_name.count() == 600
    assert search_voters(own, "hilt").count() == 200
    assert search_voters(own, "hilz").count() == 0


def _uses_index(plan: str, name: str) -> bool:
    """Whether the plan scans the index or one of its partitions' (voters are partitioned by
    campaign on PostgreSQL, and a partition's copy of an index has a name of its own)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relid::regclass::text FROM pg_partition_tree(%s::regclass)", [name])
        names = [row[0] for row in cursor.fetchall()]
    return any(f" on {n} " in plan or f" on {n}\n" in plan for n in names)


# -- filters ---------------------------------------------------------------------------------


def test_status_and_party_filters(staff_client, campaign, other_campaign):
    active_dem = VoterFactory(campaign=campaign, status="active", party="dem")
    inactive_rep = VoterFactory(campaign=campaign, status="inactive", party="rep")
    active_rep = VoterFactory(campaign=campaign, status="active", party="rep")
    VoterFactory(campaign=other_campaign, status="inactive", party="rep")

    assert shown(staff_client.get(VOTERS, {"status__exact": "inactive"})) == {inactive_rep.pk}
    assert shown(staff_client.get(VOTERS, {"party__exact": "rep"})) == {
        inactive_rep.pk,
        active_rep.pk,
    }
    assert shown(staff_client.get(VOTERS, {"status__exact": "active", "party__exact": "dem"})) == {
        active_dem.pk
    }


def test_precinct_filter_lists_and_filters_own_precincts(staff_client, campaign, other_campaign):
    p01 = VoterFactory.create_batch(2, campaign=campaign, precinct="P01")
    p02 = VoterFactory(campaign=campaign, precinct="P02")
    VoterFactory(campaign=other_campaign, precinct="P99")

    response = staff_client.get(VOTERS, {"precinct": "P01"})
    spec = next(
        f
        for f in response.context["cl"].filter_specs
        if getattr(f, "parameter_name", None) == "precinct"
    )

    assert shown(response) == {v.pk for v in p01}
    assert [value for value, _ in spec.lookup_choices] == ["P01", "P02"]
    assert shown(staff_client.get(VOTERS, {"precinct": "P02"})) == {p02.pk}
    assert shown(staff_client.get(VOTERS, {"precinct": "P99"})) == set()


def test_age_band_filter(staff_client, campaign):
    today = timezone.localdate()
    turns_24_today = VoterFactory(campaign=campaign, birth_date=years_before(today, 24))
    day_short_of_25 = VoterFactory(
        campaign=campaign, birth_date=years_before(today, 25) + dt.timedelta(days=1)
    )
    turns_25_today = VoterFactory(campaign=campaign, birth_date=years_before(today, 25))
    year_only_30 = VoterFactory(campaign=campaign, birth_date=None, birth_year=today.year - 30)
    aged_70 = VoterFactory(campaign=campaign, birth_date=years_before(today, 70))
    VoterFactory(campaign=campaign, birth_date=None, birth_year=None)

    assert shown(staff_client.get(VOTERS, {"age": "18-24"})) == {
        turns_24_today.pk,
        day_short_of_25.pk,
    }
    assert shown(staff_client.get(VOTERS, {"age": "25-34"})) == {
        turns_25_today.pk,
        year_only_30.pk,
    }
    assert shown(staff_client.get(VOTERS, {"age": "35-49"})) == set()
    assert shown(staff_client.get(VOTERS, {"age": "65+"})) == {aged_70.pk}


@pytest.mark.parametrize(
    "today", [dt.date(2024, 2, 29), dt.date(2023, 2, 28), dt.date(2023, 3, 1), dt.date(2025, 1, 1)]
)
def test_age_bands_agree_with_voter_age_on(campaign, today):
    # Each band's edges (the day before, of and after a birthday), plus leap-day births.
    births = [
        years_before(today, years) + dt.timedelta(days=shift)
        for years in (18, 25, 35, 50, 65)
        for shift in (-1, 0, 1)
    ]
    births += [dt.date(2000, 2, 29), dt.date(1960, 2, 29)]
    voters = [VoterFactory(campaign=campaign, birth_date=b) for b in births]
    voters += [VoterFactory(campaign=campaign, birth_date=None, birth_year=today.year - 24)]

    for band, (low, high) in AGE_BANDS.items():
        expected = {
            v.pk
            for v in voters
            if low <= v.age_on(today) and (high is None or v.age_on(today) <= high)
        }
        matched = set(
            Voter.objects.filter(age_between(low, high, today)).values_list("pk", flat=True)
        )
        assert matched == expected, band


def test_voted_in_election_filter(staff_client, campaign, other_campaign):
    election = ElectionFactory(campaign=campaign, label="General 2024")
    earlier = ElectionFactory(campaign=campaign, label="Primary 2024")
    voted = VoterFactory(campaign=campaign)
    recorded_no = VoterFactory(campaign=campaign)
    no_record = VoterFactory(campaign=campaign)
    voted_earlier_only = VoterFactory(campaign=campaign)
    VoteRecordFactory(voter=voted, election=election, voted=True)
    VoteRecordFactory(voter=recorded_no, election=election, voted=False)
    VoteRecordFactory(voter=voted_earlier_only, election=earlier, voted=True)
    foreign = ElectionFactory(campaign=other_campaign, label="Rival general")
    VoterFactory(campaign=other_campaign)

    yes = staff_client.get(VOTERS, {"voted_in": f"{election.pk}:yes"})
    no = staff_client.get(VOTERS, {"voted_in": f"{election.pk}:no"})
    spec = next(
        f
        for f in yes.context["cl"].filter_specs
        if getattr(f, "parameter_name", None) == "voted_in"
    )

    assert shown(yes) == {voted.pk}
    assert shown(no) == {recorded_no.pk, no_record.pk, voted_earlier_only.pk}
    assert shown(staff_client.get(VOTERS, {"voted_in": f"{foreign.pk}:no"})) == set()
    assert {value for value, _ in spec.lookup_choices} == {
        f"{election.pk}:yes",
        f"{election.pk}:no",
        f"{earlier.pk}:yes",
        f"{earlier.pk}:no",
    }


def test_voted_in_filter_lists_each_election_once_per_campaign_named_with_it(
    client, campaign, other_campaign, make_member
):
    user = make_member(campaign, "staff", username="both")
    MembershipFactory(user=user, campaign=other_campaign, role="staff")
    day = dt.date(2024, 11, 5)
    home = ElectionFactory(campaign=campaign, election_on=day, election_type="general", label="")
    rival = ElectionFactory(
        campaign=other_campaign, election_on=day, election_type="general", label=""
    )
    client.force_login(user)

    def choices(params: dict) -> list[tuple[str, str]]:
        response = client.get(VOTERS, params)
        spec = next(
            f
            for f in response.context["cl"].filter_specs
            if getattr(f, "parameter_name", None) == "voted_in"
        )
        return list(spec.lookup_choices)

    assert choices({}) == [
        (f"{home.pk}:yes", "2024-11-05 General (Home campaign): voted"),
        (f"{home.pk}:no", "2024-11-05 General (Home campaign): did not vote"),
        (f"{rival.pk}:yes", "2024-11-05 General (Rival campaign): voted"),
        (f"{rival.pk}:no", "2024-11-05 General (Rival campaign): did not vote"),
    ]
    # Once a campaign is chosen, only its elections, with no campaign to tell apart.
    assert choices({"campaign__id__exact": other_campaign.pk}) == [
        (f"{rival.pk}:yes", "2024-11-05 General: voted"),
        (f"{rival.pk}:no", "2024-11-05 General: did not vote"),
    ]


def test_voted_in_filter_names_no_campaign_for_a_one_campaign_user(staff_client, campaign):
    election = ElectionFactory(campaign=campaign, election_on=dt.date(2024, 11, 5), label="")
    ElectionFactory(campaign=CampaignFactory(slug="third"), election_on=dt.date(2024, 11, 5))

    response = staff_client.get(VOTERS)
    spec = next(
        f
        for f in response.context["cl"].filter_specs
        if getattr(f, "parameter_name", None) == "voted_in"
    )

    assert [label for _, label in spec.lookup_choices] == [
        f"{election}: voted",
        f"{election}: did not vote",
    ]


def test_changelist_count_is_exact_up_to_the_limit_then_estimated(
    staff_client, campaign, monkeypatch
):
    monkeypatch.setattr(BoundedCountPaginator, "exact_limit", 3)
    VoterFactory.create_batch(5, campaign=campaign)

    cl = staff_client.get(VOTERS).context["cl"]

    assert len(cl.result_list) == 5
    if connection.vendor == "postgresql":
        assert cl.result_count >= 4  # the planner's estimate, never below the exact limit
    else:
        assert cl.result_count == 5  # the embedded database counts


# -- the voter page --------------------------------------------------------------------------


def test_voter_page_shows_household_members_and_vote_history_newest_first(staff_client, campaign):
    household = HouseholdFactory(campaign=campaign)
    voter = VoterFactory(campaign=campaign, household=household, extra={"party_code": "D"})
    roommate = VoterFactory(campaign=campaign, household=household, voter_id="ROOM0001")
    VoterFactory(campaign=campaign, voter_id="ELSEWHERE1")
    old = ElectionFactory(campaign=campaign, election_on=dt.date(2016, 11, 8), label="Gen 2016")
    new = ElectionFactory(campaign=campaign, election_on=dt.date(2020, 11, 3), label="Gen 2020")
    VoteRecordFactory(voter=voter, election=old, method="mail")
    VoteRecordFactory(voter=voter, election=new, method="early")

    response = staff_client.get(reverse("admin:voters_voter_change", args=[voter.pk]))
    html = response.content.decode()

    assert response.status_code == 200
    assert reverse("admin:voters_voter_change", args=[roommate.pk]) in html
    assert "ROOM0001" in html
    assert "ELSEWHERE1" not in html
    assert html.index("Gen 2020") < html.index("Gen 2016")
    assert "Early in person" in html
    assert "By mail" in html
    assert "&quot;party_code&quot;: &quot;D&quot;" in html


def test_voter_page_speaks_plainly(staff_client, campaign):
    voter = VoterFactory(
        campaign=campaign, voter_id="NC0042", first_name="Ann", middle_name="", last_name="Lee",
        suffix="",
    )  # fmt: skip
    unlabelled = ElectionFactory(
        campaign=campaign, election_on=dt.date(2024, 3, 5), election_type="primary", label=""
    )
    labelled = ElectionFactory(
        campaign=campaign, election_on=dt.date(2024, 11, 5), label="General 2024"
    )
    VoteRecordFactory(voter=voter, election=unlabelled, party="REP", method="polls")
    VoteRecordFactory(voter=voter, election=labelled, party="", method="mail")
    arm = ProgramArmFactory(name="social_pressure")
    AssignmentFactory(voter=voter, program=arm.program, arm=arm)

    response = staff_client.get(reverse("admin:voters_voter_change", args=[voter.pk]))
    html = response.content.decode()

    assert response.context["title"] == "Ann Lee"
    assert response.context["subtitle"] == "Voter NC0042, Home campaign"
    assert "<title>Ann Lee | Voter NC0042, Home campaign |" in html
    # The election on every row, by label or by date and type; the ballot party in words.
    assert "<td>General 2024</td><td>yes</td><td>By mail</td><td></td>" in html
    assert "<td>2024-03-05 Primary</td><td>yes</td><td>At the polls</td><td>Republican</td>" in html
    assert "<td>Social pressure</td><td>no</td>" in html  # the arm by its label
    assert "social_pressure" not in html


def test_consent_form_sits_with_the_consent_table(staff_client, campaign):
    voter = VoterFactory(campaign=campaign)

    html = staff_client.get(reverse("admin:voters_voter_change", args=[voter.pk])).text

    table = html.index("Current consent per channel")
    form = html.index("Record a consent change")
    assert table < form < html.index(">Timeline</h2>")
    assert 'form="voter-consent"' in html[form : html.index(">Timeline</h2>")]
    consent_url = reverse("admin:voters_voter_consent", args=[voter.pk])
    assert f'<form id="voter-consent" action="{consent_url}" method="post"' in html


def test_voter_changelist_query_count_does_not_grow_with_voters(
    staff_client, campaign, django_assert_num_queries
):
    election = ElectionFactory(campaign=campaign)

    def add_voters(n: int) -> None:
        for _ in range(n):
            voter = VoterFactory(campaign=campaign, household=HouseholdFactory(campaign=campaign))
            VoteRecordFactory(voter=voter, election=election)

    add_voters(5)
    staff_client.get(VOTERS)  # the session's first touch may write
    with django_assert_num_queries(VOTER_CHANGELIST_QUERIES):
        assert len(shown(staff_client.get(VOTERS))) == 5
    add_voters(45)
    with django_assert_num_queries(VOTER_CHANGELIST_QUERIES):
        assert len(shown(staff_client.get(VOTERS))) == 50


def test_voter_page_query_count_does_not_grow_with_history(
    staff_client, campaign, django_assert_num_queries
):
    household = HouseholdFactory(campaign=campaign)
    voter = VoterFactory(campaign=campaign, household=household)
    VoterFactory.create_batch(2, campaign=campaign, household=household)
    url = reverse("admin:voters_voter_change", args=[voter.pk])

    def add_history(n: int) -> None:
        for _ in range(n):
            VoteRecordFactory(voter=voter, election=ElectionFactory(campaign=campaign))

    add_history(2)
    staff_client.get(url)
    with django_assert_num_queries(VOTER_PAGE_QUERIES):
        assert staff_client.get(url).status_code == 200
    add_history(18)
    with django_assert_num_queries(VOTER_PAGE_QUERIES):
        response = staff_client.get(url)
    assert response.content.decode().count("At the polls") == 20


# -- households ------------------------------------------------------------------------------


def test_household_changelist_counts_members_of_own_households(
    staff_client, campaign, other_campaign
):
    home = HouseholdFactory(campaign=campaign, address="12 ELM ST")
    members = VoterFactory.create_batch(3, campaign=campaign, household=home)
    VoterFactory(campaign=campaign)
    HouseholdFactory(campaign=other_campaign, address="12 ELM ST")

    response = staff_client.get(reverse("admin:voters_household_changelist"))
    page = staff_client.get(reverse("admin:voters_household_change", args=[home.pk]))

    assert shown(response) == {home.pk}
    assert [h.member_total for h in response.context["cl"].result_list] == [3]
    assert len(re.findall(r'href="/admin/voters/voter/\d+/change/"', page.content.decode())) == 3
    assert shown(
        staff_client.get(reverse("admin:voters_household_changelist"), {"q": "12 elm"}, follow=True)
    ) == {home.pk}
    # the page's "All members" link for big households
    assert shown(staff_client.get(VOTERS, {"household__id__exact": home.pk})) == {
        v.pk for v in members
    }


# -- imports ---------------------------------------------------------------------------------


def test_import_run_changelist_shows_own_runs(staff_client, campaign, other_campaign):
    own = ImportRunFactory(campaign=campaign, created=10, status="failed")
    ImportRunFactory(campaign=other_campaign)

    response = staff_client.get(reverse("admin:voters_importrun_changelist"))

    assert shown(response) == {own.pk}
    assert "#c62828" in response.content.decode()  # failed is red


def test_running_import_page_shows_progress_and_refreshes(staff_client, campaign, monkeypatch):
    run = ImportRunFactory(campaign=campaign, status=ImportStatus.RUNNING)
    monkeypatch.setattr(
        "voters.admin.import_progress",
        lambda pk: (
            {"phase": "loading", "rows_read": 12345, "share": 0.4213} if pk == run.pk else None
        ),
    )

    response = staff_client.get(reverse("admin:voters_importrun_change", args=[run.pk]))
    html = response.content.decode()

    assert "loading: 12,345 rows read, 42% of the file" in html
    assert '<meta http-equiv="refresh" content="3">' in html


def test_finished_import_page_does_not_refresh(staff_client, campaign):
    run = ImportRunFactory(campaign=campaign, status=ImportStatus.SUCCEEDED)

    response = staff_client.get(reverse("admin:voters_importrun_change", args=[run.pk]))

    assert response.status_code == 200
    assert 'http-equiv="refresh"' not in response.content.decode()


def test_import_page_shows_first_rejected_rows_and_links_to_all(staff_client, campaign):
    run = ImportRunFactory(campaign=campaign, status="failed", rejected=205)
    RejectedRow.objects.bulk_create(
        RejectedRow(
            import_run=run,
            file_name="voters.csv",
            line_number=n,
            raw=f"raw-line-{n}",
            errors=[{"field": "birth_date", "reason": "not a date"}],
        )
        for n in range(2, 207)
    )
    other_run = ImportRunFactory(campaign=campaign)
    RejectedRow.objects.create(import_run=other_run, file_name="v.csv", line_number=9, raw="x")

    page = staff_client.get(reverse("admin:voters_importrun_change", args=[run.pk])).content
    html = page.decode()
    listing = staff_client.get(
        reverse("admin:voters_rejectedrow_changelist"), {"import_run__id__exact": run.pk}
    )

    assert html.count("<code>raw-line-") == 200
    assert "raw-line-201" in html
    assert "raw-line-202" not in html
    assert "birth_date: not a date" in html
    assert f"?import_run__id__exact={run.pk}" in html
    assert listing.context["cl"].result_count == 205


def test_rejected_rows_of_foreign_runs_are_not_listed(staff_client, campaign, other_campaign):
    RejectedRow.objects.create(
        import_run=ImportRunFactory(campaign=other_campaign), file_name="f", line_number=1, raw="r"
    )

    response = staff_client.get(reverse("admin:voters_rejectedrow_changelist"))

    assert shown(response) == set()


def test_upload_form_offers_only_campaigns_where_user_may_import(
    staff_client, staff_user, campaign, other_campaign
):
    MembershipFactory(user=staff_user, campaign=other_campaign, role=Role.VIEWER)

    response = staff_client.get(reverse("admin:voters_importrun_add"))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields["campaign"].queryset) == [campaign]


def test_viewer_cannot_upload(client, campaign):
    viewer = UserFactory(username="viewer")
    MembershipFactory(user=viewer, campaign=campaign, role=Role.VIEWER)
    client.force_login(viewer)

    assert client.get(reverse("admin:voters_importrun_add")).status_code == 403


def test_upload_to_a_foreign_campaign_is_refused(
    staff_client, other_campaign, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("voters.csv", b"voter_id,first_name,last_name,zip\nA1,A,B,27701\n")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            reverse("admin:voters_importrun_add"),
            {
                "campaign": other_campaign.pk,
                "kind": "voters",
                "layout": "generic",
                "mode": "strict",
                "file": upload,
            },
        )

    assert response.status_code == 200
    assert "campaign" in response.context["adminform"].form.errors
    assert callbacks == []
    assert ImportRun.objects.count() == 0
    assert Voter.objects.count() == 0


def test_upload_form_queues_and_runs_the_import(
    staff_client, staff_user, campaign, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile(
        "county.csv",
        b"voter_id,first_name,last_name,zip\n"
        b"A0001,Ann,Lee,27701\n"
        b"A0002,Bo,Ng,27701\n"
        b"A0003,Cy,Ox,27705\n",
        content_type="text/csv",
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            reverse("admin:voters_importrun_add"),
            {
                "campaign": campaign.pk,
                "kind": "voters",
                "layout": "generic",
                "mode": "strict",
                "file": upload,
            },
        )

    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:voters_importrun_change", args=[run.pk])
    assert len(callbacks) == 1
    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert (run.created, run.rejected, run.is_full) == (3, 0, False)
    assert run.created_by == staff_user
    assert run.file_names == ["county.csv"]
    assert sorted(Voter.objects.filter(campaign=campaign).values_list("voter_id", flat=True)) == [
        "A0001",
        "A0002",
        "A0003",
    ]


def test_import_run_page_shows_seconds_per_phase(staff_client, campaign):
    run = ImportRunFactory(
        campaign=campaign, timings={"parse_and_stage": 2.04, "insert_voters": 3.5}
    )

    response = staff_client.get(reverse("admin:voters_importrun_change", args=[run.pk]))

    assert response.status_code == 200
    assert "parse and stage 2.0, insert voters 3.5" in response.content.decode()
