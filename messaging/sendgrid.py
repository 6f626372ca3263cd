"""SendGrid's signed Event Webhook: the signature check (no Django imports, tested alone).

SendGrid signs `timestamp + raw body` with ECDSA P-256 over SHA-256 and sends the DER signature
base64-encoded in `X-Twilio-Email-Event-Webhook-Signature`, the timestamp in
`X-Twilio-Email-Event-Webhook-Timestamp`; the verification key shown in its Mail Settings is the
public key's DER (SubjectPublicKeyInfo), base64-encoded. See SendGrid's "Getting Started with the
Event Webhook Security Features".
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def is_valid_signature(*, public_key: str, signature: str, timestamp: str, payload: bytes) -> bool:
    """Whether `signature` is SendGrid's over `timestamp` and the raw `payload` under the
    base64 DER `public_key`. Any malformed input is simply not valid."""
    if not (public_key and signature and timestamp):
        return False
    try:
        key = load_der_public_key(base64.b64decode(public_key.strip(), validate=True))
        raw_signature = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(raw_signature, timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# SendGrid's event names (and, for a bounce, its `type`) in our words (EmailEventKind values).
# A `blocked` bounce is temporary (a full mailbox, a greylisting server): a soft bounce. The rest
# (processed, deferred, open, click, dropped) say nothing we act on.
KINDS = {
    "delivered": "delivered",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}


class BadEvent(ValueError):
    """An event without the fields every SendGrid event has."""


def parse_event(event: dict) -> tuple[str, str, str, float] | None:
    """(event id, kind, our Message-ID, unix time) of one SendGrid event, or None when it is
    one we do not act on. Matched by `smtp-id`, the Message-ID header we set."""
    if not isinstance(event, dict):
        raise BadEvent("an event is a JSON object")
    name = event.get("event")
    kind = KINDS.get(name)
    if name == "bounce":
        kind = "soft_bounce" if event.get("type") == "blocked" else "hard_bounce"
    if kind is None:
        return None
    try:
        event_id = str(event["sg_event_id"])
        message_id = str(event["smtp-id"]).strip().strip("<>")
        timestamp = float(event["timestamp"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadEvent("an event needs sg_event_id, smtp-id and timestamp") from exc
    return event_id, kind, message_id, timestamp
