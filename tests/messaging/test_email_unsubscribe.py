"""Unsubscribing (messaging.email_views, messaging.email_unsubscribe): a cookie-less one-click
POST suppresses at once, a GET never does, tokens are signed and still work 60 days later, the
mailto's inbound endpoint does the same, and only the person re-subscribes."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone

from messaging.email import fill_email_outbox, send_batch
from messaging.email_tokens import make_token
from messaging.models import EmailMessage
from tests.factories import EmailMessageFactory, VoterFactory
from tests.messaging.email_setup import email_program, email_voters, with_identity
from voters.models import ConsentEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(campaign):
    return EmailMessageFactory(campaign=campaign, address="ann@example.org")


def token_for(message, *, age: dt.timedelta = dt.timedelta(0)) -> str:
    return make_token(
        campaign_id=message.campaign_id, message_id=message.pk, now=timezone.now() - age
    )


def url_of(token: str) -> str:
    return f"/email/unsubscribe/{token}/"


def one_click(token: str):
    """What a mail provider sends (RFC 8058): no cookie, no CSRF token, a form body."""
    strict = Client(enforce_csrf_checks=True)
    return strict.post(url_of(token), {"List-Unsubscribe": "One-Click"})


def opt_outs() -> list[tuple]:
    return list(
        ConsentEvent.objects.order_by("id").values_list("channel", "address", "kind", "source")
    )


def test_a_get_shows_a_confirmation_and_unsubscribes_no_one(message):
    response = Client(enforce_csrf_checks=True).get(url_of(token_for(message)))

    assert response.status_code == 200
    assert b'name="List-Unsubscribe" value="One-Click"' in response.content
    assert b"ann@example.org" not in response.content
    assert ConsentEvent.objects.count() == 0


def test_a_cookie_less_one_click_post_unsubscribes_at_once_and_once(message):
    token = token_for(message)

    first = one_click(token)
    again = one_click(token)

    assert (first.status_code, again.status_code) == (200, 200)
    assert not first.cookies
    assert opt_outs() == [("email", "ann@example.org", "opt_out", "unsubscribe")]
    event = ConsentEvent.objects.get()
    assert (event.voter_id, event.actor) == (message.voter_id, "unsubscribe (one-click)")


def test_a_post_without_the_one_click_field_changes_nothing(message):
    response = Client(enforce_csrf_checks=True).post(url_of(token_for(message)), {"x": "1"})

    assert response.status_code == 400
    assert ConsentEvent.objects.count() == 0


@pytest.mark.parametrize("days", [45, 60, 364])
def test_an_old_token_still_unsubscribes(message, days):
    response = one_click(token_for(message, age=dt.timedelta(days=days)))

    assert response.status_code == 200
    assert len(opt_outs()) == 1


def test_an_expired_tampered_or_foreign_token_is_refused_with_nothing_written(
    message, other_campaign
):
    expired = token_for(message, age=dt.timedelta(days=366))
    good = token_for(message)
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    # Signed by us, but naming another campaign than the email's.
    foreign = make_token(campaign_id=other_campaign.pk, message_id=message.pk, now=timezone.now())

    responses = [one_click(t).status_code for t in (expired, tampered, foreign)]
    pages = [Client().get(url_of(t)).status_code for t in (expired, tampered, foreign)]

    assert responses == pages == [404, 404, 404]
    assert ConsentEvent.objects.count() == 0


def test_the_person_can_resubscribe_from_the_page(message):
    token = token_for(message)
    one_click(token)

    response = Client(enforce_csrf_checks=True).post(url_of(token), {"action": "resubscribe"})

    assert response.status_code == 200
    assert opt_outs() == [
        ("email", "ann@example.org", "opt_out", "unsubscribe"),
        ("email", "ann@example.org", "opt_in", "resubscribe"),
    ]


def test_an_unsubscribed_address_gets_no_more_of_the_campaign_s_email(campaign, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with_identity(campaign)
    voters = email_voters(campaign, 2)
    first = email_program(campaign, voters, name="First")
    fill_email_outbox(design=first)
    send_batch(campaign_id=campaign.pk, now=timezone.now())
    sent_to_voter0 = EmailMessage.objects.get(design=first, address="voter0@example.org")
    one_click(token_for(sent_to_voter0))
    # Another voter record with the same address (a household member), and a newcomer.
    others = [
        VoterFactory(campaign=campaign, email="VOTER0@example.org"),
        VoterFactory(campaign=campaign, email="voter1@example.org"),
    ]
    second = email_program(campaign, others, name="Second")
    fill_email_outbox(design=second)

    send_batch(campaign_id=campaign.pk, now=timezone.now())

    later = dict(EmailMessage.objects.filter(design=second).values_list("address", "status"))
    assert later == {"voter0@example.org": "canceled", "voter1@example.org": "sent"}


# -- the mailto ------------------------------------------------------------------------------


def inbound(subject: str, *, password: str | None = "s3cret"):
    headers = {}
    if password is not None:
        basic = base64.b64encode(f"parse:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    return Client(enforce_csrf_checks=True).post(
        "/email/inbound/", {"subject": subject, "from": "x@example.org"}, headers=headers
    )


def test_the_mailto_reaches_an_inbound_endpoint_that_unsubscribes(message, settings):
    settings.EMAIL_INBOUND_SECRET = "s3cret"
    subject = f"unsubscribe {token_for(message)}"

    first = inbound(subject)
    again = inbound(subject)

    assert (first.status_code, again.status_code) == (200, 200)
    assert opt_outs() == [("email", "ann@example.org", "opt_out", "unsubscribe")]
    assert ConsentEvent.objects.get().actor == "unsubscribe (mailto)"


def test_the_inbound_endpoint_refuses_the_unauthenticated_and_ignores_bad_tokens(message, settings):
    settings.EMAIL_INBOUND_SECRET = "s3cret"
    subject = f"unsubscribe {token_for(message)}"

    statuses = [
        inbound(subject, password=None).status_code,
        inbound(subject, password="wrong").status_code,
        inbound("unsubscribe not-a-token").status_code,
        inbound("hello").status_code,
    ]

    assert statuses == [401, 401, 200, 200]
    assert ConsentEvent.objects.count() == 0


def test_the_mailto_s_subject_as_a_mail_client_decodes_it_works(message, settings):
    settings.EMAIL_INBOUND_SECRET = "s3cret"
    token = token_for(message)
    # The header's mailto carries the subject percent-encoded; a mail client decodes it.
    from urllib.parse import unquote

    subject = unquote(quote(f"unsubscribe {token}"))

    assert inbound(subject).status_code == 200
    assert len(opt_outs()) == 1
