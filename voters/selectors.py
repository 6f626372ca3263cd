"""Read queries of the voters app: the searches, filters, tables and the timeline that the staff
console (`voters.admin`) presents, kept here so they can be used and tested without it.

None of them writes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connections
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Upper

from voters import consent
from voters.models import (
    Assignment,
    Channel,
    ConsentEvent,
    ContactAttempt,
    Household,
    ImportRun,
    RejectedRow,
    SurveyResponse,
    Voter,
    VoteRecord,
    arm_label,
)
from voters.phones import phone_exact

# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------

_PHONE_SHAPE = re.compile(r"^\+?[\d\s().\-]+$")


def phone_e164(term: str) -> str | None:
    """What staff typed as a phone number, in the E.164 form voters are stored under."""
    if not _PHONE_SHAPE.match(term) or len(re.sub(r"\D", "", term)) < 10:
        return None
    # The importers' own rule, so what staff type finds what an import stored.
    return phone_exact(term)


def search_voters(
    queryset: QuerySet[Voter], term: str, *, by_phone: bool = True
) -> QuerySet[Voter]:
    """Voters matching an admin search, using only indexed prefix and exact matches.

    - "(919) 555-0123": the phone, normalized to E.164 (index voter_phone), or that voter id
    - "123 main": house number and street prefix of the residence address
    - "smith" / "smith john" / "smith, john": last-name prefix (index voter_last_name_prefix),
      then first-name prefix; a single word may also be an exact voter id (index uniq_voter_id)
    A `%term%` match would read every voter of the campaign, so there is none. Without
    `by_phone` (viewers) a number finds no one by phone: a hit would reveal whose number it is.
    """
    term = term.strip()
    exact_id = Q(voter_id__in={term, term.upper()})
    phone = phone_e164(term) if by_phone else None
    if phone:
        return queryset.filter(Q(phone=phone) | exact_id)
    words = term.replace(",", " ").upper().split()
    if len(words) >= 2 and words[0][0].isdigit():
        return queryset.alias(address_upper=Upper("address")).filter(
            address_upper__startswith=" ".join(words)
        )
    # UPPER(last_name) LIKE 'SMI%' is exactly the expression voter_last_name_prefix indexes.
    queryset = queryset.alias(last_upper=Upper("last_name"))
    last = Q(last_upper__startswith=words[0]) & _prefix_range(queryset, "last_upper", words[0])
    if len(words) == 1:
        return queryset.filter(last | exact_id)
    return queryset.alias(first_upper=Upper("first_name")).filter(
        last, first_upper__startswith=words[1]
    )


def _prefix_range(queryset: QuerySet, alias: str, prefix: str) -> Q:
    """`alias` between `prefix` and the next string of its length, on SQLite; nothing elsewhere.

    SQLite never serves LIKE from an index on an expression (only on a plain column), so its
    LIKE read all of a campaign's voters (2 s for a surname on the demo's 100,000): the range
    is what lets voter_last_name_prefix answer there, and the LIKE beside it keeps the match
    exact. PostgreSQL serves the LIKE itself from the text_pattern_ops index; a range in the
    column's collation could disagree with a byte-wise prefix there, so it gets none.
    """
    if connections[queryset.db].vendor != "sqlite" or not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return Q()
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return Q(**{f"{alias}__gte": prefix, f"{alias}__lt": after})


def households_at(households: QuerySet[Household], term: str) -> QuerySet[Household]:
    """Households whose address starts with the words typed ("123 main"), case-insensitively."""
    # Anchored prefix only; a `%term%` scan would read every household of the campaign.
    prefix = " ".join(term.upper().split())
    return households.alias(address_upper=Upper("address")).filter(address_upper__startswith=prefix)


def of_voter_id(rows: QuerySet, voter_id: str) -> QuerySet:
    """History rows (contacts, answers, votes, consent) of the voter with this exact voter id,
    as typed or upper-cased: served by uniq_voter_id, then the table's voter index."""
    return rows.filter(voter__voter_id__in={voter_id, voter_id.upper()})


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------

AGE_BANDS: dict[str, tuple[int, int | None]] = {
    "18-24": (18, 24),
    "25-34": (25, 34),
    "35-49": (35, 49),
    "50-64": (50, 64),
    "65+": (65, None),
}


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def age_between(low: int, high: int | None, today: dt.date) -> Q:
    """Voters aged low..high (inclusive) on `today`, as `Voter.age_on` counts age: from the birth
    date when known, else from the birth year alone."""
    by_date = Q(birth_date__lte=_years_before(today, low))
    by_year = Q(birth_year__lte=today.year - low)
    if high is not None:
        by_date &= Q(birth_date__gt=_years_before(today, high + 1))
        by_year &= Q(birth_year__gte=today.year - high)
    return by_date | (Q(birth_date__isnull=True) & by_year)


def precincts(voters: QuerySet[Voter], limit: int) -> list[str]:
    """The first `limit` precincts of these voters, in order (the (campaign, precinct) index)."""
    return list(
        voters.exclude(precinct__isnull=True)
        .exclude(precinct="")
        .order_by("precinct")
        .values_list("precinct", flat=True)
        .distinct()[:limit]
    )


def voted_in(election_id: int | str) -> Exists:
    """Whether the voter (the outer row) voted in the election, for `filter(voted_in(…))`."""
    return Exists(
        VoteRecord.objects.filter(voter=OuterRef("pk"), election_id=election_id, voted=True)
    )


# --------------------------------------------------------------------------------------------
# The voter page: timeline, households, history, programs
# --------------------------------------------------------------------------------------------

# Newest items shown per voter page; a voter with more gets a note and the filtered lists.
TIMELINE_LIMIT = 200


@dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime
    what: str
    channel: str
    detail: str
    by: str
    source: str
    # Ties on `at`: consent changes above the contact that caused them, answers above their contact.
    rank: int = 0
    pk: int = 0


def voter_timeline(voter: Voter, limit: int = TIMELINE_LIMIT) -> tuple[list[TimelineItem], bool]:
    """The voter's contacts, survey answers and consent changes, newest first, in three queries.

    Returns the newest `limit` items and whether there were more. Taking `limit + 1` of each kind
    is enough: the newest `limit` of the merge are among the newest `limit` of each kind.
    """
    contacts = (
        ContactAttempt.objects.filter(voter=voter)
        .select_related("program", "arm", "user")
        .order_by("-occurred_at", "-id")[: limit + 1]
    )
    answers = (
        SurveyResponse.objects.filter(voter=voter)
        .select_related("question", "option")
        .order_by("-answered_at", "-id")[: limit + 1]
    )
    consents = voter_consent_events(voter).select_related("user")[: limit + 1]
    items = [
        *(_contact_item(c) for c in contacts),
        *(_answer_item(a) for a in answers),
        *(_consent_item(e, voter) for e in consents),
    ]
    items.sort(key=lambda i: (i.at, i.rank, i.pk), reverse=True)
    return items[:limit], len(items) > limit


def voter_consent_events(voter: Voter) -> QuerySet[ConsentEvent]:
    """Consent changes recorded against the voter or keyed to their phone or email (an opt-out
    of their number recorded against another voter's record still applies to them)."""
    mine = Q(voter=voter)
    for channel in (Channel.SMS, Channel.PHONE, Channel.EMAIL):
        address = consent.voter_address(voter, channel)
        if address:
            mine |= Q(channel=channel, address=address)
    return ConsentEvent.objects.filter(mine, campaign_id=voter.campaign_id).order_by(
        "-occurred_at", "-id"
    )


def user_name(user) -> str:
    """Who acted, in words: the user's name, or empty when no user did."""
    return user.get_username() if user is not None else ""


def _contact_item(c: ContactAttempt) -> TimelineItem:
    # Arms and variants by label ("Civic duty"), as staff name them, not their code.
    arm = c.arm.label if c.arm else ""
    variant = arm_label(c.variant) if c.variant else ""
    program = " / ".join(dict.fromkeys(str(p) for p in (c.program, arm, variant) if p))
    detail = c.get_result_display() + (f" ({program})" if program else "")
    return TimelineItem(
        at=c.occurred_at,
        what="contact",
        channel=c.get_channel_display(),
        detail=detail,
        by=c.canvasser or user_name(c.user),
        source=c.get_source_display(),
        rank=0,
        pk=c.pk,
    )


def _answer_item(a: SurveyResponse) -> TimelineItem:
    return TimelineItem(
        at=a.answered_at,
        what="answer",
        channel="",
        detail=f"{a.question.slug}: {a.option.code} {a.option.label}",
        by="",
        source=a.get_source_display(),
        rank=1,
        pk=a.pk,
    )


def _consent_item(e: ConsentEvent, voter: Voter) -> TimelineItem:
    detail = e.get_kind_display() + (f": {e.reason}" if e.reason else "")
    if e.voter_id is not None and e.voter_id != voter.pk:
        detail += " (recorded against another voter with this address)"
    return TimelineItem(
        at=e.occurred_at,
        what="consent",
        channel=e.get_channel_display(),
        detail=detail,
        by=user_name(e.user) or e.actor,
        source=e.get_source_display(),
        rank=2,
        pk=e.pk,
    )


MEMBER_FIELDS = (
    "pk", "voter_id", "first_name", "middle_name", "last_name", "suffix", "birth_date",
    "birth_year", "party", "status", "household_id",
)  # fmt: skip


def household_members(
    campaign_id: int, household_id: int, exclude_pk: int | None, limit: int
) -> list[Voter]:
    """Up to `limit + 1` of the household's voters by name (one more: the page says "more")."""
    # The campaign filter is belt and braces: nothing in the schema stops a voter of one campaign
    # from pointing at another campaign's household.
    members = Voter.objects.filter(campaign_id=campaign_id, household_id=household_id).order_by(
        "last_name", "first_name"
    )
    if exclude_pk is not None:
        members = members.exclude(pk=exclude_pk)
    return list(members.only(*MEMBER_FIELDS)[: limit + 1])


def vote_history(voter: Voter) -> QuerySet[VoteRecord]:
    """The voter's vote records with their elections, newest election first."""
    return voter.vote_records.select_related("election").order_by(
        "-election__election_on", "election__election_type"
    )


def voter_assignments(voter: Voter) -> QuerySet[Assignment]:
    """The voter's program assignments with program and arm, newest first."""
    return voter.assignments.select_related("program", "arm").order_by("-assigned_at", "-id")


def rejected_rows(run: ImportRun, limit: int) -> list[RejectedRow]:
    """Up to `limit + 1` of the run's rejected rows in file and line order."""
    return list(run.rejected_rows.order_by("file_name", "line_number")[: limit + 1])
