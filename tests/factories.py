"""factory-boy factories for the models tests need; traits name the interesting cases."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from campaign.models import Campaign, Election, Membership, Role
from voters.models import Household, ImportRun, Voter, VoteRecord


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Campaign {n}")
    slug = factory.Sequence(lambda n: f"campaign-{n}")
    state = "NC"
    time_zone = "America/New_York"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")
    is_staff = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    campaign = factory.SubFactory(CampaignFactory)
    role = Role.STAFF


class ElectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Election

    campaign = factory.SubFactory(CampaignFactory)
    election_on = factory.Sequence(lambda n: dt.date(2010 + 2 * (n % 8), 11, 2 + n % 5))
    election_type = "general"
    state = "NC"


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    campaign = factory.SubFactory(CampaignFactory)
    address_key = factory.Sequence(lambda n: f"{n}|MAIN ST||27701")
    address = factory.Sequence(lambda n: f"{n} MAIN ST")
    zip5 = "27701"


class VoterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Voter

    class Params:
        removed = factory.Trait(status="removed", status_raw="R")

    campaign = factory.SubFactory(CampaignFactory)
    voter_id = factory.Sequence(lambda n: f"V{n:07d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    birth_date = factory.Faker("date_of_birth", minimum_age=18, maximum_age=95)
    birth_year = factory.LazyAttribute(lambda v: v.birth_date.year if v.birth_date else None)
    gender = "female"
    party = "dem"
    status = "active"
    status_raw = "A"
    precinct = "P01"
    zip5 = "27701"


class VoteRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VoteRecord

    voter = factory.SubFactory(VoterFactory)
    campaign = factory.LazyAttribute(lambda r: r.voter.campaign)
    election = factory.SubFactory(ElectionFactory, campaign=factory.SelfAttribute("..campaign"))
    voted = True
    method = "polls"


class ImportRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportRun

    campaign = factory.SubFactory(CampaignFactory)
    kind = "voters"
    layout = "generic"
    status = "succeeded"
    file_names = factory.LazyFunction(lambda: ["voters.csv"])
