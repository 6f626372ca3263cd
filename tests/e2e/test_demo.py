"""The demo command runs the whole foundation end to end on a small generated county."""

from __future__ import annotations

import re

from django.contrib.auth import authenticate
from django.core.management import call_command

from campaign.models import Campaign, Election, Membership
from voters.models import ImportRun, Voter, VoteRecord


def test_demo_imports_a_generated_county_in_both_layouts(db, tmp_path, capsys):
    call_command("demo", voters=1_500, seed=7, out=tmp_path / "county")

    out = capsys.readouterr().out
    generic, nc = Campaign.objects.get(slug="demo"), Campaign.objects.get(slug="demo-nc")
    header = (tmp_path / "county" / "voters.csv").read_text().splitlines()
    assert Voter.objects.filter(campaign=generic).count() == len(header) - 1 == 1_500
    assert Voter.objects.filter(campaign=nc).count() == 1_500
    # Both layouts describe the same people: the same ids, parties and households (NC, like the
    # state's file, blanks the address of removed voters).
    fields = (
        "voter_id",
        "party",
        "status",
        "birth_year",
        "zip5",
        "address_key",
        "phone",
        "gender",
        "race",
        "ethnicity",
        "registered_on",
        "precinct",
    )
    listed = Voter.objects.exclude(status="removed").order_by("voter_id")
    assert list(listed.filter(campaign=generic).values_list(*fields)) == list(
        listed.filter(campaign=nc).values_list(*fields)
    )
    assert (
        VoteRecord.objects.filter(campaign=generic).count()
        == VoteRecord.objects.filter(campaign=nc).count()
        > 0
    )
    assert Election.objects.filter(campaign=generic).count() == 13
    runs = ImportRun.objects.order_by("pk")
    assert [(r.kind, r.layout, r.status, r.rejected) for r in runs] == [
        ("voters", "generic", "succeeded", 0),
        ("history", "generic", "succeeded", 0),
        ("voters", "nc", "succeeded", 0),
        ("history", "nc", "succeeded", 0),
    ]
    assert runs[1].orphaned == runs[3].orphaned > 0

    password = re.search(r"user demo  password (\S+)", out).group(1)
    user = authenticate(username="demo", password=password)
    assert user is not None
    assert (user.is_staff, user.is_superuser) == (True, False)
    assert set(Membership.objects.filter(user=user).values_list("campaign__slug", "role")) == {
        ("demo", "admin"),
        ("demo-nc", "admin"),
    }
