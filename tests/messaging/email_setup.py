"""Email programs and a real SMTP server (aiosmtpd, in-process) for the email tests."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program
from tests.factories import MessageVariantFactory, VoterFactory

NOW = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)


@dataclass
class Received:
    """What the server accepted: one (envelope recipients, parsed message) per DATA."""

    messages: list = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    # Advertise PIPELINING (aiosmtpd reads commands from a stream in order, so it copes with
    # pipelined clients; it only does not say so).
    pipelining: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def recipients(self) -> list[str]:
        return [rcpt for rcpts, _ in self.messages for rcpt in rcpts]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_smtp_server(*, pipelining: bool = False) -> tuple[Controller, Received]:
    received = Received(pipelining=pipelining)
    controller = Controller(received, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, received


def with_identity(campaign):
    campaign.email_from_name = "Home Campaign"
    campaign.email_from_address = "news@home.example"
    campaign.postal_address = "PO Box 12\nDurham, NC 27701"
    campaign.save()
    return campaign


def email_voters(campaign, n: int, *, first: int = 0) -> list:
    return [
        VoterFactory(campaign=campaign, first_name=f"VOTER{first + i}",
                     email=f"Voter{first + i}@Example.org")
        for i in range(n)
    ]  # fmt: skip


def email_program(campaign, voters, *, name: str = "Mail", control_share: float = 0.001):
    """A committed single-variant email program over `voters`."""
    MessageVariantFactory(
        campaign=campaign,
        name=f"{name}-email",
        channel="email",
        subject="A note for {{ voter.first_name }}",
        body="Hi {{ voter.first_name }}, from {{ sender.name }}.",
        html_body="<html><body><p>Hi {{ voter.first_name }}</p></body></html>",
    )
    spec = parse_spec(
        {
            "name": name,
            "channel": "email",
            "arms": [f"{name}-email"],
            "policy": "single",
            "control_share": control_share,
            "seed": 5,
            "universe": {"voter_ids": [v.voter_id for v in voters]},
        }
    )
    design = create_program(campaign=campaign, spec=spec)
    return commit_program(design=design)
