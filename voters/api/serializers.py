"""Shapes of voter-data requests and responses. Input serializers validate, output ones shape;
neither writes (voters.contacts and voters.consent do)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework import serializers

from campaign.api.fields import PlausibleDateTimeField
from campaign.lib.masking import mask_contact_details
from campaign.models import Role
from voters.models import RESULTS_BY_CHANNEL, Channel, ConsentSource, ContactAttempt, Voter

# Viewers read voters without the ways to reach them.
VIEWER_HIDDEN_FIELDS = ("phone", "email")
# Consent is checked and reported per address; door and mail consent is per voter record.
ADDRESS_CHANNELS = [(c.value, c.label) for c in (Channel.SMS, Channel.PHONE, Channel.EMAIL)]
VENDOR_OPT_OUT_SOURCES = [
    (s.value, s.label) for s in (ConsentSource.VENDOR_BLOCK, ConsentSource.STOP_REPLY)
]
MAX_ADDRESSES = 1000


class VoterSerializer(serializers.ModelSerializer):
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    phone = serializers.CharField(
        read_only=True, allow_null=True, required=False, help_text="E.164; omitted for viewers."
    )
    email = serializers.CharField(
        read_only=True, allow_null=True, required=False, help_text="Omitted for viewers."
    )

    class Meta:
        model = Voter
        fields = (
            "id", "campaign", "voter_id", "first_name", "middle_name", "last_name", "suffix",
            "birth_year", "gender", "party", "status", "registered_on", "address", "city",
            "state", "zip5", "county", "precinct", "congressional_district",
            "state_senate_district", "state_house_district", "municipality", "ward",
            "household", "phone", "email", "removed_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: Voter) -> dict:
        data = super().to_representation(instance)
        if self.context["roles"].get(instance.campaign_id) == Role.VIEWER:
            for name in VIEWER_HIDDEN_FIELDS:
                data.pop(name, None)
        return data


class ContactAttemptSerializer(serializers.ModelSerializer):
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    program = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    arm = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = ContactAttempt
        fields = (
            "id", "campaign", "voter", "channel", "result", "occurred_at", "program", "arm",
            "variant", "canvasser", "source", "note", "created_at",
        )  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: ContactAttempt) -> dict:
        data = super().to_representation(instance)
        # A canvasser's note may hold a number or an email: masked for viewers.
        roles = self.context.get("roles", {})
        if roles.get(instance.campaign_id) == Role.VIEWER and data.get("note"):
            data["note"] = mask_contact_details(data["note"])
        return data


# How far ahead of our clock a client's timestamp may be before it is refused.
CLOCK_SKEW = dt.timedelta(minutes=5)


class ContactAttemptInputSerializer(serializers.Serializer):
    voter = serializers.IntegerField(help_text="The voter's `id` (not the state voter id).")
    channel = serializers.ChoiceField(choices=Channel.choices)
    result = serializers.ChoiceField(choices=ContactAttempt._meta.get_field("result").choices)
    occurred_at = PlausibleDateTimeField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    def validate_occurred_at(self, value: dt.datetime) -> dt.datetime:
        # History is append-only: a contact dated ahead could never be corrected.
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("is in the future")
        return value

    def validate(self, attrs: dict) -> dict:
        if attrs["result"] not in RESULTS_BY_CHANNEL[attrs["channel"]]:
            raise serializers.ValidationError(
                {"result": f"not a result of a {attrs['channel']} contact"}
            )
        return attrs


class ConsentCheckInputSerializer(serializers.Serializer):
    campaign = serializers.SlugField(
        required=False, help_text="The campaign's slug; vendors may leave it out."
    )
    channel = serializers.ChoiceField(choices=ADDRESS_CHANNELS)
    addresses = serializers.ListField(
        child=serializers.CharField(max_length=320),
        max_length=MAX_ADDRESSES,
        allow_empty=False,
        help_text="E.164 phones (sms, phone) or emails; at most 1,000.",
    )


class ConsentCheckSerializer(serializers.Serializer):
    channel = serializers.CharField()
    opted_out = serializers.ListField(
        child=serializers.CharField(), help_text="The given addresses that may not be contacted."
    )


class VendorOptOutSerializer(serializers.Serializer):
    event_id = serializers.CharField(
        max_length=200, help_text="The vendor's id of the event; a retry with it is a no-op."
    )
    channel = serializers.ChoiceField(choices=ADDRESS_CHANNELS)
    address = serializers.CharField(max_length=320)
    source = serializers.ChoiceField(choices=VENDOR_OPT_OUT_SOURCES)
    occurred_at = PlausibleDateTimeField()


class VendorOptOutsInputSerializer(serializers.Serializer):
    campaign = serializers.SlugField(required=False, help_text="Defaults to the key's campaign.")
    events = serializers.ListField(
        child=VendorOptOutSerializer(), max_length=MAX_ADDRESSES, allow_empty=False
    )


class VendorOptOutsSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    recorded = serializers.IntegerField(help_text="New events; retried ones are not counted.")
    unreadable = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Positions of events whose address could not be read; they are recorded as "
        "sent, never dropped.",
    )
