"""Shapes of the SMS vendor API's requests and responses (validation only; messaging.sms and
messaging.sms_inbound write)."""

from __future__ import annotations

from rest_framework import serializers

from campaign.api.fields import PlausibleDateTimeField
from messaging.models import SmsKind
from messaging.sms import (
    DEFAULT_LEASE_SECONDS,
    MAX_LEASE_BATCH,
    MAX_LEASE_SECONDS,
    MIN_LEASE_SECONDS,
    AckResult,
)
from messaging.sms_inbound import RECEIPT_STATUSES

MAX_BATCH = 1_000
ACK_RESULTS = [
    AckResult.ACKED, AckResult.ALREADY, AckResult.NOT_FOUND, AckResult.REFUSED,
    AckResult.DUPLICATE_ID,
]  # fmt: skip


class LeaseInputSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LEASE_BATCH, default=100)
    lease_seconds = serializers.IntegerField(
        min_value=MIN_LEASE_SECONDS,
        max_value=MAX_LEASE_SECONDS,
        default=DEFAULT_LEASE_SECONDS,
        help_text="How long the texts are yours: acknowledge each before then, or it is due "
        "again (and may go to another lease).",
    )


class LeasedMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    to = serializers.CharField(source="phone", help_text="E.164")
    body = serializers.CharField()
    encoding = serializers.CharField(help_text="GSM-7 or UCS-2")
    segments = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=SmsKind.choices)


class LeaseSerializer(serializers.Serializer):
    lease_id = serializers.UUIDField(allow_null=True, help_text="Empty when nothing was leased.")
    expires_at = serializers.DateTimeField()
    capped = serializers.BooleanField(
        help_text="A throughput cap held the lease back: ask again later (nothing failed)."
    )
    messages = LeasedMessageSerializer(many=True)


class AckSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="Our text's id.")
    vendor_message_id = serializers.CharField(max_length=100, help_text="Your id for the send.")


class AckInputSerializer(serializers.Serializer):
    acks = serializers.ListField(child=AckSerializer(), allow_empty=False, max_length=MAX_BATCH)


class AckResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    result = serializers.ChoiceField(choices=ACK_RESULTS)


class AckResultsSerializer(serializers.Serializer):
    results = AckResultSerializer(many=True)


class ReceiptSerializer(serializers.Serializer):
    vendor_message_id = serializers.CharField(max_length=100)
    status = serializers.ChoiceField(choices=RECEIPT_STATUSES)
    occurred_at = PlausibleDateTimeField()
    error_code = serializers.CharField(
        max_length=16, required=False, allow_blank=True, default="", help_text="e.g. Twilio's 30007"
    )


class StatusInputSerializer(serializers.Serializer):
    provider = serializers.CharField(
        max_length=32,
        default="twilio",
        help_text="Whose error codes `error_code` is (Twilio's dictionary is the one known).",
    )
    receipts = serializers.ListField(
        child=ReceiptSerializer(), allow_empty=False, max_length=MAX_BATCH
    )


class StatusSerializer(serializers.Serializer):
    applied = serializers.IntegerField(help_text="Receipts that moved a text forward.")
    duplicates = serializers.IntegerField(help_text="Receipts reported before (id and status).")
    stale = serializers.IntegerField(
        help_text="New receipts for a text already at or past that status (out of order)."
    )
    unknown = serializers.ListField(
        child=serializers.CharField(), help_text="Vendor ids no text of ours has: nothing done."
    )


class InboundSerializer(serializers.Serializer):
    vendor_message_id = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32, help_text="Who sent it (E.164).")
    body = serializers.CharField(max_length=1600, allow_blank=True, trim_whitespace=False)
    received_at = PlausibleDateTimeField()
    vendor_confirmed = serializers.BooleanField(
        default=False,
        help_text="You already answered this keyword yourself (STOP, START, HELP): we record it "
        "and send no second confirmation or help text.",
    )


class InboundInputSerializer(serializers.Serializer):
    messages = serializers.ListField(
        child=InboundSerializer(), allow_empty=False, max_length=MAX_BATCH
    )


class InboundResultSerializer(serializers.Serializer):
    vendor_message_id = serializers.CharField()
    is_new = serializers.BooleanField(help_text="False: this reply was forwarded before.")
    kind = serializers.CharField(help_text="opt_out, opt_out_likely, help, opt_in or other")
    recorded = serializers.CharField(help_text="opt_out, opt_in or empty")
    answered = serializers.BooleanField(help_text="A confirmation or HELP text was queued.")


class InboundResultsSerializer(serializers.Serializer):
    results = InboundResultSerializer(many=True)


class TwilioStatusSerializer(serializers.Serializer):
    """The fields of Twilio's status callback we read (it sends more)."""

    MessageSid = serializers.CharField(max_length=64)
    MessageStatus = serializers.CharField(max_length=32)
    ErrorCode = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")


class TwilioInboundSerializer(serializers.Serializer):
    """The fields of Twilio's incoming-message webhook we read (it sends more)."""

    MessageSid = serializers.CharField(max_length=64)
    From = serializers.CharField(max_length=32)
    Body = serializers.CharField(max_length=1600, allow_blank=True, trim_whitespace=False)
    OptOutType = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        default="",
        help_text="Set by Twilio's opt-out handling when it answered STOP, START or HELP itself.",
    )
