"""Handing messages to an SMTP server that advertises PIPELINING (RFC 2920): one round trip a
message instead of smtplib's four.

Each message's MAIL, RCPT and DATA go in one write, and its content goes in the same write as
the next message's envelope (RFC 2920 lets content open a group), so the client waits once a
message: for the previous content's reply and this envelope's. The outcome of every message is
still read from its own replies before the caller records it; nothing here retries. No Django:
it speaks to an `smtplib.SMTP` that is already open (TLS and login done by its owner).
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass

SENT, FAILED, UNKNOWN = "sent", "failed", "unknown"
_CRLF = b"\r\n"


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: list[str]
    data: bytes  # the message with CRLF line ends


def supports_pipelining(smtp: smtplib.SMTP) -> bool:
    smtp.ehlo_or_helo_if_needed()
    return bool(smtp.does_esmtp and smtp.has_extn("pipelining"))


def send_pipelined(smtp: smtplib.SMTP, envelopes: Sequence[Envelope]) -> list[str]:
    """The outcome of each envelope, in order: SENT (the server accepted the content), FAILED
    (refused for good: a 5xx, or every recipient refused), UNKNOWN (a 4xx, or the connection
    broke while the server had the content). Stops after an UNKNOWN, so the list can be shorter
    than `envelopes`: the ones past its end were never handed over (at most an envelope without
    content went out, which delivers nothing)."""
    outcomes: list[str] = []
    content = b""  # the last accepted envelope's content, out with the next envelope
    try:
        for envelope in envelopes:
            smtp.send(content + _commands(smtp, envelope))
            if content:
                content = b""
                outcomes.append(_outcome(smtp.getreply()[0]))
                if outcomes[-1] == UNKNOWN:
                    return outcomes  # this envelope went out without content: not handed over
            refused = _envelope_replies(smtp, envelope)
            if refused is None:
                content = _content(envelope.data)
                continue
            outcomes.append(refused)
            if refused == UNKNOWN:
                return outcomes
        if content:
            smtp.send(content)
            content = b""
            outcomes.append(_outcome(smtp.getreply()[0]))
    except (smtplib.SMTPException, OSError):
        # The connection broke: a content out without its reply is lost.
        if content:
            outcomes.append(UNKNOWN)
    return outcomes


def _commands(smtp: smtplib.SMTP, envelope: Envelope) -> bytes:
    size = f" SIZE={len(envelope.data)}" if smtp.has_extn("size") else ""
    lines = [f"MAIL FROM:{smtplib.quoteaddr(envelope.sender)}{size}"]
    lines += [f"RCPT TO:{smtplib.quoteaddr(r)}" for r in envelope.recipients]
    lines.append("DATA")
    return "".join(f"{line}\r\n" for line in lines).encode("ascii")


def _envelope_replies(smtp: smtplib.SMTP, envelope: Envelope) -> str | None:
    """None when the server waits for the content (354); else the message's outcome, the
    transaction reset."""
    mail = smtp.getreply()[0]
    rcpts = [smtp.getreply()[0] for _ in envelope.recipients]
    data = smtp.getreply()[0]
    accepted = mail == 250 and any(code in (250, 251) for code in rcpts)
    if data == 354:
        if accepted:
            return None
        smtp.send(b"." + _CRLF)  # a server that wants content with no recipient gets none
        smtp.getreply()
    code = smtp.docmd("RSET")[0]
    if code != 250:
        raise smtplib.SMTPResponseException(code, b"RSET refused")
    # Refused before any content. As with smtplib (SMTPDataError), a 4xx reply to DATA is
    # recorded as unknown, a 5xx or a refused sender or recipients as failed.
    return FAILED if not accepted or 500 <= data < 600 else UNKNOWN


def _content(data: bytes) -> bytes:
    # As smtplib's data(): leading dots doubled, a final CRLF, then the lone dot.
    quoted = re.sub(rb"(?m)^\.", b"..", data)
    if not quoted.endswith(_CRLF):
        quoted += _CRLF
    return quoted + b"." + _CRLF


def _outcome(code: int) -> str:
    if code == 250:
        return SENT
    return FAILED if 500 <= code < 600 else UNKNOWN
