"""The tenant (Campaign), its elections and who may work in it."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils.text import capfirst


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def for_user(self, user) -> CampaignQuerySet:
        """Campaigns the user may see: all for a superuser, else those they are a member of."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user).distinct()


class Campaign(models.Model):
    """The tenant: every voter, election and import belongs to exactly one campaign."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    state = models.CharField(max_length=2, help_text="Two-letter postal code of the state.")
    time_zone = models.CharField(max_length=64, default="America/New_York")
    van_id_column = models.CharField(
        "VANID column",
        max_length=64,
        default="vanid",
        help_text="The voter-file column (kept in each voter's extra data) that holds the VAN "
        "VANID, used to match VAN contact and survey exports to voters. 'voter_id' matches the "
        "state voter id itself.",
    )
    # Email's sender identity and postal address (CAN-SPAM): an email variant cannot be saved, nor
    # an email sent, while any is blank (messaging.email).
    email_from_name = models.CharField(
        "email sender name", max_length=200, blank=True, help_text="Shown as the sender."
    )
    email_from_address = models.EmailField(
        "email sender address", blank=True, help_text="The From address of the campaign's email."
    )
    postal_address = models.TextField(
        blank=True, help_text="The campaign's postal address, printed at the foot of every email."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_email_identity(self) -> bool:
        """Whether email may go out under this campaign's name (sender and postal address)."""
        return all(
            value.strip()
            for value in (self.email_from_name, self.email_from_address, self.postal_address)
        )


class ElectionType(models.TextChoices):
    GENERAL = "general", "General"
    PRIMARY = "primary", "Primary"
    PRESIDENTIAL_PRIMARY = "presidential_primary", "Presidential primary"
    MUNICIPAL = "municipal", "Municipal"
    SPECIAL = "special", "Special"
    RUNOFF = "runoff", "Runoff"
    OTHER = "other", "Other"


class Election(models.Model):
    # No index of its own: uniq_election_per_day_type starts with campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="elections", db_index=False
    )
    election_on = models.DateField("date")
    election_type = models.CharField("type", max_length=24, choices=ElectionType.choices)
    label = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=2, blank=True)

    class Meta:
        ordering = ["-election_on", "election_type"]
        constraints = [
            # History imports find-or-create elections by this natural key.
            models.UniqueConstraint(
                fields=["campaign", "election_on", "election_type"],
                name="uniq_election_per_day_type",
            )
        ]

    def __str__(self) -> str:
        return self.label or f"{self.election_on:%Y-%m-%d} {self.get_election_type_display()}"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    STAFF = "staff", "Staff"
    ORGANIZER = "organizer", "Organizer"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "campaign"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.campaign_id} as {self.role}"


class AuditAction(models.TextChoices):
    EXPORT = "export", "Export of voter data"
    DOWNLOAD = "download", "Download of voter data"
    IMPORT = "import", "Import"
    CONSENT_CHANGE = "consent_change", "Consent changed by staff"
    MEMBERSHIP_ADD = "membership_add", "Member added"
    MEMBERSHIP_CHANGE = "membership_change", "Role changed"
    MEMBERSHIP_REMOVE = "membership_remove", "Member removed"
    VENDOR_KEY_CREATE = "vendor_key_create", "Vendor API key created"
    VENDOR_KEY_REVOKE = "vendor_key_revoke", "Vendor API key revoked"
    MODEL_APPROVE = "model_approve", "Model approved"
    PROGRAM_COMMIT = "program_commit", "Program committed"
    PROGRAM_PAUSE = "program_pause", "Program paused"
    PROGRAM_RESUME = "program_resume", "Program resumed"
    PROGRAM_CANCEL = "program_cancel", "Program cancelled"
    VARIANT_CREATE = "variant_create", "Message variant created"
    VARIANT_REVISE = "variant_revise", "Message variant revised"
    VARIANT_DELETE = "variant_delete", "Message variant deleted"
    VARIANT_RESUME = "variant_resume", "Paused message variant resumed"
    TURF_CUT = "turf_cut", "Turfs cut"
    TURF_RECUT = "turf_recut", "Turf re-cut"
    TURF_ASSIGN = "turf_assign", "Turf assigned"
    FIELD_RESULT_SETTLE = "field_result_settle", "Flagged field result settled"


class AuditEvent(models.Model):
    """Who did what to which campaign's data, and when (append-only).

    Holds ids, never personal data: `object_repr` names the kind of object and its id.
    """

    # Read by campaign, newest first (admin list).
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        help_text="Empty for actions by a vendor key or the system.",
    )
    actor = models.CharField(
        max_length=200, blank=True, help_text="Who acted when not a user (vendor key, command)."
    )
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Ids and counts, never PII.")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The admin list of one campaign's events, newest first.
            models.Index(fields=["campaign", "-at"], name="audit_campaign_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_type_name} {self.object_id}".strip()

    @property
    def object_type_name(self) -> str:
        """The kind of object in words ("Consent event"): `object_type` holds a model label
        ("voters.consentevent") so that the log outlives renames of the words. A label of a model
        that no longer exists is shown as stored rather than guessed at."""
        if not self.object_type:
            return ""
        try:
            model = apps.get_model(self.object_type)
        except (LookupError, ValueError):
            return self.object_type
        return capfirst(model._meta.verbose_name)

    @property
    def object_shown(self) -> str:
        """Kind and id in one phrase ("Voter 1,234" reads as a count; ids stay unformatted)."""
        return f"{self.object_type_name} {self.object_id}".strip()


class VendorApiKeyQuerySet(models.QuerySet["VendorApiKey"]):
    def usable(self) -> VendorApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class VendorApiKey(models.Model):
    """An SMS vendor's credential for one campaign.

    The key is shown once when created; only its SHA-256 digest is stored (keys are 256-bit
    random, so a slow password hash adds nothing). The HMAC signing secret is derived from the
    server's SECRET_KEY and `secret_salt`, so it is never stored either.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="vendor_keys")
    name = models.CharField(max_length=200, help_text="The vendor, e.g. 'Acme SMS'.")
    # Look-up by the key's public prefix when a request arrives.
    prefix = models.CharField(max_length=16, unique=True)
    key_digest = models.CharField(max_length=64)
    secret_salt = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = VendorApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "vendor API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotentResponse(models.Model):
    """The answer to a vendor's POST with an `Idempotency-Key`, replayed to a retry of it.

    Written in the transaction that did the request's work, so a request that failed halfway
    leaves neither its work nor this row, and its retry runs afresh (campaign.api.idempotency).
    """

    vendor_key = models.ForeignKey(VendorApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_digest = models.CharField(
        max_length=64, help_text="SHA-256 of the method, path and body the key was first used with."
    )
    status_code = models.PositiveSmallIntegerField()
    body = models.BinaryField()
    # Pruned after a day (beat), as Stripe keeps keys for 24 hours.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vendor_key", "key"], name="uniq_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"idempotent response {self.pk}"
