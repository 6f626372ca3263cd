"""The email outbox (messaging.email): filled from a committed program, sent in batches over one
SMTP connection to a real local server (aiosmtpd), with the identity and unsubscribe headers on
every message, consent at send time, caps, and no address twice when a worker dies mid-batch."""

from __future__ import annotations

import datetime as dt
import socket
from email.policy import compat32
from urllib.parse import quote, unquote

import pytest
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import sanitize_address
from django.db import ProgrammingError, transaction

from messaging.email import (
    CLAIM_TIMEOUT,
    _sanitized,
    build_email,
    email_settings_of,
    fill_email_outbox,
    send_batch,
)
from messaging.email_tokens import read_token
from messaging.models import EmailMessage, EmailStatus
from messaging.programs import cancel_program
from tests.factories import CampaignFactory, ConsentEventFactory
from tests.messaging.email_setup import (
    NOW,
    email_program,
    email_voters,
    start_smtp_server,
    with_identity,
)
from voters.models import Assignment

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one_by_one", "pipelined"])
def smtp(request, settings):
    """A real SMTP server; every test runs against one that advertises PIPELINING (one round
    trip a message) and one that does not (smtplib's sendmail, message by message)."""
    controller, received = start_smtp_server(pipelining=request.param == "pipelined")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_PUBLIC_BASE_URL = "https://vote.example"
    settings.EMAIL_UNSUBSCRIBE_MAILBOX = "unsubscribe@vote.example"
    yield received
    controller.stop()


@pytest.fixture
def home(campaign):
    return with_identity(campaign)


def statuses(design) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in EmailMessage.objects.filter(design=design).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def queued_program(campaign, n: int, **kwargs):
    design = email_program(campaign, email_voters(campaign, n), **kwargs)
    fill_email_outbox(design=design)
    return design


# -- filling ---------------------------------------------------------------------------------


def test_a_committed_program_queues_one_email_per_treated_address_and_none_for_control(home):
    design = email_program(home, email_voters(home, 12), control_share=0.3)
    units = Assignment.objects.filter(program_id=design.program_id)
    treated = set(units.filter(arm__is_control=False).values_list("unit", flat=True))
    control = set(units.filter(arm__is_control=True).values_list("unit", flat=True))

    queued = fill_email_outbox(design=design)
    again = fill_email_outbox(design=design)

    emails = EmailMessage.objects.filter(design=design)
    assert control
    assert (queued, again) == (len(treated), 0)
    assert set(emails.values_list("address", flat=True)) == treated  # lower-cased units
    assert all(a == a.lower() for a in treated)
    assert set(emails.values_list("status", flat=True)) == {"queued"}
    one = emails.get(address="voter3@example.org") if "voter3@example.org" in treated else None
    if one is not None:
        assert (one.subject, one.body) == ("A note for Voter3", "Hi Voter3, from Home campaign.")


def test_committing_an_email_program_fills_its_outbox(
    home, smtp, django_capture_on_commit_callbacks
):
    voters = email_voters(home, 3)

    with django_capture_on_commit_callbacks(execute=True):
        design = email_program(home, voters)

    assert EmailMessage.objects.filter(design=design).count() == 3


# -- sending: headers, one connection --------------------------------------------------------


def test_every_message_carries_identity_postal_address_and_one_click_unsubscribe(home, smtp):
    design = queued_program(home, 4)

    result = send_batch(campaign_id=home.pk, now=NOW)

    assert (result.sent, result.failed, result.unknown) == (4, 0, 0)
    assert statuses(design) == {"sent": 4}
    assert len(smtp.messages) == 4
    by_address = {m.address: m for m in EmailMessage.objects.filter(design=design)}
    for rcpts, parsed in smtp.messages:
        row = by_address[rcpts[0]]
        assert rcpts == [row.address]
        assert parsed["From"] == "Home Campaign <news@home.example>"
        assert parsed["To"] == row.address
        assert parsed["Subject"] == row.subject
        assert parsed["Message-ID"] == f"<{row.message_id}>"
        assert parsed["X-Segment-One-Message"] == str(row.pk)
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url, mailto = (part.strip().strip("<>") for part in parsed["List-Unsubscribe"].split(","))
        assert url.startswith("https://vote.example/email/unsubscribe/")
        assert url.endswith("/")
        token = url.removeprefix("https://vote.example/email/unsubscribe/").rstrip("/")
        assert mailto == f"mailto:unsubscribe@vote.example?subject={quote('unsubscribe ' + token)}"
        assert unquote(mailto.partition("subject=")[2]) == f"unsubscribe {token}"
        read = read_token(token, now=NOW)
        assert (read.campaign_id, read.message_id) == (home.pk, row.pk)
        assert row.address not in url  # no address in a URL
        # SMTP carries CRLF line ends.
        text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = parsed.get_body(("html",)).get_content().replace("\r\n", "\n")
        assert text == (
            f"{row.body}\n\n--\nHome Campaign\nPO Box 12\nDurham, NC 27701\nUnsubscribe: {url}\n"
        )
        assert html.startswith(row.html_body.removesuffix("</body></html>"))
        assert "PO Box 12<br>Durham, NC 27701" in html
        assert f'href="{url}"' in html
    assert len({p["Message-ID"] for _, p in smtp.messages}) == 4


@pytest.mark.parametrize(
    ("subject", "body", "html_body"),
    [
        ("A note for Voter3", "Hi Voter3.", "<html><body><p>Hi</p></body></html>"),
        ("Ünïcode for Zoë", "Héllo " + "y" * 1200, ""),
        ("x" * 120, "plain", "<p>no body tag</p>"),
        ("two  spaces, a\ttab and a trailing space ", "a\r\nb", ""),
        ("=?utf-8?q?looks_encoded?= ; , :" * 4, "=_s1_ in a body", "<b>=_s1_</b>"),
        ("", "", ""),
    ],
)
def test_messages_are_serialized_byte_for_byte_as_django_s_own_policy_would(
    home, subject, body, html_body
):
    row = EmailMessage(pk=7, campaign=home, address="voter7@example.org", subject=subject,
                       body=body, html_body=html_body, message_id="m7@home.example")  # fmt: skip
    mime = build_email(row, home, now=NOW).message()

    fast = mime.as_bytes(linesep="\r\n")
    mime.policy = compat32  # Django's own, on the same boundary
    assert fast == mime.as_bytes(linesep="\r\n")


@pytest.mark.parametrize(
    "address",
    [
        "voter9@example.org", "Voter.9+x@mail.example.co.uk", "Home Campaign <news@home.example>",
        "zoë@exämple.org", "a@localhost", "\"odd, quoted\"@example.org", "x@-dash.example",
    ],
)  # fmt: skip
def test_envelope_addresses_are_what_django_s_smtp_backend_would_send(address):
    assert _sanitized(address, "utf-8") == sanitize_address(address, "utf-8")


def test_a_batch_reuses_one_smtp_connection(home, smtp):
    queued_program(home, 5)
    opened: list[int] = []

    class Counting(EmailBackend):
        def open(self):
            opened.append(1) if self.connection is None else None
            return super().open()

    send_batch(campaign_id=home.pk, now=NOW, connection=Counting(fail_silently=False))

    assert (len(opened), len(smtp.messages)) == (1, 5)


def test_batches_take_the_queue_in_turn_and_say_when_more_is_left(home, smtp):
    design = queued_program(home, 5)

    first = send_batch(campaign_id=home.pk, now=NOW, limit=3)
    second = send_batch(campaign_id=home.pk, now=NOW, limit=3)

    assert (first.sent, first.more, second.sent, second.more) == (3, True, 2, False)
    assert statuses(design) == {"sent": 5}
    assert len(smtp.recipients()) == len(set(smtp.recipients())) == 5


# -- consent, identity, caps, pause ---------------------------------------------------------


def test_an_address_opted_out_after_queueing_is_canceled_at_send_time(home, smtp):
    design = queued_program(home, 3)
    ConsentEventFactory(campaign=home, voter=None, channel="email",
                        address="voter1@example.org", source="unsubscribe")  # fmt: skip

    result = send_batch(campaign_id=home.pk, now=NOW)

    assert (result.sent, result.canceled) == (2, 1)
    assert statuses(design) == {"sent": 2, "canceled": 1}
    assert "voter1@example.org" not in smtp.recipients()


def test_a_campaign_without_its_postal_address_sends_nothing(home, smtp):
    design = queued_program(home, 2)
    home.postal_address = " "
    home.save()

    result = send_batch(campaign_id=home.pk, now=NOW)

    assert (result.sent, smtp.messages, statuses(design)) == (0, [], {"queued": 2})


def test_over_the_per_minute_cap_mail_waits_and_never_fails(home, smtp):
    design = queued_program(home, 5)
    settings_row = email_settings_of(home)
    settings_row.per_minute = 3
    settings_row.save()

    first = send_batch(campaign_id=home.pk, now=NOW)
    same_minute = send_batch(campaign_id=home.pk, now=NOW + dt.timedelta(seconds=30))
    next_minute = send_batch(campaign_id=home.pk, now=NOW + dt.timedelta(seconds=61))

    assert (first.sent, first.capped, same_minute.sent, next_minute.sent) == (3, True, 0, 2)
    assert statuses(design) == {"sent": 5}


def test_a_paused_campaign_sends_nothing(home, smtp):
    design = queued_program(home, 2)
    settings_row = email_settings_of(home)
    settings_row.paused_at = NOW
    settings_row.save()

    send_batch(campaign_id=home.pk, now=NOW)

    assert (smtp.messages, statuses(design)) == ([], {"queued": 2})


def test_a_cancelled_program_s_queued_mail_is_canceled_and_never_sent(home, smtp):
    design = queued_program(home, 2)

    cancel_program(design=design)
    result = send_batch(campaign_id=home.pk, now=NOW)

    assert (result.sent, smtp.messages, statuses(design)) == (0, [], {"canceled": 2})
    reasons = EmailMessage.objects.filter(design=design).values_list("cancel_reason", flat=True)
    assert set(reasons) == {"program_cancelled"}


def test_another_campaign_s_batch_sends_none_of_ours(home, smtp):
    queued_program(home, 2)
    rival = with_identity(CampaignFactory(slug="rival-mail"))

    result = send_batch(campaign_id=rival.pk, now=NOW)

    assert (result.sent, smtp.messages) == (0, [])


def test_a_refused_recipient_fails_and_the_batch_goes_on(home, smtp):
    design = queued_program(home, 3)
    smtp.refuse.add("voter0@example.org")

    result = send_batch(campaign_id=home.pk, now=NOW)

    assert (result.sent, result.failed) == (2, 1)
    assert statuses(design) == {"sent": 2, "failed": 1}
    assert EmailMessage.objects.get(address="voter0@example.org").status == "failed"


# -- a worker killed mid-batch -----------------------------------------------------------------


class DiesAfter(EmailBackend):
    """A worker killed right after the server accepted its `n`th message: nothing after it
    runs (no mark, no cleanup of ours), like SIGKILL."""

    def __init__(self, n: int, **kwargs):
        super().__init__(fail_silently=False, **kwargs)
        self.left = n

    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        self.left -= sent
        if self.left <= 0:
            raise SystemExit("killed")
        return sent


def test_a_worker_killed_mid_batch_sends_no_address_twice_and_loses_none(home, smtp):
    design = queued_program(home, 10)

    with pytest.raises(SystemExit):
        send_batch(campaign_id=home.pk, now=NOW, connection=DiesAfter(3))
    assert statuses(design) == {"sending": 10}  # one group of up to 50, handed over at once
    soon = send_batch(campaign_id=home.pk, now=NOW + dt.timedelta(minutes=1))
    assert soon.sent == 0  # the dead worker's claim is not yet taken for dead
    later = send_batch(campaign_id=home.pk, now=NOW + CLAIM_TIMEOUT + dt.timedelta(seconds=1))

    assert (later.sent, later.unknown) == (0, 0)
    assert statuses(design) == {"unknown": 10}  # handed over, outcome lost: no resend
    recipients = smtp.recipients()
    assert len(recipients) == len(set(recipients)) == 3


def test_a_worker_killed_mid_group_leaves_that_group_unknown_and_the_rest_to_a_rerun(
    home, smtp, monkeypatch
):
    monkeypatch.setattr("messaging.email.HAND_OVER_GROUP", 4)
    design = queued_program(home, 10)
    by_pk = list(EmailMessage.objects.filter(design=design).order_by("pk"))

    # Groups of 4: the first sent and marked, the second killed after 2 of its 4 went out.
    with pytest.raises(SystemExit):
        send_batch(campaign_id=home.pk, now=NOW, connection=DiesAfter(6))
    assert statuses(design) == {"sent": 4, "sending": 4, "claimed": 2}
    later = send_batch(campaign_id=home.pk, now=NOW + CLAIM_TIMEOUT + dt.timedelta(seconds=1))

    assert (later.sent, later.unknown, later.failed) == (2, 0, 0)
    rows = {m.pk: m.status for m in EmailMessage.objects.filter(design=design)}
    assert [rows[m.pk] for m in by_pk] == ["sent"] * 4 + ["unknown"] * 4 + ["sent"] * 2
    recipients = smtp.recipients()
    assert len(recipients) == len(set(recipients)) == 8
    assert set(recipients) == {m.address for m in by_pk[:6] + by_pk[8:]}
    assert EmailMessage.objects.filter(design=design, status="queued").count() == 0


def test_a_rerun_after_a_kill_sends_each_never_handed_over_address_exactly_once(
    home, smtp, monkeypatch
):
    monkeypatch.setattr("messaging.email.HAND_OVER_GROUP", 3)
    design = queued_program(home, 20)

    with pytest.raises(SystemExit):
        send_batch(campaign_id=home.pk, now=NOW, limit=12, connection=DiesAfter(7))
    # Claimed 12 of the 20: groups of 3, two sent, the third killed after 1 of 3 went out.
    assert statuses(design) == {"sent": 6, "sending": 3, "claimed": 3, "queued": 8}
    later = NOW + CLAIM_TIMEOUT + dt.timedelta(seconds=1)
    while send_batch(campaign_id=home.pk, now=later, limit=5).more:
        pass

    assert statuses(design) == {"sent": 17, "unknown": 3}
    recipients = smtp.recipients()
    assert len(recipients) == len(set(recipients)) == 18  # the unknown group's first went out
    unknown = set(
        EmailMessage.objects.filter(design=design, status="unknown").values_list(
            "address", flat=True
        )
    )
    assert len(unknown & set(recipients)) == 1


def test_a_broken_connection_mid_group_loses_one_message_and_sends_the_rest_on_a_new_one(
    home, smtp
):
    design = queued_program(home, 6)

    class DropsThird(EmailBackend):
        """The connection breaks as the third message goes out (the worker cannot tell
        whether the server got it)."""

        calls = 0

        def send_messages(self, email_messages):
            DropsThird.calls += 1
            if DropsThird.calls == 3:
                self.connection.sock.shutdown(socket.SHUT_RDWR)
            return super().send_messages(email_messages)

    result = send_batch(campaign_id=home.pk, now=NOW, connection=DropsThird(fail_silently=False))

    assert (result.sent, result.unknown, result.failed) == (5, 1, 0)
    assert statuses(design) == {"sent": 5, "unknown": 1}
    recipients = smtp.recipients()
    assert len(recipients) == len(set(recipients)) == 5


def killed_after_pipelined(monkeypatch, n: int) -> None:
    """A pipelining worker killed right after reading the server's acceptance of its `n`th
    message: nothing after it runs, like SIGKILL."""
    from messaging import smtp_pipelining

    accepted = {"count": 0}
    real = smtp_pipelining._outcome

    def outcome(code: int) -> str:
        found = real(code)
        accepted["count"] += found == "sent"
        if accepted["count"] >= n:
            raise SystemExit("killed")
        return found

    monkeypatch.setattr(smtp_pipelining, "_outcome", outcome)


def test_a_pipelining_worker_killed_mid_group_leaves_that_group_unknown_and_the_rest_to_a_rerun(
    home, settings, monkeypatch
):
    controller, received = start_smtp_server(pipelining=True)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    monkeypatch.setattr("messaging.email.HAND_OVER_GROUP", 4)
    design = queued_program(home, 10)
    by_pk = list(EmailMessage.objects.filter(design=design).order_by("pk"))

    killed_after_pipelined(monkeypatch, 6)
    with pytest.raises(SystemExit):
        send_batch(campaign_id=home.pk, now=NOW)
    monkeypatch.undo()
    assert statuses(design) == {"sent": 4, "sending": 4, "claimed": 2}
    # The 7th message's content was already out with the 8th's envelope when the worker died.
    delivered_before = len(received.recipients())
    later = send_batch(campaign_id=home.pk, now=NOW + CLAIM_TIMEOUT + dt.timedelta(seconds=1))
    controller.stop()

    assert delivered_before in (6, 7)
    assert (later.sent, later.unknown, later.failed) == (2, 0, 0)
    rows = {m.pk: m.status for m in EmailMessage.objects.filter(design=design)}
    assert [rows[m.pk] for m in by_pk] == ["sent"] * 4 + ["unknown"] * 4 + ["sent"] * 2
    recipients = received.recipients()
    assert len(recipients) == len(set(recipients)) == delivered_before + 2
    assert set(recipients) >= {m.address for m in by_pk[:6] + by_pk[8:]}
    assert set(recipients) <= {m.address for m in by_pk[:8] + by_pk[8:]}


def test_the_database_refuses_sending_a_handed_over_email_again(home, smtp):
    design = queued_program(home, 1)
    send_batch(campaign_id=home.pk, now=NOW)

    with pytest.raises(ProgrammingError), transaction.atomic():
        EmailMessage.objects.filter(design=design).update(status=EmailStatus.QUEUED)

    assert statuses(design) == {"sent": 1}
