"""Serializer fields shared by every app's API."""

from __future__ import annotations

import datetime as dt

from rest_framework import serializers

from campaign.lib.timestamps import OUT_OF_RANGE, is_plausible


class PlausibleDateTimeField(serializers.DateTimeField):
    """A datetime in the years 1900..2100 (campaign.lib.timestamps); anything else is a 400."""

    # DRF's own message for a time its conversion to UTC overflows, said the one way.
    default_error_messages = {"overflow": OUT_OF_RANGE}

    def to_internal_value(self, value) -> dt.datetime:
        parsed = super().to_internal_value(value)
        if not is_plausible(parsed):
            raise serializers.ValidationError(OUT_OF_RANGE)
        return parsed
