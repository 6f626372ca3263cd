"""factory-boy factories for the models tests need; traits name the interesting cases."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from campaign.models import AuditEvent, Campaign, Election, Membership, Role
from voters.models import (
    Assignment,
    ConsentEvent,
    ContactAttempt,
    Household,
    ImportRun,
    Program,
    ProgramArm,
    SurveyOption,
    SurveyQuestion,
    SurveyResponse,
    Voter,
    VoteRecord,
)


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
    phone = factory.Sequence(lambda n: f"+1919555{n % 10_000:04d}")
    email = factory.Sequence(lambda n: f"voter{n}@example.org")
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


def _at(n: int) -> dt.datetime:
    return dt.datetime(2024, 10, 1, 12, 0, tzinfo=dt.UTC) + dt.timedelta(hours=n)


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        django_get_or_create = ("campaign", "name")

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"program-{n}")


class ProgramArmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgramArm
        django_get_or_create = ("program", "name")

    class Params:
        control = factory.Trait(name="control", is_control=True)

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"variant-{n}")


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    voter = factory.SubFactory(VoterFactory)
    campaign = factory.LazyAttribute(lambda a: a.voter.campaign)
    program = factory.SubFactory(ProgramFactory, campaign=factory.SelfAttribute("..campaign"))
    arm = factory.SubFactory(ProgramArmFactory, program=factory.SelfAttribute("..program"))
    assigned_at = factory.Sequence(_at)


class ContactAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactAttempt

    voter = factory.SubFactory(VoterFactory)
    campaign = factory.LazyAttribute(lambda c: c.voter.campaign)
    channel = "door"
    result = "contacted"
    occurred_at = factory.Sequence(_at)
    source = "staff"
    dedupe_key = factory.Sequence(lambda n: f"{n:032x}")


class SurveyQuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyQuestion
        django_get_or_create = ("campaign", "slug")

    campaign = factory.SubFactory(CampaignFactory)
    slug = factory.Sequence(lambda n: f"question-{n}")
    text = "Which issue matters most to you?"
    kind = "choice"


class SurveyOptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyOption
        django_get_or_create = ("question", "code")

    question = factory.SubFactory(SurveyQuestionFactory)
    code = factory.Sequence(lambda n: f"opt{n}")
    label = factory.LazyAttribute(lambda o: o.code.title())


class SurveyResponseFactory(factory.django.DjangoModelFactory):
    """An answer to the campaign's built-in support question unless `option` is given."""

    class Meta:
        model = SurveyResponse

    class Params:
        support = "1"

    voter = factory.SubFactory(VoterFactory)
    campaign = factory.LazyAttribute(lambda r: r.voter.campaign)
    question = factory.LazyAttribute(
        lambda r: SurveyQuestion.objects.get(campaign=r.campaign, slug="support")
    )
    option = factory.LazyAttribute(lambda r: r.question.options.get(code=r.support))
    answered_at = factory.Sequence(_at)
    source = "staff"


class ConsentEventFactory(factory.django.DjangoModelFactory):
    """An SMS opt-out of the voter's phone (write real ones through voters.consent)."""

    class Meta:
        model = ConsentEvent

    voter = factory.SubFactory(VoterFactory)
    campaign = factory.LazyAttribute(lambda e: e.voter.campaign)
    channel = "sms"
    address = factory.LazyAttribute(lambda e: e.voter.phone)
    kind = "opt_out"
    source = "stop_reply"
    occurred_at = factory.Sequence(_at)


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    campaign = factory.SubFactory(CampaignFactory)
    action = "export"
    object_type = "voters.voter"
    row_count = 10
