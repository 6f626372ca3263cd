"""Each state layout through the real importer into the database (parsing itself: test_layouts)."""

from __future__ import annotations

import datetime as dt

from campaign.models import Election
from tests.voters.test_layouts import NC_CURRENT, fl_voter, nc_line, nc_voter, oh_file, write
from voters.models import Household, Voter, VoteRecord
from voters.services import import_vote_history, import_voter_file


def test_florida_extract_and_history(campaign, tmp_path):
    extract = write(
        tmp_path,
        "ALA_20240109.txt",
        "\n".join([fl_voter(Voter_ID="100"), fl_voter(Voter_ID="101", Name_First="JOHN")]) + "\n",
    )
    history = write(
        tmp_path,
        "ALA_H_20240109.txt",
        "ALA\t100\t11/08/2022\tGEN\tE\n"
        "ALA\t101\t11/08/2022\tGEN\tN\n"
        "ALA\t999\t11/08/2022\tGEN\tY\n"  # a voter no longer in the extract
        "ALA\t100\t08/23/2022\tPRI\tA\n",
    )

    voters_run = import_voter_file(campaign=campaign, paths=[extract], layout="fl")
    history_run = import_vote_history(campaign=campaign, paths=[history], layout="fl")

    assert (voters_run.created, voters_run.households_created) == (2, 1)
    jane = Voter.objects.get(voter_id="100")
    assert (jane.phone, jane.email, jane.party, jane.race) == (
        "+13525551234", "jane@example.com", "una", "hispanic",
    )  # fmt: skip
    assert (history_run.created, history_run.orphaned, history_run.elections_created) == (3, 1, 2)
    records = VoteRecord.objects.order_by("voter__voter_id", "election__election_on")
    assert [(r.voter.voter_id, r.election.election_type, r.method, r.voted) for r in records] == [
        ("100", "primary", "mail", True),
        ("100", "general", "early", True),
        ("101", "general", None, False),
    ]


def test_ohio_file_gives_voters_and_their_history(campaign, tmp_path):
    path = oh_file(tmp_path)

    voters_run = import_voter_file(campaign=campaign, paths=[path], layout="oh")
    history_run = import_vote_history(campaign=campaign, paths=[path], layout="oh")

    assert voters_run.created == 2
    assert (history_run.created, history_run.orphaned) == (3, 0)
    assert sorted(
        Election.objects.filter(campaign=campaign).values_list("election_on", "election_type")
    ) == [
        (dt.date(2016, 5, 3), "primary"),
        (dt.date(2016, 11, 8), "general"),
        (dt.date(2018, 8, 7), "special"),
    ]
    assert (
        VoteRecord.objects.get(voter__voter_id="OH001", election__election_type="primary").party
        == "D"
    )


def test_nc_voters_at_one_address_share_a_household_whatever_the_spacing(campaign, tmp_path):
    lines = [
        nc_line(NC_CURRENT, **nc_voter(ncid="N1", res_street_address="12 N MAIN ST APT 4")),
        nc_line(
            NC_CURRENT, **nc_voter(ncid="N2", res_street_address="12  NORTH MAIN STREET  APT 4")
        ),
        nc_line(NC_CURRENT, **nc_voter(ncid="N3", res_street_address="12 N MAIN ST APT 5")),
    ]
    path = write(tmp_path, "ncvoter_1.txt", "\n".join(["\t".join(NC_CURRENT), *lines]) + "\n")

    run = import_voter_file(campaign=campaign, paths=[path], layout="nc")

    households = dict(Voter.objects.values_list("voter_id", "household_id"))
    assert run.households_created == 2 == Household.objects.count()
    assert households["N1"] == households["N2"] != households["N3"]
