"""Recording one contact attempt (staff, organizer pages, vendors) and one survey answer: the
writes of a single touch with a voter. Imports write contact history and answers in bulk through
the importers, with the same natural keys (`contact_dedupe_key`; voter, question, time, option),
so a contact entered by hand and imported later is kept once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaign.lib.bulk_insert import insert_rows
from voters.consent import opt_out_channels, record_opt_out, voter_address
from voters.models import (
    RESULTS_BY_CHANNEL,
    Channel,
    ConsentSource,
    ContactAttempt,
    ContactResult,
    ContactSource,
    Program,
    ProgramArm,
    SurveyOption,
    SurveyQuestion,
    SurveyResponse,
    Voter,
)

OPT_OUT_REASON = "contact result: opted out"


def contact_dedupe_key(
    *,
    voter_id: int,
    channel: str,
    occurred_at: dt.datetime,
    result: str,
    program_id: int | None = None,
    arm_id: int | None = None,
    variant: str = "",
    canvasser: str = "",
) -> str:
    """Digest of a contact's natural key: the same touch recorded twice has the same key."""
    moment = occurred_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    parts = (voter_id, channel, moment, result, program_id or "", arm_id or "", variant, canvasser)
    natural = "\x1f".join(str(p) for p in parts)
    return hashlib.md5(natural.encode(), usedforsecurity=False).hexdigest()


def consent_source_for(source: str, channel: str) -> str:
    """The ledger source of an opt-out reported as a contact result."""
    if source == ContactSource.STAFF:
        return ConsentSource.STAFF  # audited as a consent change by staff
    if source == ContactSource.ORGANIZER:
        return ConsentSource.CANVASS_DNC
    if source == ContactSource.IMPORT:
        return ConsentSource.IMPORT
    if channel == Channel.SMS:
        return ConsentSource.STOP_REPLY
    if channel == Channel.EMAIL:
        return ConsentSource.UNSUBSCRIBE
    return ConsentSource.VENDOR_BLOCK


def record_contact(
    *,
    voter: Voter,
    channel: str,
    result: str,
    occurred_at: dt.datetime,
    source: str = ContactSource.STAFF,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    program: Program | None = None,
    arm: ProgramArm | None = None,
    variant: str = "",
    canvasser: str = "",
    note: str = "",
    result_raw: str = "",
    client_ip: str | None = None,
) -> tuple[ContactAttempt, bool]:
    """Append one contact attempt; returns it and whether it is new (a retry returns the first).

    An `opted_out` result is also written to the consent ledger, in the same transaction.
    `result_raw` is the result as the source named it ("come back", "do not contact"): kept
    beside the code, and a named opt-out closes the channels its name says.
    """
    _check(voter, channel, result, occurred_at, source, program, arm)
    key = contact_dedupe_key(
        voter_id=voter.pk,
        channel=channel,
        occurred_at=occurred_at,
        result=result,
        program_id=program.pk if program else None,
        arm_id=arm.pk if arm else None,
        variant=variant,
        canvasser=canvasser,
    )
    attempt = ContactAttempt(
        campaign_id=voter.campaign_id,
        voter=voter,
        channel=channel,
        occurred_at=occurred_at,
        result=result,
        program=program,
        arm=arm,
        variant=variant or None,
        canvasser=canvasser or None,
        user=user if user is not None and user.is_authenticated else None,
        source=source,
        note=note,
        result_raw=result_raw or None,
        dedupe_key=key,
    )
    try:
        with transaction.atomic():
            attempt.save()
            if result == ContactResult.OPTED_OUT:
                _record_opt_out(attempt, user, actor, client_ip)
    except IntegrityError:
        existing = ContactAttempt.objects.filter(campaign_id=voter.campaign_id, dedupe_key=key)
        found = existing.first()
        if found is None:
            raise
        return found, False
    return attempt, True


@dataclass(frozen=True)
class NewContact:
    """One contact of a batch (`record_contacts`): ids, not objects, so a batch loads nothing."""

    campaign_id: int
    voter_id: int
    channel: str
    result: str
    occurred_at: dt.datetime
    source: str
    program_id: int | None = None
    arm_id: int | None = None
    variant: str = ""
    note: str = ""


CONTACT_COLUMNS = (
    "campaign_id", "voter_id", "channel", "occurred_at", "result", "program_id", "arm_id",
    "variant", "source", "note", "dedupe_key", "created_at",
)  # fmt: skip


def record_contacts(*, contacts: Iterable[NewContact], opt_outs_recorded: bool = False) -> int:
    """Append many contact attempts in one statement (vendors' delivery receipts, a thousand a
    request); one already on record (its natural key, `contact_dedupe_key`) is skipped. Returns
    how many were offered. Not for opt-outs: `record_contact` writes those with their ledger
    event, unless the caller has written the ledger events itself (`opt_outs_recorded`: email,
    whose opt-out is of the exact address it wrote to, which may no longer be the voter's)."""
    now = timezone.now()
    rows = [_batch_contact(c, now, opt_outs_recorded) for c in contacts]
    insert_rows(ContactAttempt, CONTACT_COLUMNS, rows, ignore_conflicts=True)
    return len(rows)


def _batch_contact(contact: NewContact, now: dt.datetime, opt_outs_recorded: bool) -> tuple:
    """One row of CONTACT_COLUMNS, checked as `record_contact` checks one."""
    if contact.result == ContactResult.OPTED_OUT and not opt_outs_recorded:
        raise ValidationError({"result": "an opt-out goes through record_contact"})
    if contact.channel not in Channel.values or contact.result not in RESULTS_BY_CHANNEL.get(
        contact.channel, ()
    ):
        raise ValidationError({"result": f"{contact.result!r} is not a {contact.channel} result"})
    if contact.source not in ContactSource.values:
        raise ValidationError({"source": f"unknown source {contact.source!r}"})
    if contact.occurred_at.tzinfo is None:
        raise ValidationError({"occurred_at": "needs a time zone"})
    key = contact_dedupe_key(
        voter_id=contact.voter_id,
        channel=contact.channel,
        occurred_at=contact.occurred_at,
        result=contact.result,
        program_id=contact.program_id,
        arm_id=contact.arm_id,
        variant=contact.variant,
    )
    return (
        contact.campaign_id, contact.voter_id, contact.channel, contact.occurred_at,
        contact.result, contact.program_id, contact.arm_id, contact.variant or None,
        contact.source, contact.note, key, now,
    )  # fmt: skip


def record_survey_response(
    *,
    voter: Voter,
    question: SurveyQuestion,
    code: str,
    answered_at: dt.datetime,
    source: str = ContactSource.STAFF,
    contact_attempt: ContactAttempt | None = None,
) -> tuple[SurveyResponse, bool]:
    """Append one answer (the option with `code`); returns it and whether it is new.

    The same answer at the same time is kept once (uniq_response), as a re-import keeps it.
    """
    option = _check_answer(voter, question, code, answered_at, source, contact_attempt)
    response = SurveyResponse(
        campaign_id=voter.campaign_id,
        voter=voter,
        question=question,
        option=option,
        contact_attempt=contact_attempt,
        answered_at=answered_at,
        source=source,
    )
    try:
        with transaction.atomic():
            response.save()
    except IntegrityError:
        found = SurveyResponse.objects.filter(
            voter_id=voter.pk, question=question, answered_at=answered_at, option=option
        ).first()
        if found is None:
            raise
        return found, False
    return response, True


def _check_answer(voter, question, code, answered_at, source, contact_attempt) -> SurveyOption:
    if question.campaign_id != voter.campaign_id:
        raise ValidationError({"question": "belongs to another campaign"})
    if source not in ContactSource.values:
        raise ValidationError({"source": f"unknown source {source!r}"})
    if answered_at.tzinfo is None:
        raise ValidationError({"answered_at": "needs a time zone"})
    if contact_attempt is not None and contact_attempt.voter_id != voter.pk:
        raise ValidationError({"contact_attempt": "is another voter's"})
    option = SurveyOption.objects.filter(question=question, code=code).first()
    if option is None:
        raise ValidationError({"code": f"{code!r} is not an answer to {question.slug!r}"})
    return option


def _record_opt_out(
    attempt: ContactAttempt, user: AbstractBaseUser | None, actor: str, client_ip: str | None
) -> None:
    for channel in opt_out_channels(attempt.channel, attempt.result_raw):
        address = voter_address(attempt.voter, channel)
        if address is None:
            continue  # nothing on file to opt out on this channel; the attempt is the record
        suffix = "" if channel == attempt.channel else f":{channel}"
        record_opt_out(
            campaign=attempt.voter.campaign,
            channel=channel,
            address=address,
            source=consent_source_for(attempt.source, attempt.channel),
            occurred_at=attempt.occurred_at,
            voter=attempt.voter,
            user=user,
            actor=actor,
            reason=OPT_OUT_REASON,
            dedupe_key=f"contact:{attempt.dedupe_key}{suffix}",
            client_ip=client_ip,
        )


def _check(voter, channel, result, occurred_at, source, program, arm) -> None:
    if channel not in Channel.values:
        raise ValidationError({"channel": f"unknown channel {channel!r}"})
    if result not in RESULTS_BY_CHANNEL[channel]:
        raise ValidationError({"result": f"{result!r} is not a result of a {channel} contact"})
    if source not in ContactSource.values:
        raise ValidationError({"source": f"unknown source {source!r}"})
    if occurred_at.tzinfo is None:
        raise ValidationError({"occurred_at": "needs a time zone"})
    if program is not None and program.campaign_id != voter.campaign_id:
        raise ValidationError({"program": "belongs to another campaign"})
    if arm is not None and (program is None or arm.program_id != program.pk):
        raise ValidationError({"arm": "is not an arm of the program"})
