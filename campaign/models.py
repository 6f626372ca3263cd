"""The tenant (Campaign), its elections and who may work in it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
