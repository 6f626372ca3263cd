"""Voters, their households and vote history, and the record of every import."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from campaign.models import Campaign, Election


def text(verbose_name: str | None = None) -> models.TextField:
    # File-derived text is stored unbounded: a varchar limit would turn one over-long value in an
    # 8-million-row file into a failed COPY.
    return models.TextField(verbose_name, null=True, blank=True)


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Party(models.TextChoices):
    DEM = "dem", "Democratic"
    REP = "rep", "Republican"
    UNA = "una", "Unaffiliated"
    LIB = "lib", "Libertarian"
    GRN = "grn", "Green"
    CST = "cst", "Constitution"
    IND = "ind", "Independent"
    OTH = "oth", "Other"


class VoterStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    REMOVED = "removed", "Removed"
    DENIED = "denied", "Denied"
    TEMPORARY = "temporary", "Temporary"
    PREREGISTERED = "preregistered", "Pre-registered"
    CONFIRMATION = "confirmation", "Confirmation"
    OTHER = "other", "Other"


class VoteMethod(models.TextChoices):
    POLLS = "polls", "At the polls"
    EARLY = "early", "Early in person"
    MAIL = "mail", "By mail"
    PROVISIONAL = "provisional", "Provisional"
    OTHER = "other", "Other"


class Household(models.Model):
    """One residence: voters whose normalized address (number, street, unit, zip) is the same."""

    # No index of its own: uniq_household_address starts with campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="households", db_index=False
    )
    address_key = models.TextField(help_text="Normalized NUMBER|STREET|UNIT|ZIP5.")
    address = text()
    city = text()
    zip5 = models.CharField(max_length=5, null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Imports find-or-create households by this key.
            models.UniqueConstraint(
                fields=["campaign", "address_key"], name="uniq_household_address"
            )
        ]

    def __str__(self) -> str:
        return f"Household {self.pk}"


class VoterQuerySet(models.QuerySet["Voter"]):
    def for_campaign(self, campaign: Campaign | int) -> VoterQuerySet:
        return self.filter(campaign=campaign)

    def active(self) -> VoterQuerySet:
        return self.filter(status=VoterStatus.ACTIVE)


class Voter(models.Model):
    # Columns the importers write, in staging-table order. Anything else in a file goes to `extra`.
    IMPORTED_FIELDS = (
        "first_name", "middle_name", "last_name", "suffix", "birth_date", "birth_year",
        "gender", "gender_raw", "race", "race_raw", "ethnicity", "ethnicity_raw", "party",
        "party_raw", "registered_on", "status", "status_raw", "address", "house_number", "street",
        "unit", "city", "state", "zip5", "address_key", "latitude", "longitude", "phone", "email",
        "county", "precinct", "congressional_district", "state_senate_district",
        "state_house_district", "municipality", "ward", "extra",
    )  # fmt: skip

    # No index of its own: uniq_voter_id starts with campaign (every index costs an 8M-row import).
    # No database constraint either: its per-row check locks the one campaign row millions of
    # times, 6 of the 40 seconds of a million-row first import. Voters are written only by the
    # importer, for a campaign it has just locked, and campaigns are never deleted (PROTECT).
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        related_name="voters",
        db_index=False,
        db_constraint=False,
    )
    voter_id = models.TextField("voter id", help_text="The state's voter id, unique in a campaign.")
    # No database constraint: its per-row check (a FOR KEY SHARE lock on the household) was a fifth
    # of a state-scale first import. Households are only ever created by the import that links
    # them, in the same transaction, and are never deleted, so the link cannot dangle.
    household = models.ForeignKey(
        Household,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        db_constraint=False,
    )
    first_name = text()
    middle_name = text()
    last_name = text()
    suffix = text()
    birth_date = models.DateField(null=True, blank=True)
    birth_year = models.SmallIntegerField(null=True, blank=True)
    gender = models.CharField(max_length=16, choices=Gender.choices, null=True, blank=True)
    gender_raw = text("gender (as in file)")
    race = models.CharField(max_length=16, null=True, blank=True)
    race_raw = text("race (as in file)")
    ethnicity = models.CharField(max_length=16, null=True, blank=True)
    ethnicity_raw = text("ethnicity (as in file)")
    party = models.CharField(max_length=8, choices=Party.choices, null=True, blank=True)
    party_raw = text("party (as in file)")
    registered_on = models.DateField("registration date", null=True, blank=True)
    status = models.CharField(max_length=16, choices=VoterStatus.choices, null=True, blank=True)
    status_raw = text("status (as in file)")
    address = text("residence address")
    house_number = text()
    street = text()
    unit = text()
    city = text()
    state = models.CharField(max_length=2, null=True, blank=True)
    zip5 = models.CharField("zip", max_length=5, null=True, blank=True)
    address_key = text()
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    phone = models.CharField(max_length=20, null=True, blank=True, help_text="E.164")
    email = text()
    county = text()
    precinct = text()
    congressional_district = text()
    state_senate_district = text()
    state_house_district = text()
    municipality = text()
    ward = text()
    extra = models.JSONField(default=dict, blank=True)
    source_digest = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        editable=False,
        help_text="Digest of the imported values as the last import wrote them. Anything else "
        "that changes an imported field must clear it, or the next import takes the row as "
        "unchanged.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a full re-import no longer listed this voter."
    )

    objects = VoterQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert key of every voter import.
            models.UniqueConstraint(fields=["campaign", "voter_id"], name="uniq_voter_id")
        ]
        indexes = [
            # Admin search by last name prefix (case-insensitive).
            # Admin search by last-name prefix uses voter_last_name_prefix, created in SQL by
            # migration 0002 (a text_pattern_ops expression index that Django cannot declare).
            # Admin search and consent look-ups by phone.
            models.Index(fields=["campaign", "phone"], name="voter_phone"),
            # Admin filter by precinct; walk lists by precinct.
            models.Index(fields=["campaign", "precinct"], name="voter_precinct"),
        ]

    def __str__(self) -> str:
        return f"Voter {self.voter_id}"

    @property
    def full_name(self) -> str:
        parts = (self.first_name, self.middle_name, self.last_name, self.suffix)
        return " ".join(p for p in parts if p)

    def age_on(self, day: dt.date) -> int | None:
        if self.birth_date:
            before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
            return day.year - self.birth_date.year - before_birthday
        if self.birth_year:
            return day.year - self.birth_year
        return None


class VoteRecord(models.Model):
    """One voter's participation in one election (append-only history)."""

    # Denormalized from the voter so the table can be partitioned by campaign; no index needed.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    voter = models.ForeignKey(Voter, on_delete=models.PROTECT, related_name="vote_records")
    election = models.ForeignKey(Election, on_delete=models.PROTECT, related_name="vote_records")
    voted = models.BooleanField(default=True)
    method = models.CharField(max_length=16, choices=VoteMethod.choices, null=True, blank=True)
    method_raw = text("method (as in file)")
    party = models.CharField("ballot party", max_length=8, null=True, blank=True)
    import_run = models.ForeignKey(
        "ImportRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One record per voter and election; re-imports skip what exists.
            models.UniqueConstraint(fields=["voter", "election"], name="uniq_vote_record")
        ]
        indexes = [
            # Admin filter "voted in election X" and turnout per election.
            models.Index(fields=["election", "voter"], name="vote_record_election"),
        ]

    def __str__(self) -> str:
        return f"{self.voter_id} in {self.election_id}"


class ImportKind(models.TextChoices):
    VOTERS = "voters", "Voter file"
    HISTORY = "history", "Vote history"


class ImportMode(models.TextChoices):
    STRICT = "strict", "Strict"
    QUARANTINE = "quarantine", "Quarantine"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One import of one or more files, with what it changed."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="import_runs")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    layout = models.CharField(max_length=16, default="generic")
    mode = models.CharField(
        max_length=16,
        choices=ImportMode.choices,
        default=ImportMode.STRICT,
        help_text="Strict: any bad row and nothing is imported. Quarantine: good rows are "
        "imported and bad ones kept here with their line and reason.",
    )
    is_full = models.BooleanField(
        "full file", default=False, help_text="Voters absent from the file are marked removed."
    )
    file_names = models.JSONField(default=list)
    upload = models.FileField(upload_to="imports/%Y/%m/", null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    rows_read = models.BigIntegerField(default=0)
    created = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)
    removed = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    orphaned = models.BigIntegerField(
        default=0, help_text="History rows whose voter is not in this campaign."
    )
    duplicates = models.BigIntegerField(
        default=0, help_text="History rows already on record (skipped)."
    )
    invalid_phones = models.BigIntegerField(default=0)
    households_created = models.BigIntegerField(default=0)
    elections_created = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per phase.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.kind})"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def summary(self) -> str:
        if self.kind == ImportKind.HISTORY:
            return (
                f"{self.rows_read:,} rows read: {self.created:,} vote records added, "
                f"{self.duplicates:,} already on record, {self.orphaned:,} for unknown voters, "
                f"{self.rejected:,} rejected; {self.elections_created:,} new elections"
            )
        return (
            f"{self.rows_read:,} rows read: {self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {self.removed:,} removed, {self.rejected:,} rejected; "
            f"{self.households_created:,} new households, {self.invalid_phones:,} invalid phones"
        )


class RejectedRow(models.Model):
    """A line an import could not take, with why; kept for quarantine imports."""

    import_run = models.ForeignKey(
        ImportRun, on_delete=models.CASCADE, related_name="rejected_rows"
    )
    file_name = models.TextField()
    line_number = models.BigIntegerField()
    raw = models.TextField()
    errors = models.JSONField(default=list, help_text='[{"field": ..., "reason": ...}]')

    class Meta:
        ordering = ["import_run", "file_name", "line_number"]

    def __str__(self) -> str:
        return f"{self.file_name}:{self.line_number}"

    @property
    def reasons(self) -> str:
        return "; ".join(f"{e['field']}: {e['reason']}" for e in self.errors)
