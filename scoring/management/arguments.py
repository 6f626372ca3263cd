"""Look-ups shared by the scoring commands: each turns a command-line value into a row or a clear
CommandError naming what was not found."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError

from campaign.models import Campaign, Election
from voters.models import Program, SurveyQuestion


def campaign_of(slug: str) -> Campaign:
    try:
        return Campaign.objects.get(slug=slug)
    except Campaign.DoesNotExist:
        raise CommandError(f"no campaign {slug!r}; create it with create_campaign") from None


def election_of(campaign: Campaign, day: str | None) -> Election | None:
    if not day:
        return None
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        raise CommandError(f"--election {day!r}: expected YYYY-MM-DD") from None
    elections = list(Election.objects.filter(campaign=campaign, election_on=when))
    if not elections:
        raise CommandError(f"no election on {when} in {campaign.slug}; import its history first")
    if len(elections) > 1:
        # Two elections on one day (a primary and a special): the general-like one is the label.
        preferred = [e for e in elections if e.election_type == "general"]
        if len(preferred) != 1:
            kinds = ", ".join(sorted(e.election_type for e in elections))
            raise CommandError(f"several elections on {when} ({kinds}); cannot tell which")
        return preferred[0]
    return elections[0]


def program_of(campaign: Campaign, name: str | None) -> Program | None:
    if not name:
        return None
    try:
        return Program.objects.get(campaign=campaign, name=name)
    except Program.DoesNotExist:
        raise CommandError(f"no program {name!r}; import its assignments first") from None


def question_of(campaign: Campaign, slug: str | None) -> SurveyQuestion | None:
    if not slug:
        return None
    try:
        return SurveyQuestion.objects.get(campaign=campaign, slug=slug)
    except SurveyQuestion.DoesNotExist:
        raise CommandError(f"no survey question {slug!r} in {campaign.slug}") from None


def user_of(username: str | None) -> AbstractBaseUser | None:
    if not username:
        return None
    try:
        return get_user_model().objects.get(username=username, is_active=True)
    except get_user_model().DoesNotExist:
        raise CommandError(f"no active user {username!r}") from None
