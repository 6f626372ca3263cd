"""factory-boy factories for the models tests need; traits name the interesting cases."""

from __future__ import annotations

import datetime as dt
import uuid

import factory
from django.contrib.auth import get_user_model

from campaign.models import AuditEvent, Campaign, Election, Membership, Role
from messaging.models import (
    EmailMessage,
    EmailSettings,
    FieldResult,
    MessageVariant,
    PausedVariant,
    ProgramDesign,
    SmsInbound,
    SmsMessage,
    SmsSettings,
    SmsWindowProfile,
    Turf,
)
from scoring.models import (
    ModelKind,
    ModelStatus,
    ModelVersion,
    RunStatus,
    ScoringChunk,
    ScoringRun,
    VoterScore,
)
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
    # 555-2000 to 555-9999: clear of the numbers tests spell out (555-0001, 555-0123, 555-1234...),
    # so a test's voters never share a phone whatever ran before it.
    phone = factory.Sequence(lambda n: f"+1919555{2_000 + n % 8_000:04d}")
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


# -- scoring -------------------------------------------------------------------------------------


def _turnout_metrics() -> dict:
    """Held-out metrics shaped as `scoring.ml.train_classifier` saves them."""
    return {
        "auc": 0.712,
        "log_loss": 0.581,
        "brier": 0.198,
        "uncalibrated": {"auc": 0.712, "log_loss": 0.603, "brier": 0.207},
        "sizes": [
            {"max_depth": 2, "trees": 100, "auc": 0.701},
            {"max_depth": 4, "trees": 100, "auc": 0.709},
            {"max_depth": 6, "trees": 300, "auc": 0.711},
        ],
        "auc_given_up": 0.002,
        "n_train": 600,
        "n_validation": 200,
        "n_test": 200,
        "base_rate": 0.55,
        "reliability": [
            {"bin": 1, "predicted": 0.16, "observed": 0.12, "n": 30},
            {"bin": 4, "predicted": 0.45, "observed": 0.47, "n": 90},
            {"bin": 8, "predicted": 0.84, "observed": 0.86, "n": 80},
        ],
    }


def _policy(name: str, value: float) -> dict:
    return {
        "policy": name,
        "ips": value + 0.001,
        "ips_ci": [value - 0.03, value + 0.03],
        "dr": value,
        "dr_ci": [value - 0.02, value + 0.02],
    }


def _persuasion_metrics() -> dict:
    """Out-of-fold evaluation shaped as `scoring.services.evaluate_uplift` saves it."""
    return {
        "n": 1000,
        "arms": {
            "door": {
                "ate_dr": 0.031,
                "qini": 0.0123,
                "uplift_top_10": 0.08,
                "uplift_top_20": 0.06,
                "uplift_top_30": 0.05,
            },
        },
        "policies": [
            _policy("everyone: control", 0.41),
            _policy("everyone: door", 0.44),
            _policy("personalized", 0.452),
            _policy("each voter's best arm", 0.449),
            _policy("random assignment", 0.425),
        ],
        "best_single_arm": "door",
        "margin": 0.01,
        "margin_by_fold": [{"fold": 0, "default_arm": 1, "margin": 0.012}],
        "personalized_gain": {
            "policy": "personalized minus best single arm",
            "ips": 0.013,
            "ips_ci": [-0.004, 0.03],
            "dr": 0.012,
            "dr_ci": [0.002, 0.022],
        },
        "share_departing": 0.2,
        "uplift_size": {"max_depth": 2, "n_estimators": 120},
        "uplift_sizes": [
            {
                "max_depth": 1,
                "n_estimators": 100,
                "dr_mse": 1.2504,
                "above_best": 0.0031,
                "se": 0.0009,
            },
            {"max_depth": 2, "n_estimators": 120, "dr_mse": 1.2473, "above_best": 0.0, "se": 0.0},
        ],
        "backlash_share": 0.05,
    }


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A draft turnout model; `approved=True` and `persuasion=True` name the other cases."""

    class Meta:
        model = ModelVersion

    class Params:
        approved = factory.Trait(
            status=ModelStatus.APPROVED,
            approved_at=factory.LazyFunction(lambda: dt.datetime.now(tz=dt.UTC)),
        )
        persuasion = factory.Trait(
            kind=ModelKind.PERSUASION,
            program=factory.SubFactory(
                ProgramFactory, campaign=factory.SelfAttribute("..campaign")
            ),
            metrics=factory.LazyFunction(_persuasion_metrics),
            params={"learner": "DR-learner", "folds": 5, "seed": 0},
            model_card="## Persuasion model\n\n**Predicts**, per message arm, the change.",
        )

    campaign = factory.SubFactory(CampaignFactory)
    kind = ModelKind.TURNOUT
    status = ModelStatus.DRAFT
    election = factory.SubFactory(ElectionFactory, campaign=factory.SelfAttribute("..campaign"))
    features_as_of = factory.LazyAttribute(lambda v: v.election.election_on)
    feature_spec = factory.LazyFunction(lambda: {"version": 1, "names": ["age", "general_voted"]})
    params = factory.LazyFunction(lambda: {"max_depth": 4, "trees": 100, "eta": 0.1})
    metrics = factory.LazyFunction(_turnout_metrics)
    model_card = (
        "## Turnout model\n\n**Predicts** the probability that a voter casts a ballot.\n\n"
        "**Metrics**\n- held-out AUC 0.712\n\n**Limits**: scores describe groups, not people."
    )
    artifact = b""


class ScoringRunFactory(factory.django.DjangoModelFactory):
    """A complete run of two chunks of 50 voters (add the chunks with ScoringChunkFactory)."""

    class Meta:
        model = ScoringRun

    campaign = factory.SubFactory(CampaignFactory)
    status = RunStatus.COMPLETE
    as_of = dt.date(2024, 11, 5)
    chunks_total = 2
    voters_total = 100
    started_at = factory.Sequence(_at)
    finished_at = factory.LazyAttribute(lambda r: r.started_at + dt.timedelta(seconds=20))


class ScoringChunkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringChunk

    run = factory.SubFactory(ScoringRunFactory)
    first_pk = factory.Sequence(lambda n: 1 + 50 * n)
    last_pk = factory.LazyAttribute(lambda c: c.first_pk + 49)
    voters = 50
    seconds = 1.5
    done_at = factory.LazyAttribute(lambda c: c.run.started_at + dt.timedelta(seconds=10))


class VoterScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VoterScore

    run = factory.SubFactory(ScoringRunFactory)
    voter = factory.SubFactory(VoterFactory, campaign=factory.SelfAttribute("..run.campaign"))
    turnout = 0.62
    support = 0.48
    uplift = factory.LazyFunction(lambda: {"door": 0.03})
    best_arm = "door"
    reasons = factory.LazyFunction(
        lambda: {"turnout": [["voted in 3 of the last 4 general elections", 0.12]]}
    )


# -- messaging -----------------------------------------------------------------------------------


class MessageVariantFactory(factory.django.DjangoModelFactory):
    """An unused door script, version 1 (`sms=True`, `email=True` and `used=True` name the rest).

    Write real ones through messaging.services, which check the templates."""

    class Meta:
        model = MessageVariant

    class Params:
        sms = factory.Trait(
            channel="sms",
            body="Hi {{ voter.first_name }}, it's {{ sender.name }}. Reply STOP to opt out.",
        )
        email = factory.Trait(
            channel="email",
            subject="{{ voter.first_name }}, your polling place",
            body="Vote at {{ voter.polling_place|default:'your polling place' }}.",
            html_body="<p>Vote at {{ voter.polling_place|default:'your polling place' }}.</p>",
        )
        used = factory.Trait(used_at=factory.LazyFunction(lambda: dt.datetime.now(tz=dt.UTC)))

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"script-{n}")
    channel = "door"
    body = "Hi {{ voter.first_name }}, I'm with {{ sender.name }}."


class ProgramDesignFactory(factory.django.DjangoModelFactory):
    """A draft uniform door program with no arms (write real ones through messaging.programs)."""

    class Meta:
        model = ProgramDesign

    campaign = factory.SubFactory(CampaignFactory)
    program = factory.SubFactory(ProgramFactory, campaign=factory.SelfAttribute("..campaign"))
    channel = "door"
    policy = "uniform"
    control_share = 0.1
    seed = factory.Sequence(lambda n: n)


class FieldResultFactory(factory.django.DjangoModelFactory):
    """A not-home sent from a phone (record real ones through messaging.field)."""

    class Meta:
        model = FieldResult

    campaign = factory.SubFactory(CampaignFactory)
    key = factory.LazyFunction(uuid.uuid4)
    organizer = factory.SubFactory(UserFactory)
    design = factory.SubFactory(ProgramDesignFactory, campaign=factory.SelfAttribute("..campaign"))
    turf_ref = 1
    voter = factory.SubFactory(VoterFactory, campaign=factory.SelfAttribute("..campaign"))
    outcome = "not_home"
    recorded_at = factory.Sequence(_at)
    contact_attempt = factory.SubFactory(
        ContactAttemptFactory, voter=factory.SelfAttribute("..voter"), result="not_home"
    )
    response = factory.LazyAttribute(lambda r: {"key": str(r.key), "status": "recorded"})


class TurfFactory(factory.django.DjangoModelFactory):
    """An empty turf of a draft door program (cut real ones with messaging.canvassing)."""

    class Meta:
        model = Turf

    campaign = factory.SubFactory(CampaignFactory)
    design = factory.SubFactory(ProgramDesignFactory, campaign=factory.SelfAttribute("..campaign"))
    name = factory.Sequence(lambda n: f"P01-{n + 1:03d}")
    precinct = "P01"
    method = "geography"
    rank = factory.Sequence(lambda n: n + 1)
    doors = 0
    voters = 0
    min_doors = 40
    max_doors = 80
    cut_at = factory.LazyFunction(lambda: dt.datetime.now(tz=dt.UTC))


class SmsSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SmsSettings

    campaign = factory.SubFactory(CampaignFactory)


class PausedVariantFactory(factory.django.DjangoModelFactory):
    """An SMS variant carriers filtered 3 times in its first 10 sends (paused)."""

    class Meta:
        model = PausedVariant

    variant = factory.SubFactory(MessageVariantFactory, sms=True)
    filtered = 3
    sent = 10


class SmsWindowProfileFactory(factory.django.DjangoModelFactory):
    """Eastern time, no state rule (the profile of a Durham, NC voter)."""

    class Meta:
        model = SmsWindowProfile
        django_get_or_create = ("key",)

    key = "America/New_York;"
    zones = factory.LazyFunction(lambda: ["America/New_York"])
    states = factory.LazyFunction(list)


class SmsMessageFactory(factory.django.DjangoModelFactory):
    """A due HELP answer (queue program texts with messaging.sms.fill_outbox)."""

    class Meta:
        model = SmsMessage

    campaign = factory.SubFactory(CampaignFactory)
    kind = "help"
    phone = factory.Sequence(lambda n: f"+1919555{1_000 + n % 1_000:04d}")
    profile = factory.SubFactory(SmsWindowProfileFactory)
    body = "Help: reply STOP to opt out."
    encoding = "GSM-7"
    segments = 1
    status = "due"


class SmsInboundFactory(factory.django.DjangoModelFactory):
    """A reply that asked for nothing (record real ones with messaging.sms_inbound)."""

    class Meta:
        model = SmsInbound

    campaign = factory.SubFactory(CampaignFactory)
    vendor_message_id = factory.Sequence(lambda n: f"IN{n}")
    phone = factory.Sequence(lambda n: f"+1919555{1_000 + n % 1_000:04d}")
    body = "Who is this?"
    received_at = factory.Sequence(_at)
    kind = "other"


class EmailSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailSettings

    campaign = factory.SubFactory(CampaignFactory)


class EmailMessageFactory(factory.django.DjangoModelFactory):
    """A queued email of an email program (queue real ones with messaging.email)."""

    class Meta:
        model = EmailMessage

    campaign = factory.SubFactory(CampaignFactory)
    design = factory.SubFactory(
        ProgramDesignFactory, campaign=factory.SelfAttribute("..campaign"), channel="email"
    )
    arm = factory.SubFactory(ProgramArmFactory, program=factory.SelfAttribute("..design.program"))
    variant = factory.SubFactory(
        MessageVariantFactory, campaign=factory.SelfAttribute("..campaign"), email=True
    )
    voter = factory.SubFactory(VoterFactory, campaign=factory.SelfAttribute("..campaign"))
    address = factory.Sequence(lambda n: f"person{n}@example.org")
    subject = "Hello"
    body = "Hello there."
    message_id = factory.Sequence(lambda n: f"m{n}@example.org")
