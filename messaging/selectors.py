"""Read queries of the program page (`messaging.admin`): what has been delivered per arm, and
which outcomes can measure a committed program. None of them writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count

from campaign.models import Election
from messaging.models import ProgramDesign
from voters.models import ContactAttempt, SurveyQuestion, VoteRecord


@dataclass(frozen=True)
class DeliveredCount:
    arm_id: int | None  # None: an attempt recorded for the program without its arm
    channel: str
    result: str
    attempts: int


def delivered_counts(*, program_id: int) -> list[DeliveredCount]:
    """Contact attempts of a program per arm, channel and result: one grouped query through the
    contact table's program index, however many attempts there are."""
    rows = (
        ContactAttempt.objects.filter(program_id=program_id)
        .order_by()  # the model's default ordering would add its columns to the GROUP BY
        .values_list("arm_id", "channel", "result")
        .annotate(attempts=Count("id"))
    )
    return [DeliveredCount(*row) for row in rows]


def outcome_elections(design: ProgramDesign) -> list[Election]:
    """The campaign's elections that can measure the program: held on or after the day it was
    committed (an earlier one cannot have been moved by it), most recent first."""
    if design.committed_at is None:
        return []
    return list(
        Election.objects.filter(
            campaign_id=design.campaign_id,
            election_on__gte=_local_day(design.committed_at, design.campaign.time_zone),
        ).order_by("-election_on", "-id")
    )


def outcome_questions(design: ProgramDesign) -> list[SurveyQuestion]:
    return list(SurveyQuestion.objects.filter(campaign_id=design.campaign_id).order_by("slug"))


def has_vote_history(election: Election) -> bool:
    """Whether any vote record of the election has been imported: without one, every voter would
    count as not having voted and the lift would read as a confident zero."""
    return VoteRecord.objects.filter(election_id=election.pk).exists()


def _local_day(moment: dt.datetime, time_zone: str) -> dt.date:
    # Election dates are the campaign's calendar days, not UTC's.
    return moment.astimezone(ZoneInfo(time_zone)).date()
