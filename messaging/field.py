"""The organizer's phone: their turfs, a turf's data to keep offline, and door results.

A turf's data is its walk list (`messaging.walklists`: names, age, party, talking points and the
script; never a phone or an email) as JSON, audited as a `download` like every walk list.

A result is one voter's outcome at a door, sent with the phone's idempotency key. It becomes a
contact attempt, survey answers and, for "do not contact", opt-outs on every channel, through the
services the importers' rules live in (`voters.contacts`, `voters.consent`), in one transaction:
either all of it is written or, on a bad payload, nothing. The same key again returns the first
answer. A result for a turf taken away since, re-cut away, or of a paused or cancelled program is
kept, written to history like any other (the knock happened) and flagged for staff to review.

Staff settle a flagged result (`settle_field_results`): accepted, it counts in the canvass's
progress as it did; dismissed (a tap at the wrong door, a result for a program that had stopped),
it is left out of the turfs', organizers' and hours' figures (`messaging.field_progress`). Either
way its contact attempt and answers stay in history, which is append-only. Who settled it and
when are kept on the row and in the audit log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from campaign.models import AuditAction, AuditEvent, Membership
from campaign.services import record_audit_event
from messaging.canvassing import ASSIGNABLE_ROLES
from messaging.models import (
    ArmVariant,
    DoorOutcome,
    FieldFlag,
    FieldResult,
    FieldSettlement,
    ProgramDesign,
    ProgramStatus,
    Turf,
    TurfDoor,
)
from messaging.walklists import audit_walk_list, build_walk_list
from voters.consent import not_after_now
from voters.contacts import record_contact, record_survey_response
from voters.models import (
    Channel,
    ContactResult,
    ContactSource,
    SurveyKind,
    SurveyQuestion,
    Voter,
)

# The contact result each outcome is recorded as, and the name kept beside it (result_raw):
# "come back" is a not-home as VAN's code table has it; "do not contact" closes every channel.
OUTCOME_RESULTS: dict[str, tuple[str, str]] = {
    DoorOutcome.NOT_HOME: (ContactResult.NOT_HOME, ""),
    DoorOutcome.CONTACTED: (ContactResult.CONTACTED, ""),
    DoorOutcome.COME_BACK: (ContactResult.NOT_HOME, "come back"),
    DoorOutcome.REFUSED: (ContactResult.REFUSED, ""),
    DoorOutcome.MOVED: (ContactResult.MOVED, ""),
    DoorOutcome.INACCESSIBLE: (ContactResult.INACCESSIBLE, ""),
    DoorOutcome.DECEASED: (ContactResult.DECEASED, ""),
    DoorOutcome.DO_NOT_CONTACT: (ContactResult.OPTED_OUT, "do not contact"),
}
# Answers are taken only from a conversation.
ANSWERING_OUTCOMES = frozenset({DoorOutcome.CONTACTED})
MAX_NOTE = 2_000
MAX_ANSWERS = 20
# A phone's clock may be off, and a queue may wait days for a signal; older is a mistake.
OLDEST_RESULT = dt.timedelta(days=60)


class FieldResultError(ValidationError):
    """A result the rules refuse (nothing was written); the message is safe to show."""


class NotHeld(Exception):
    """The turf or the voter is not the user's to record for (a 404 to them)."""


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def field_campaign_ids(user: AbstractBaseUser) -> list[int]:
    """Campaigns where the user may walk turfs (organizer, staff or admin)."""
    if not user.is_authenticated or not user.is_active:
        return []
    return list(
        Membership.objects.filter(user_id=user.pk, role__in=ASSIGNABLE_ROLES).values_list(
            "campaign_id", flat=True
        )
    )


def organizer_turfs(user: AbstractBaseUser) -> models.QuerySet[Turf]:
    """The turfs now assigned to the user, in their campaigns, by program and rank."""
    return (
        Turf.objects.filter(organizer_id=user.pk, campaign_id__in=field_campaign_ids(user))
        .select_related("campaign", "design__program")
        .order_by("design__program__name", "rank", "pk")
    )


def turf_data(
    *, turf: Turf, user: AbstractBaseUser, client_ip: str | None = None
) -> dict[str, object]:
    """What the phone keeps of a turf: its doors in walking order, their voters and scripts,
    the questions to ask and the outcomes to tap (audited as a `download`, format `field`)."""
    walk_list = build_walk_list(turf)
    audit_walk_list(turf=turf, walk_list=walk_list, fmt="field", by=user, client_ip=client_ip)
    scripts = {script.name: script.text for script in walk_list.scripts}
    return {
        "turf": {"id": turf.pk, "name": turf.name, "program": turf.design_id},
        "program": walk_list.program,
        "campaign": walk_list.campaign,
        "time_zone": turf.campaign.time_zone,
        "support": {"question": walk_list.support_question, "options": support_options()},
        "questions": other_questions(turf.campaign_id),
        "outcomes": [{"code": code, "label": label} for code, label in DoorOutcome.choices],
        "doors": [
            {
                "stop": door.stop,
                "address": door.address,
                "unit": door.unit,
                "city": door.city,
                "script_name": door.script,
                "script": scripts.get(door.script, ""),
                "voters": [
                    {
                        "voter_id": voter.voter_id,
                        "name": voter.name,
                        "age": voter.age,
                        "party": voter.party,
                        "talking_points": list(voter.talking_points),
                    }
                    for voter in door.voters
                ],
            }
            for door in walk_list.doors
        ],
    }


def support_options() -> list[dict[str, str]]:
    return [{"code": code, "label": label} for code, label in SurveyQuestion.SUPPORT_OPTIONS]


def other_questions(campaign_id: int) -> list[dict[str, object]]:
    """The campaign's survey questions besides support, with their options.

    Programs have no questions of their own (voters.Program holds none), so the phone asks the
    campaign's; a question with no options (free text) cannot be answered on a door's buttons.
    """
    questions = (
        SurveyQuestion.objects.filter(campaign_id=campaign_id)
        .exclude(slug=SurveyQuestion.SUPPORT_SLUG)
        .exclude(kind=SurveyKind.SUPPORT)
        .prefetch_related("options")
        .order_by("slug")
    )
    return [
        {
            "slug": q.slug,
            "text": q.text,
            "options": [{"code": o.code, "label": o.label} for o in q.options.all()],
        }
        for q in questions
        if q.options.all()
    ]


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoorResult:
    """A result as the phone sent it, its shape already checked (FieldResultInput)."""

    key: uuid.UUID
    turf: int
    program: int
    voter: str
    outcome: str
    recorded_at: dt.datetime
    support: str = ""
    answers: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class _Holding:
    """The turf a result names, as far as the user holds it."""

    campaign_id: int
    design: ProgramDesign
    turf: Turf | None
    flag: str


def record_field_result(
    *, user: AbstractBaseUser, result: DoorResult, client_ip: str | None = None
) -> tuple[dict[str, object], bool]:
    """Record one door result; returns the answer for the phone and whether it is new.

    NotHeld when the turf was never the user's or the voter is not one of the program's doors;
    FieldResultError (nothing written) when the result breaks a rule.
    """
    # A phone whose clock runs ahead must not post-date history: the consent ledger's rule.
    result = replace(result, recorded_at=not_after_now(result.recorded_at))
    holding = _holding(user, result)
    first = _replay(holding.campaign_id, user, result.key)
    if first is not None:
        return first, False
    door = _door(holding, result)
    try:
        with transaction.atomic():
            row = _write(user, result, holding, door, client_ip)
    except IntegrityError:
        # The same key sent twice at once: the other request wrote it first.
        first = _replay(holding.campaign_id, user, result.key)
        if first is None:
            raise
        return first, False
    return row.response, True


def _holding(user: AbstractBaseUser, result: DoorResult) -> _Holding:
    # The usual case in one query: the turf is the user's now (and they still walk turfs there).
    mine = (
        Turf.objects.filter(
            pk=result.turf,
            organizer_id=user.pk,
            campaign__memberships__user_id=user.pk,
            campaign__memberships__role__in=ASSIGNABLE_ROLES,
        )
        .select_related("design__program")
        .first()
    )
    if mine is not None:
        if mine.design_id != result.program:
            raise FieldResultError({"program": "is not the turf's program"})
        return _Holding(mine.campaign_id, mine.design, mine, _program_flag(mine.design))
    # Not (or no longer) theirs: it counts only if it was once assigned to them.
    campaigns = field_campaign_ids(user)
    turf = (
        Turf.objects.filter(pk=result.turf, campaign_id__in=campaigns)
        .select_related("design__program")
        .first()
    )
    campaign_id = _once_assigned(user, result.turf, campaigns)
    if campaign_id is None:
        raise NotHeld
    if turf is not None:
        design, flag = turf.design, FieldFlag.REASSIGNED
    else:
        design = (
            ProgramDesign.objects.filter(pk=result.program, campaign_id=campaign_id)
            .select_related("program")
            .first()
        )
        if design is None:
            raise NotHeld
        flag = FieldFlag.TURF_GONE
    if turf is not None and turf.design_id != result.program:
        raise FieldResultError({"program": "is not the turf's program"})
    return _Holding(campaign_id, design, turf, _program_flag(design) or flag)


def _once_assigned(user: AbstractBaseUser, turf_id: int, campaigns: list[int]) -> int | None:
    """The campaign of the turf if an assignment of it to the user is on record, else None."""
    return (
        AuditEvent.objects.filter(
            action=AuditAction.TURF_ASSIGN,
            campaign_id__in=campaigns,
            object_type=Turf._meta.label_lower,
            object_id=str(turf_id),
            detail__organizer=user.pk,
        )
        .values_list("campaign_id", flat=True)
        .first()
    )


def _program_flag(design: ProgramDesign) -> str:
    if design.status == ProgramStatus.CANCELLED:
        return FieldFlag.CANCELLED
    if design.status == ProgramStatus.PAUSED:
        return FieldFlag.PAUSED
    return FieldFlag.NONE


def _replay(campaign_id: int, user: AbstractBaseUser, key: uuid.UUID) -> dict[str, object] | None:
    first = (
        FieldResult.objects.filter(campaign_id=campaign_id, key=key)
        .values_list("organizer_id", "response")
        .first()
    )
    if first is None:
        return None
    if first[0] != user.pk:
        raise FieldResultError({"key": "this key was used for another organizer's result"})
    return first[1]


@dataclass(frozen=True)
class _Door:
    voter: Voter
    turf_id: int  # the turf the household is in now
    arm_id: int  # the household's arm (a door program randomizes households)


def _door(holding: _Holding, result: DoorResult) -> _Door:
    """The voter and their door, if their household is one of the program's (else NotHeld)."""
    voter = (
        Voter.objects.for_campaign(holding.campaign_id)
        .filter(voter_id=result.voter)
        .only("pk", "campaign_id", "household_id", "phone", "email")
        .first()
    )
    if voter is None:
        raise NotHeld
    # One row (uniq_turf_household); ordered by its key, not the model's (turf, position),
    # which would join the turf for nothing.
    door = (
        TurfDoor.objects.filter(design=holding.design, household_id=voter.household_id)
        .order_by("pk")
        .values_list("turf_id", "arm_id")
        .first()
    )
    if door is None:
        raise NotHeld
    return _Door(voter, *door)


def _flag(holding: _Holding, door: _Door) -> str:
    if holding.flag or holding.turf is None:
        return holding.flag
    return FieldFlag.NONE if door.turf_id == holding.turf.pk else FieldFlag.NOT_IN_TURF


def _write(
    user: AbstractBaseUser,
    result: DoorResult,
    holding: _Holding,
    door: _Door,
    client_ip: str | None,
) -> FieldResult:
    _check(result)
    design, voter = holding.design, door.voter
    pin = ArmVariant.objects.filter(arm_id=door.arm_id).select_related("variant", "arm").first()
    code, name = OUTCOME_RESULTS[result.outcome]
    attempt, _ = record_contact(
        voter=voter,
        channel=Channel.DOOR,
        result=code,
        result_raw=name,
        occurred_at=result.recorded_at,
        source=ContactSource.ORGANIZER,
        user=user,
        program=design.program,
        arm=pin.arm if pin else None,
        variant=str(pin.variant) if pin else "",
        note=result.note,
        client_ip=client_ip,
    )
    _record_answers(voter, result, attempt)
    flag = _flag(holding, door)
    response = {
        "key": str(result.key),
        "status": "recorded",
        "flag": flag,
        "contact_attempt": attempt.pk,
    }
    return FieldResult.objects.create(
        campaign_id=holding.campaign_id,
        key=result.key,
        organizer=user,
        design=design,
        turf=holding.turf,
        turf_ref=result.turf,
        voter=voter,
        outcome=result.outcome,
        support=result.support,
        answers=result.answers,
        note=result.note,
        recorded_at=result.recorded_at,
        flag=flag,
        contact_attempt=attempt,
        response=response,
    )


def _check(result: DoorResult) -> None:
    if result.outcome not in OUTCOME_RESULTS:
        raise FieldResultError({"outcome": f"unknown outcome {result.outcome!r}"})
    if (result.support or result.answers) and result.outcome not in ANSWERING_OUTCOMES:
        raise FieldResultError(
            {"support": "answers are recorded only with a conversation (outcome 'contacted')"}
        )
    if result.recorded_at < timezone.now() - OLDEST_RESULT:
        raise FieldResultError({"recorded_at": "is more than 60 days ago"})


def _record_answers(voter: Voter, result: DoorResult, attempt) -> None:
    wanted = dict(result.answers)
    if result.support:
        wanted[SurveyQuestion.SUPPORT_SLUG] = result.support
    if not wanted:
        return
    questions = {
        q.slug: q
        for q in SurveyQuestion.objects.filter(campaign_id=voter.campaign_id, slug__in=wanted)
    }
    for slug, code in sorted(wanted.items()):
        question = questions.get(slug)
        if question is None:
            raise FieldResultError({"answers": f"no survey question {slug!r}"})
        try:
            record_survey_response(
                voter=voter,
                question=question,
                code=code,
                answered_at=result.recorded_at,
                source=ContactSource.ORGANIZER,
                contact_attempt=attempt,
            )
        except ValidationError as error:
            raise FieldResultError({"answers": f"{code!r} is not an answer to {slug!r}"}) from error


# --------------------------------------------------------------------------------------------
# Settling flagged results
# --------------------------------------------------------------------------------------------

SETTLEMENTS = (FieldSettlement.ACCEPTED, FieldSettlement.DISMISSED)


def settle_field_results(
    *,
    results: Iterable[FieldResult],
    settlement: str,
    by: AbstractBaseUser,
    client_ip: str | None = None,
) -> int:
    """Accept or dismiss flagged results still to settle (one audit event each); the others
    (not flagged, or settled already: a decision is taken once) are left as they are. The caller
    has scoped `results` to what the user may settle. Returns how many were settled."""
    if settlement not in SETTLEMENTS:
        raise ValueError(f"unknown settlement {settlement!r}")
    now = timezone.now()
    settled = 0
    with transaction.atomic():
        # Locked, so two staff settling the same result at once decide it once.
        pending = (
            FieldResult.objects.select_for_update()
            .filter(pk__in=[r.pk for r in results], settlement="")
            .exclude(flag="")
            .select_related("design")
            .order_by("pk")
        )
        for result in pending:
            result.settlement, result.settled_by, result.settled_at = settlement, by, now
            result.save(update_fields=["settlement", "settled_by", "settled_at"])
            record_audit_event(
                action=AuditAction.FIELD_RESULT_SETTLE,
                campaign=result.campaign_id,
                user=by,
                obj=result,
                client_ip=client_ip,
                detail={
                    "settlement": settlement,
                    "flag": result.flag,
                    "program": result.design.program_id,
                    "organizer": result.organizer_id,
                },
            )
            settled += 1
    return settled
