"""Unsubscribing from a campaign's email (issue 15 §2): the one-click POST, the confirmation
page's button, and the mailto, all through `unsubscribe`; re-subscribing through `resubscribe`,
which only the person can reach (it needs their token).

An unsubscribe is an opt-out in the consent ledger (source `unsubscribe`) for the campaign and
the address the token's email went to, so it holds for every email of that campaign, whichever
voter record carries the address. A repeated unsubscribe writes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from campaign.models import Campaign
from messaging.email import record_email_contacts
from messaging.email_tokens import BadToken, read_token
from messaging.models import EmailMessage
from voters.consent import is_contactable, record_opt_in, record_opt_out
from voters.models import Channel, ConsentSource, ContactResult, Voter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscription:
    """Whom a token speaks for: never shown with the address (the page names the campaign)."""

    campaign: Campaign
    message: EmailMessage

    @property
    def is_subscribed(self) -> bool:
        return is_contactable(
            campaign=self.campaign, channel=Channel.EMAIL, address=self.message.address
        )


def subscription_of(token: str, *, now: dt.datetime) -> Subscription:
    """The campaign and email a token names; BadToken when it is not one of ours, has expired,
    or names an email that does not exist in that campaign."""
    found = read_token(token, now=now)
    message = (
        EmailMessage.objects.select_related("campaign")
        .filter(pk=found.message_id, campaign_id=found.campaign_id)
        .first()
    )
    if message is None:
        raise BadToken("the token names no email of its campaign")
    return Subscription(campaign=message.campaign, message=message)


def unsubscribe(*, token: str, now: dt.datetime, via: str, client_ip: str | None = None) -> bool:
    """Opts the token's address out of the campaign's email at once; False when it already
    was (nothing written). `via` ("one-click", "page", "mailto") is kept as the event's actor."""
    subscription = subscription_of(token, now=now)
    if not subscription.is_subscribed:
        return False
    record_opt_out(
        campaign=subscription.campaign,
        channel=Channel.EMAIL,
        address=subscription.message.address,
        source=ConsentSource.UNSUBSCRIBE,
        occurred_at=now,
        voter=_voter(subscription.message),
        actor=f"unsubscribe ({via})",
        client_ip=client_ip,
    )
    record_email_contacts(
        [subscription.message.pk], result=ContactResult.OPTED_OUT, at=now, note=f"unsubscribe {via}"
    )
    logger.info("email %s: unsubscribed (%s)", subscription.message.pk, via)
    return True


def resubscribe(*, token: str, now: dt.datetime, client_ip: str | None = None) -> bool:
    """The person opts back in (their token is the proof); False when they were subscribed."""
    subscription = subscription_of(token, now=now)
    if subscription.is_subscribed:
        return False
    record_opt_in(
        campaign=subscription.campaign,
        channel=Channel.EMAIL,
        address=subscription.message.address,
        source=ConsentSource.RESUBSCRIBE,
        occurred_at=now,
        voter=_voter(subscription.message),
        actor="resubscribe (page)",
        client_ip=client_ip,
    )
    logger.info("email %s: re-subscribed", subscription.message.pk)
    return True


def _voter(message: EmailMessage) -> Voter | None:
    return Voter.objects.filter(pk=message.voter_id, campaign_id=message.campaign_id).first()
