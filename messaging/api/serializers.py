"""Shapes of program requests and responses. Input serializers validate, output ones shape;
neither writes (messaging.programs does)."""

from __future__ import annotations

from rest_framework import serializers

from messaging.models import ArmVariant, Policy, ProgramDesign
from messaging.program_specs import CHANNELS, SpecError, parse_spec


class ProgramArmSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="arm.name", read_only=True)
    variant = serializers.CharField(source="variant.name", read_only=True)
    version = serializers.IntegerField(source="variant.version", read_only=True)

    class Meta:
        model = ArmVariant
        fields = ("position", "name", "variant", "version")
        read_only_fields = fields


class ProgramSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="program_id", read_only=True)
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    name = serializers.CharField(source="program.name", read_only=True)
    description = serializers.CharField(source="program.description", read_only=True)
    arms = ProgramArmSerializer(source="arm_variants", many=True, read_only=True)
    summary = serializers.JSONField(
        read_only=True, help_text="The committed draw's counts ({} while a draft)."
    )
    universe = serializers.JSONField(read_only=True)

    class Meta:
        model = ProgramDesign
        fields = (
            "id", "campaign", "name", "description", "channel", "status", "policy",
            "control_share", "exploration_share", "budget", "seed", "universe", "arms",
            "summary", "scoring_run", "persuasion_model", "created_at", "commit_requested_at",
            "committed_at", "commit_error", "status_changed_at",
        )  # fmt: skip
        read_only_fields = fields


class ProgramCreateSerializer(serializers.Serializer):
    """A program spec (see messaging.program_specs) and the campaign it belongs to."""

    campaign = serializers.SlugField(help_text="The campaign's slug.")
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    channel = serializers.ChoiceField(choices=CHANNELS)
    arms = serializers.ListField(
        child=serializers.CharField(max_length=200), help_text="Message variants, by name."
    )
    policy = serializers.ChoiceField(choices=Policy.values)
    control_share = serializers.FloatField()
    exploration_share = serializers.FloatField(required=False, default=0.0)
    budget = serializers.IntegerField(required=False, allow_null=True)
    seed = serializers.IntegerField(required=False, allow_null=True)
    universe = serializers.DictField(
        required=False, help_text="Filters: see messaging.program_specs.Universe."
    )

    def validate(self, attrs: dict) -> dict:
        raw = {k: v for k, v in self.initial_data.items() if k != "campaign"}
        try:
            spec = parse_spec(raw)
        except SpecError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return {"campaign": attrs["campaign"], "spec": spec}


class ProgramPreviewSerializer(serializers.Serializer):
    universe = serializers.DictField(child=serializers.IntegerField())
    left_out = serializers.DictField(child=serializers.IntegerField())
    arms = serializers.ListField(child=serializers.DictField())
    expected_net_votes = serializers.FloatField(allow_null=True)
    policy = serializers.CharField()
    seed = serializers.IntegerField()
    scoring_run = serializers.IntegerField(allow_null=True)
