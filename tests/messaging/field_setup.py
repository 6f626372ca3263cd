"""A door program cut into turfs with an organizer holding one (for the field-page tests)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from campaign.models import Role
from messaging.canvassing import assign_turfs, cut_program_turfs
from messaging.field import DoorResult, record_field_result
from messaging.models import ProgramDesign, Turf
from tests.factories import (
    MembershipFactory,
    SurveyOptionFactory,
    SurveyQuestionFactory,
    UserFactory,
)
from tests.messaging.canvass_setup import door_program, make_county
from voters.defaults import ensure_support_question
from voters.models import Voter

PASSWORD = "correct horse battery staple"


@dataclass
class Field:
    design: ProgramDesign
    turf: Turf
    other_turf: Turf
    organizer: object
    other_organizer: object

    def voters(self, turf: Turf | None = None) -> list[Voter]:
        """The turf's treated voters in walking order."""
        turf = turf or self.turf
        households = list(turf.stops.order_by("position").values_list("household_id", flat=True))
        treated = Voter.objects.filter(
            household_id__in=households,
            assignments__program_id=self.design.program_id,
            assignments__arm__is_control=False,
        )
        order = {h: i for i, h in enumerate(households)}
        return sorted(treated, key=lambda v: (order[v.household_id], v.last_name, v.pk))


def organizer(campaign, username: str):
    """A non-staff user who is an organizer of `campaign`."""
    user = UserFactory(username=username, is_staff=False)
    MembershipFactory(user=user, campaign=campaign, role=Role.ORGANIZER)
    return user


def field_program(campaign, *, located: int = 24, max_doors: int = 10) -> Field:
    ensure_support_question(campaign)
    issue = SurveyQuestionFactory(campaign=campaign, slug="issue", text="Top issue?", kind="choice")
    for position, (code, label) in enumerate([("jobs", "Jobs"), ("health", "Health care")]):
        SurveyOptionFactory(question=issue, code=code, label=label, position=position)
    make_county(campaign, located=located, street=0, scored=False)
    design = door_program(campaign)
    turfs = cut_program_turfs(design=design, min_doors=1, max_doors=max_doors)
    first, second = organizer(campaign, "olive"), organizer(campaign, "oscar")
    assign_turfs(turfs=[turfs[0]], organizer=first)
    assign_turfs(turfs=[turfs[1]], organizer=second)
    turfs[0].refresh_from_db()
    turfs[1].refresh_from_db()
    return Field(design, turfs[0], turfs[1], first, second)


def result(field: Field, voter: Voter, outcome: str = "not_home", **extra) -> dict:
    """A result as the phone sends it."""
    return {
        "key": str(uuid.uuid4()),
        "turf": field.turf.pk,
        "program": field.design.pk,
        "voter": voter.voter_id,
        "outcome": outcome,
        "recorded_at": timezone.now().isoformat(),
        **extra,
    }


def yesterday_at(hour: int, minute: int, zone: str = "America/New_York") -> dt.datetime:
    """Yesterday on the campaign's clock (a result can be neither in the future nor old)."""
    day = timezone.now().astimezone(ZoneInfo(zone)).date() - dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(zone))


def one_voter_per_door(field: Field, turf: Turf) -> list[Voter]:
    """The first treated voter of each of the turf's doors, in walking order."""
    seen: dict[int, Voter] = {}
    for voter in field.voters(turf):
        seen.setdefault(voter.household_id, voter)
    return list(seen.values())


def tap(field: Field, user, turf: Turf, voter: Voter, outcome: str, at: dt.datetime, **extra):
    return record_field_result(
        user=user,
        result=DoorResult(
            key=uuid.uuid4(),
            turf=turf.pk,
            program=field.design.pk,
            voter=voter.voter_id,
            outcome=outcome,
            recorded_at=at,
            **extra,
        ),
    )


def record_canvass(field: Field) -> Field:
    """Five results of known kinds: olive knocks four doors of her turf (not home, talked with a
    support ID, refused; then, her turf given to oscar, a not-home that is flagged); oscar talks
    to one voter in his. Two results at 10:xx and three at 11:xx, New York time, yesterday."""
    first = one_voter_per_door(field, field.turf)
    second = one_voter_per_door(field, field.other_turf)
    olive, oscar = field.organizer, field.other_organizer
    tap(field, olive, field.turf, first[0], "not_home", yesterday_at(10, 15))
    tap(field, olive, field.turf, first[1], "contacted", yesterday_at(10, 40), support="1")
    tap(field, olive, field.turf, first[2], "refused", yesterday_at(11, 5))
    tap(field, oscar, field.other_turf, second[0], "contacted", yesterday_at(11, 20))
    assign_turfs(turfs=[field.turf], organizer=oscar)
    tap(field, olive, field.turf, first[3], "not_home", yesterday_at(11, 30))
    return field
