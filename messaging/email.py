"""The email outbox (issue 15 §1): filled from a committed email program, sent in batches
through Django's email backend (SMTP, a provider's backend through django-anymail, or the
console in the demo), one connection per batch.

A batch never sends an address twice, even when its worker is killed:
1. claim: queued -> claimed (one UPDATE, rows locked with SKIP LOCKED, so batches never share;
   consent and the campaign's caps are checked here);
2. per group of HAND_OVER_GROUP (50) messages, one commit claimed -> sending *before* the
   server sees any of them (synchronous_commit on: a database crash cannot forget it);
3. the group handed to the server on the batch's one connection;
4. one commit of the group's outcomes: sending -> sent, failed or unknown, with their contact
   attempts.
A worker that dies leaves `claimed` rows (never handed over: requeued, safe to send) and at most
one group of `sending` rows (handed over or about to be, outcome lost): those become `unknown`,
never resent (`recover_stale_claims`, run by beat and by each worker once a minute). That
window, up to 50 messages of a dead worker, is the price of two commits a group instead of one or
two a message.
Consent is checked when each batch is claimed, not only when queued; quiet hours do not apply to
email, the campaign's caps do. Logs carry ids and counts, never an address or a body.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import logging
import re
import smtplib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.policy import Compat32
from email.utils import formataddr
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.db import transaction
from django.db.models import Exists, OuterRef

from campaign.models import Campaign
from messaging.email_tokens import make_token
from messaging.models import (
    EmailMessage,
    EmailSettings,
    EmailStatus,
    MessageVariant,
    PausedVariant,
    ProgramDesign,
    ProgramStatus,
)
from messaging.rendering import CompiledVariant, message_context
from messaging.services import display_first_name, polling_place_of, sender_of, talking_points
from messaging.smtp_pipelining import Envelope, send_pipelined, supports_pipelining
from scoring.models import VoterScore
from voters.contacts import NewContact, record_contacts
from voters.models import Assignment, Channel, ConsentEvent, ContactResult, ContactSource

logger = logging.getLogger(__name__)

FILL_BATCH = 5_000
# Messages handed over per commit, and the window of a crash: a worker killed mid-group
# leaves at most this many `sending` (unknown on recovery: some may have gone out, so none is
# sent again). Two commits a group (hand-over, outcomes) instead of one or two a message.
HAND_OVER_GROUP = 50
# A group whose connection breaks more often than this gives up (the server is unwell).
MAX_REOPENS = 2
# A claim older than this belongs to a dead worker (a batch of 500 takes seconds).
CLAIM_TIMEOUT = dt.timedelta(minutes=15)
RECOVER_EVERY = dt.timedelta(minutes=1)
OUR_ID_HEADER = "X-Segment-One-Message"


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def email_settings_of(campaign: Campaign | int) -> EmailSettings:
    campaign_id = campaign if isinstance(campaign, int) else campaign.pk
    found, _ = EmailSettings.objects.get_or_create(campaign_id=campaign_id)
    return found


def is_paused(campaign_id: int) -> bool:
    return EmailSettings.objects.filter(campaign_id=campaign_id, paused_at__isnull=False).exists()


# --------------------------------------------------------------------------------------------
# Filling the outbox from a committed program
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    voter_id: int
    arm_id: int
    address: str
    first_name: str
    extra: dict


def fill_email_outbox(*, design: ProgramDesign) -> int:
    """One queued email per address of the program's treated units; returns how many were new.

    Idempotent (uniq_email_program_address): a redelivered task adds nothing. Control units get
    nothing. Rendered for the unit's first voter, with the variant version pinned at commit.
    """
    if design.channel != Channel.EMAIL or design.status != ProgramStatus.COMMITTED:
        return 0
    variants = {pin.arm_id: pin.variant for pin in design.arm_variants.select_related("variant")}
    compiled = {arm_id: variant.compiled() for arm_id, variant in variants.items()}
    sender = sender_of(design.campaign)
    # Queued even while the campaign lacks its identity (nothing is *sent* until it has one).
    domain = design.campaign.email_from_address.rpartition("@")[2] or "segment-one.invalid"
    written = 0
    for batch in _batches(_units(design), FILL_BATCH):
        reasons = dict(
            VoterScore.objects.latest_complete(design.campaign_id)
            .filter(voter_id__in=[u.voter_id for u in batch])
            .values_list("voter_id", "reasons")
        )
        rows = [
            _message(design, u, variants[u.arm_id], compiled[u.arm_id], sender, reasons, domain)
            for u in batch
        ]
        with transaction.atomic():
            before = EmailMessage.objects.filter(design=design).count()
            EmailMessage.objects.bulk_create(rows, ignore_conflicts=True)
            written += EmailMessage.objects.filter(design=design).count() - before
    logger.info("program %s: %s emails queued", design.program_id, written)
    return written


def _units(design: ProgramDesign) -> Iterator[_Unit]:
    """The first voter of each treated unit (a lower-cased address), in address order."""
    rows = (
        Assignment.objects.filter(program_id=design.program_id, arm__is_control=False)
        .exclude(unit__isnull=True)
        .exclude(unit="")
        .order_by("unit", "voter_id")
        .values_list("voter_id", "arm_id", "unit", "voter__first_name", "voter__extra")
    )
    last = None
    for voter_id, arm_id, unit, first_name, extra in rows.iterator(chunk_size=5_000):
        if unit == last:
            continue
        last = unit
        yield _Unit(voter_id, arm_id, unit, first_name or "", extra or {})


def _batches(items: Iterator[_Unit], size: int) -> Iterator[list[_Unit]]:
    batch: list[_Unit] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _message(
    design: ProgramDesign,
    unit: _Unit,
    variant: MessageVariant,
    compiled: CompiledVariant,
    sender: str,
    reasons: dict,
    domain: str,
) -> EmailMessage:
    context = message_context(
        first_name=display_first_name(unit.first_name),
        polling_place=polling_place_of(unit.extra),
        talking_points=talking_points(reasons.get(unit.voter_id, {})),
        sender=sender,
    )
    rendered = compiled.render(context)
    return EmailMessage(
        campaign_id=design.campaign_id,
        design=design,
        arm_id=unit.arm_id,
        variant=variant,
        voter_id=unit.voter_id,
        address=unit.address,
        subject=rendered.subject,
        body=rendered.body,
        html_body=rendered.html_body,
        message_id=f"{uuid.uuid4().hex}@{domain}",
    )


# --------------------------------------------------------------------------------------------
# The message as sent: identity, postal address and the unsubscribe headers
# --------------------------------------------------------------------------------------------


class _FastCompat32(Compat32):
    """Django's policy (compat32), but a short header value of plain ASCII words is written as
    it stands: the very bytes the Header class would fold it into, without running its folding
    (a third of the cost of a message). Anything else folds as before."""

    def _fold(self, name: str, value, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and len(name) + 2 + len(value) <= (self.max_line_length or 78)
            and _PLAIN_HEADER.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


# Printable ASCII words joined by single spaces: nothing the Header class would encode or fold.
_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")
_FAST_POLICY = _FastCompat32()


class _OutboxEmail(EmailMultiAlternatives):
    """The message as Django builds it, serialized faster: the policy above, and a MIME boundary
    chosen here (checked absent from the bodies) rather than by the generator, which compiles a
    regular expression per message to check its own."""

    def message(self):
        msg = super().message()
        if msg.is_multipart():
            # Short enough for the Content-Type header to fit on one line (the fast path).
            boundary = f"=_s1_{uuid.uuid4().hex[:16]}"
            parts = (self.body, *(content for content, _ in self.alternatives))
            if not any(boundary in part for part in parts):
                msg.set_boundary(boundary)
        msg.policy = _FAST_POLICY
        return msg


def unsubscribe_url(token: str) -> str:
    return f"{settings.EMAIL_PUBLIC_BASE_URL.rstrip('/')}/email/unsubscribe/{token}/"


def unsubscribe_mailto(token: str) -> str:
    return f"mailto:{settings.EMAIL_UNSUBSCRIBE_MAILBOX}?subject={quote('unsubscribe ' + token)}"


def build_email(
    message: EmailMessage, campaign: Campaign, *, now: dt.datetime, connection=None
) -> EmailMultiAlternatives:
    """The message as the server gets it: From the campaign's identity, its postal address at
    the foot of both bodies, RFC 8058 one-click unsubscribe, our Message-ID and our id."""
    token = make_token(campaign_id=campaign.pk, message_id=message.pk, now=now)
    url = unsubscribe_url(token)
    headers = {
        "Message-ID": f"<{message.message_id}>",
        OUR_ID_HEADER: str(message.pk),
        "List-Unsubscribe": f"<{url}>, <{unsubscribe_mailto(token)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    email = _OutboxEmail(
        subject=message.subject,
        body=_text_with_footer(message.body, campaign, url),
        from_email=formataddr((campaign.email_from_name, campaign.email_from_address)),
        to=[message.address],
        headers=headers,
        connection=connection,
    )
    if message.html_body:
        email.attach_alternative(_html_with_footer(message.html_body, campaign, url), "text/html")
    return email


def _text_with_footer(body: str, campaign: Campaign, url: str) -> str:
    footer = f"{campaign.email_from_name}\n{campaign.postal_address.strip()}\nUnsubscribe: {url}"
    return f"{body.rstrip()}\n\n--\n{footer}\n"


def _html_with_footer(body: str, campaign: Campaign, url: str) -> str:
    lines = [campaign.email_from_name, *campaign.postal_address.strip().splitlines()]
    address = "<br>".join(html.escape(line.strip()) for line in lines)
    footer = (
        f'<hr><p style="font-size:12px;color:#555">{address}<br>'
        f'<a href="{html.escape(url)}">Unsubscribe</a></p>'
    )
    at = body.lower().rfind("</body>")
    return body[:at] + footer + body[at:] if at >= 0 else body + footer


# --------------------------------------------------------------------------------------------
# Sending a batch
# --------------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    canceled: int = 0
    unknown: int = 0
    capped: bool = False
    more: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def send_batch(
    *, campaign_id: int, now: dt.datetime, limit: int | None = None, connection=None
) -> BatchResult:
    """Send up to `limit` of the campaign's queued emails over one connection (see the module's
    docstring for why a killed batch sends nothing twice). `connection` is an email backend
    instance (tests pass one that fails on purpose); by default the configured backend."""
    result = BatchResult()
    campaign = Campaign.objects.get(pk=campaign_id)
    if _recovery_due(campaign_id, now):
        recover_stale_claims(now=now, campaign_id=campaign_id)
    if not campaign.has_email_identity:
        logger.warning("campaign %s: email not sent, no sender identity", campaign_id)
        return result
    if is_paused(campaign_id):
        return result
    limit = limit or settings.EMAIL_BATCH_SIZE
    claim_id, ids, result.capped = _claim(campaign, limit, now)
    # By primary key: claim_id has no index, and a scan of the outbox per batch grows with it.
    claimed = EmailMessage.objects.filter(pk__in=ids, claim_id=claim_id, status=EmailStatus.CLAIMED)
    result.canceled = _cancel_opted_out(claimed, now)
    messages = list(claimed.order_by("pk"))
    if messages:
        _send_claimed(messages, campaign, now, connection, result)
    # A full claim says more may wait (at worst one empty batch follows). Not a query for
    # queued rows: those of a paused variant are queued but never claimed, and other workers'
    # are theirs; beat comes back every minute for anything requeued meanwhile.
    result.more = not result.capped and len(ids) == limit
    logger.info(
        "email batch %s of campaign %s: %s sent, %s failed, %s canceled, %s unknown",
        claim_id, campaign_id, result.sent, result.failed, result.canceled, result.unknown,
    )  # fmt: skip
    return result


# Per process and campaign: when this worker last recovered dead workers' claims.
_last_recovery: dict[int, dt.datetime] = {}


def _recovery_due(campaign_id: int, now: dt.datetime) -> bool:
    """At most once a minute per worker and campaign (beat runs it every minute too): its two
    UPDATEs walk the in-flight index, which every sent message passed through, and before
    every batch they took a sixth of a batch's query time at 100,000 emails."""
    last = _last_recovery.get(campaign_id)
    if last is not None and last <= now < last + RECOVER_EVERY:
        return False
    _last_recovery[campaign_id] = now
    return True


def _claim(campaign: Campaign, limit: int, now: dt.datetime) -> tuple[uuid.UUID, list[int], bool]:
    claim_id = uuid.uuid4()
    with transaction.atomic():
        allowance, capped = _allowance(campaign, limit, now)
        if allowance <= 0:
            return claim_id, [], capped
        queued = (
            EmailMessage.objects.filter(
                campaign=campaign, status=EmailStatus.QUEUED,
                design__status=ProgramStatus.COMMITTED,
            )
            .exclude(variant_id__in=PausedVariant.objects.values("variant_id"))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
        )  # fmt: skip
        ids = list(queued.values_list("pk", flat=True)[:allowance])
        EmailMessage.objects.filter(pk__in=ids, status=EmailStatus.QUEUED).update(
            status=EmailStatus.CLAIMED, claim_id=claim_id, claimed_at=now
        )
    return claim_id, ids, capped


def _allowance(campaign: Campaign, limit: int, now: dt.datetime) -> tuple[int, bool]:
    """How many this batch may claim under the campaign's caps. The settings row is locked
    while a cap applies, so two batches cannot both take the last of the allowance."""
    caps = EmailSettings.objects.filter(campaign=campaign).exclude(per_minute=None, per_day=None)
    found = caps.select_for_update().first()
    if found is None:
        return limit, False
    taken = EmailMessage.objects.filter(campaign=campaign, claimed_at__isnull=False)
    room = limit
    if found.per_minute is not None:
        last_minute = taken.filter(claimed_at__gt=now - dt.timedelta(minutes=1)).count()
        room = min(room, found.per_minute - last_minute)
    if found.per_day is not None:
        local = now.astimezone(ZoneInfo(campaign.time_zone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        room = min(room, found.per_day - taken.filter(claimed_at__gte=midnight).count())
    room = max(room, 0)
    return room, room < limit


def _cancel_opted_out(claimed, now: dt.datetime) -> int:
    """Consent at send time: an address opted out since it was queued gets nothing."""
    opted_out = ConsentEvent.objects.in_force_opt_outs().filter(
        campaign=OuterRef("campaign"), channel=Channel.EMAIL, address=OuterRef("address")
    )
    return claimed.filter(Exists(opted_out)).update(
        status=EmailStatus.CANCELED, cancel_reason="opted_out", finished_at=now
    )


def _send_claimed(
    messages: list[EmailMessage],
    campaign: Campaign,
    now: dt.datetime,
    connection,
    result: BatchResult,
) -> None:
    connection = connection or get_connection(fail_silently=False)
    connection.open()
    try:
        for start in range(0, len(messages), HAND_OVER_GROUP):
            group = messages[start : start + HAND_OVER_GROUP]
            if not _send_group(group, campaign, now, connection, result):
                # The server is gone: the batch's later groups were never handed over.
                _release([m.pk for m in messages[start + HAND_OVER_GROUP :]])
                break
    finally:
        connection.close()


def _send_group(
    group: list[EmailMessage],
    campaign: Campaign,
    now: dt.datetime,
    connection,
    result: BatchResult,
) -> bool:
    """One group: built, handed over in one commit, sent on the batch's connection, its
    outcomes written in one commit. False when the connection broke and would not reopen."""
    # Built (and serialized, when pipelining) before the hand-over, so a message that cannot be
    # built is never `sending`.
    pipelined = _pipelining_smtp(connection) is not None
    built = [(m.pk, _outgoing(build_email(m, campaign, now=now), pipelined)) for m in group]
    handed = _hand_over([message_id for message_id, _ in built])
    todo = [(message_id, outgoing) for message_id, outgoing in built if message_id in handed]
    outcomes: dict[str, list[int]] = {
        EmailStatus.SENT: [], EmailStatus.FAILED: [], EmailStatus.UNKNOWN: [],
    }  # fmt: skip
    alive, reopens = True, 0
    while todo and alive:
        done = _hand_to_server(connection, [outgoing for _, outgoing in todo])
        for (message_id, _), outcome in zip(todo, done, strict=False):
            outcomes[outcome].append(message_id)
        todo = todo[len(done) :]
        if todo or (done and done[-1] == EmailStatus.UNKNOWN):
            # The connection broke (the message it had, if any, is lost). The rest of the group
            # is ours and was never attempted, so it may go out on a new connection.
            reopens += 1
            alive = reopens <= MAX_REOPENS and _reopen(connection)
    # Handed over, never attempted, and the server is gone: `sending` may not go back to the
    # queue (the trigger holds that), so their outcome is recorded as unknown.
    outcomes[EmailStatus.UNKNOWN] += [message_id for message_id, _ in todo]
    _finish_group(outcomes, now, result)
    return alive


def _pipelining_smtp(connection) -> smtplib.SMTP | None:
    """The open smtplib connection of Django's own SMTP backend when its server advertises
    PIPELINING; None for any other backend (a provider's, the console) or a subclass that
    overrides send_messages (it wants every message through it), which get one call each."""
    if type(connection).send_messages is not SmtpBackend.send_messages:
        return None
    smtp = getattr(connection, "connection", None)
    if not isinstance(smtp, smtplib.SMTP):
        return None
    try:
        return smtp if supports_pipelining(smtp) else None
    except (smtplib.SMTPException, OSError):
        return None  # the one-by-one path meets the same error and records it


def _outgoing(email: EmailMultiAlternatives, pipelined: bool) -> EmailMultiAlternatives | Envelope:
    if not pipelined:
        return email
    # What Django's SMTP backend would hand smtplib, byte for byte.
    encoding = email.encoding or settings.DEFAULT_CHARSET
    return Envelope(
        sender=_sanitized(email.from_email, encoding),
        recipients=[_sanitized(a, encoding) for a in email.recipients()],
        data=email.message().as_bytes(linesep="\r\n"),
    )


# A bare ASCII address that Django's sanitize_address returns unchanged.
_BARE_ADDRESS = re.compile(r"[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


@functools.lru_cache(maxsize=64)
def _sanitized_cached(address: str, encoding: str) -> str:
    return sanitize_address(address, encoding)


def _sanitized(address: str, encoding: str) -> str:
    # sanitize_address parses with the email package's header parser: a tenth of a message's
    # cost. A bare address comes out as it went in, and a batch has one sender.
    if _BARE_ADDRESS.fullmatch(address):
        return address
    return _sanitized_cached(address, encoding)


def _hand_to_server(connection, outgoing: list) -> list[str]:
    """The outcomes of the messages in order, stopping after an unknown one (the connection
    is broken): the ones past the end were not handed to the server."""
    smtp = _pipelining_smtp(connection)
    if smtp is not None and all(isinstance(o, Envelope) for o in outgoing):
        return send_pipelined(smtp, outgoing)
    done: list[str] = []
    for email in outgoing:
        done.append(_send_one(connection, email))
        if done[-1] == EmailStatus.UNKNOWN:
            break
    return done


def _hand_over(message_ids: list[int]) -> set[int]:
    """The group's claimed messages become `sending` in one commit, which waits for the disk
    (synchronous_commit stays on) before the server sees any of them: from then on a dead
    worker's message only ever becomes sent, failed or unknown, never queued again. Returns the
    ids moved (a message recovered meanwhile by someone who took us for dead is not)."""
    with transaction.atomic():
        ids = list(
            EmailMessage.objects.filter(pk__in=message_ids, status=EmailStatus.CLAIMED)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        EmailMessage.objects.filter(pk__in=ids).update(status=EmailStatus.SENDING)
    return set(ids)


def _reopen(connection) -> bool:
    # Closing a broken connection may fail; the new connection is what matters.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        connection.close()
    try:
        connection.open()
    except (smtplib.SMTPException, OSError):
        logger.warning("email connection lost and not reopened")
        return False
    return True


def _send_one(connection, email: EmailMultiAlternatives | Envelope) -> str:
    try:
        if isinstance(email, Envelope):  # serialized for a server that stopped pipelining
            connection.connection.sendmail(email.sender, email.recipients, email.data)
        else:
            connection.send_messages([email])
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused):
        return EmailStatus.FAILED
    except smtplib.SMTPDataError as exc:
        # 5xx: the server refused this message for good; 4xx: it may have been a hiccup, but
        # retrying could send twice, so the outcome is unknown.
        return EmailStatus.FAILED if 500 <= exc.smtp_code < 600 else EmailStatus.UNKNOWN
    except (smtplib.SMTPException, OSError):
        return EmailStatus.UNKNOWN
    return EmailStatus.SENT


def _finish_group(outcomes: dict[str, list[int]], now: dt.datetime, result: BatchResult) -> None:
    """The group's outcomes and the contact attempts of its sent and refused messages, in one
    commit: a worker killed before it leaves the whole group `sending` (unknown on recovery)."""
    sending = EmailMessage.objects.filter(status=EmailStatus.SENDING)
    with transaction.atomic():
        sent = outcomes[EmailStatus.SENT]
        result.sent += sending.filter(pk__in=sent).update(status=EmailStatus.SENT, sent_at=now)
        failed = outcomes[EmailStatus.FAILED]
        result.failed += sending.filter(pk__in=failed).update(
            status=EmailStatus.FAILED, finished_at=now
        )
        result.unknown += sending.filter(pk__in=outcomes[EmailStatus.UNKNOWN]).update(
            status=EmailStatus.UNKNOWN
        )
        # The server accepted it: the voter's contact (a later bounce is a contact of its own).
        contacts = [
            (sent, ContactResult.DELIVERED, "sent"),
            (failed, ContactResult.FAILED, "refused"),
        ]
        for ids, contact_result, note in contacts:
            if ids:
                record_email_contacts(ids, result=contact_result, at=now, note=note)


def record_email_contacts(
    message_ids: list[int], *, result: str, at: dt.datetime, note: str
) -> int:
    """Contact attempts of the emails' voters, on their program's arm (the program page counts
    them; the voter's timeline lists them). An `opted_out` result's ledger event is the
    caller's, written for the exact address the email went to."""
    rows = EmailMessage.objects.filter(pk__in=message_ids).values_list(
        "campaign_id", "voter_id", "design__program_id", "arm_id", "variant__name"
    )
    return record_contacts(
        contacts=[
            NewContact(
                campaign_id=campaign_id, voter_id=voter_id, channel=Channel.EMAIL, result=result,
                occurred_at=at, source=ContactSource.VENDOR_API, program_id=program_id,
                arm_id=arm_id, variant=variant, note=f"email {note}",
            )
            for campaign_id, voter_id, program_id, arm_id, variant in rows
        ],
        opt_outs_recorded=result == ContactResult.OPTED_OUT,
    )  # fmt: skip


def _release(ids: list[int]) -> int:
    """Claimed messages never handed over go back to the queue (safe: the server never saw
    them)."""
    return EmailMessage.objects.filter(pk__in=ids, status=EmailStatus.CLAIMED).update(
        status=EmailStatus.QUEUED, claim_id=None, claimed_at=None
    )


def recover_stale_claims(*, now: dt.datetime, campaign_id: int | None = None) -> dict[str, int]:
    """A dead worker's messages: claimed ones go back to the queue, the ones it had handed to
    the server become `unknown` (it may have sent them; a blind resend could send twice)."""
    stale = EmailMessage.objects.filter(claimed_at__lte=now - CLAIM_TIMEOUT)
    if campaign_id is not None:
        stale = stale.filter(campaign_id=campaign_id)
    requeued = stale.filter(status=EmailStatus.CLAIMED).update(
        status=EmailStatus.QUEUED, claim_id=None, claimed_at=None
    )
    lost = stale.filter(status=EmailStatus.SENDING).update(status=EmailStatus.UNKNOWN)
    if requeued or lost:
        logger.info("email recovery: %s requeued, %s unknown", requeued, lost)
    return {"requeued": requeued, "unknown": lost}


def campaigns_with_queued_email() -> list[int]:
    return list(
        EmailMessage.objects.filter(status=EmailStatus.QUEUED)
        .values_list("campaign_id", flat=True)
        .distinct()
        .order_by()
    )
