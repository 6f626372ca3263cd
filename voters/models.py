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

    # Partitioned by campaign on PostgreSQL, like voters (migration 0007, voters.partitions).

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

    def contactable(self, channel: str) -> VoterQuerySet:
        """Voters with an address on `channel` that no opt-out in force covers.

        One anti-join against the ledger, so it scales to a state's universe; chain it onto any
        universe (`Voter.objects.for_campaign(c).active().contactable("sms")`).
        """
        opt_outs = ConsentEvent.objects.in_force_opt_outs().filter(
            campaign=models.OuterRef("campaign"), channel=channel
        )
        if channel in (Channel.SMS, Channel.PHONE):
            field = "phone"
        elif channel == Channel.EMAIL:
            field = "email"
        elif channel in (Channel.DOOR, Channel.MAIL):
            # Door and mail opt-outs are keyed to the voter record (address "voter:<pk>").
            return self.filter(~models.Exists(opt_outs.filter(voter=models.OuterRef("pk"))))
        else:
            raise ValueError(f"unknown channel {channel!r}")
        covered = opt_outs.filter(address=models.OuterRef(field))
        reachable = self.exclude(**{f"{field}__isnull": True}).exclude(**{field: ""})
        return reachable.filter(~models.Exists(covered))


class Voter(models.Model):
    # On PostgreSQL the table is partitioned by campaign (migration 0007, voters.partitions): its
    # primary key there is (id, campaign_id), and ids stay unique across campaigns (one sequence).
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
    line_digest = models.BinaryField(
        null=True,
        blank=True,
        editable=False,
        help_text="md5 of the file line (with its layout and header) the last import wrote this "
        "voter from; the next import skips that line unparsed. Anything else that changes an "
        "imported field must clear it, or the next import takes the line as already written.",
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


def voter_key(related_name: str, **options) -> models.ForeignKey:
    """A foreign key to a voter, for the tables that also carry the voter's campaign.

    On PostgreSQL voters are partitioned by campaign (migration 0007), so their primary key is
    (id, campaign_id), and what the database enforces is the pair: (campaign_id, voter_id)
    references voters_voter (campaign_id, id), which also guarantees a row's campaign is its
    voter's. Django cannot declare a two-column key, so this field has no constraint of its own;
    migration 0007 creates the pair in SQL. PROTECT still holds in the ORM.
    """
    return models.ForeignKey(
        "Voter",
        on_delete=models.PROTECT,
        related_name=related_name,
        db_constraint=False,
        **options,
    )


class VoteRecord(models.Model):
    """One voter's participation in one election (append-only history)."""

    # Denormalized from the voter so the table can be partitioned by campaign; no index needed.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    voter = voter_key("vote_records")
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
    CONTACTS = "contacts", "Contact history"
    ASSIGNMENTS = "assignments", "Program assignments"


class ImportMode(models.TextChoices):
    STRICT = "strict", "Strict"
    QUARANTINE = "quarantine", "Quarantine"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


# The counts each kind of import keeps; the others stay 0 for it and are not shown on its page
# (a vote history run has no households, a voter file no orphaned rows).
IMPORT_COUNTS: dict[str, tuple[str, ...]] = {
    ImportKind.VOTERS: (
        "rows_read", "created", "updated", "unchanged", "removed", "rejected", "invalid_phones",
        "households_created",
    ),
    ImportKind.HISTORY: (
        "rows_read", "created", "duplicates", "orphaned", "rejected", "elections_created",
    ),
    ImportKind.CONTACTS: ("rows_read", "created", "duplicates", "orphaned", "rejected"),
    ImportKind.ASSIGNMENTS: ("rows_read", "created", "duplicates", "orphaned", "rejected"),
}  # fmt: skip
# What `created` counts, per kind, in the list's one-line summary of changes.
ADDED_NOUN: dict[str, str] = {
    ImportKind.HISTORY: "votes",
    ImportKind.CONTACTS: "contacts",
    ImportKind.ASSIGNMENTS: "assignments",
}


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
    invalid_phones = models.BigIntegerField(
        default=0,
        help_text="Among the lines this import parsed: a re-import leaves out the lines it "
        "already holds unchanged.",
    )
    households_created = models.BigIntegerField(default=0)
    elections_created = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per phase.")
    counts = models.JSONField(
        default=dict, blank=True, help_text="Counts particular to the kind of import."
    )
    field_counts = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per mapped field: parsed rows with a value in the file, and with a usable one.",
    )
    warnings = models.JSONField(
        default=list, blank=True, help_text="Columns whose values were mostly unreadable."
    )
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

    def field_summary(self) -> str:
        """How many parsed rows gave each mapped field a usable value (and how many values were
        there but unreadable)."""
        counts = self.field_counts or {}
        fields = counts.get("fields") or []
        if not fields or not counts.get("rows"):
            return ""
        parts = []
        for c in fields:
            lost = c["given"] - c["usable"]
            shown = f"{c['field']} {c['usable']:,}"
            parts.append(shown + (f" ({lost:,} unreadable)" if lost else ""))
        return f"values per field, of {counts.get('rows', 0):,} rows parsed: {', '.join(parts)}"

    @property
    def warnings_text(self) -> str:
        return "; ".join(self.warnings or []) or "none"

    def changes_brief(self) -> str:
        """What the run changed, in a few words for a list column; the page has every count."""
        if self.kind == ImportKind.VOTERS:
            return f"{self.created:,} new, {self.updated:,} updated, {self.removed:,} removed"
        noun = ADDED_NOUN.get(self.kind, "rows")
        brief = f"{self.created:,} {noun} added, {self.duplicates:,} on record"
        return brief + (f", {self.orphaned:,} unknown voters" if self.orphaned else "")

    def summary(self) -> str:
        counts = self.counts or {}
        if self.kind == ImportKind.CONTACTS:
            return (
                f"{self.rows_read:,} rows read: {counts.get('contacts_created', 0):,} contacts and "
                f"{counts.get('responses_created', 0):,} survey responses added, "
                f"{self.duplicates:,} already on record, {self.orphaned:,} for unknown voters, "
                f"{self.rejected:,} rejected; {counts.get('opt_outs_created', 0):,} opt-outs, "
                f"{counts.get('programs_created', 0):,} new programs, "
                f"{counts.get('arms_created', 0):,} new arms"
            )
        if self.kind == ImportKind.ASSIGNMENTS:
            new_program = " (a new program)" if counts.get("program_created") else ""
            return (
                f"{self.rows_read:,} rows read: {self.created:,} assignments added to "
                f"{counts.get('program', '?')}{new_program}, {self.duplicates:,} already on "
                f"record, {self.orphaned:,} for unknown voters, {self.rejected:,} rejected; "
                f"{counts.get('arms_created', 0):,} new arms"
            )
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


# --------------------------------------------------------------------------------------------
# Contact history, surveys, programs and consent
# --------------------------------------------------------------------------------------------


class Channel(models.TextChoices):
    DOOR = "door", "Door"
    PHONE = "phone", "Phone call"
    SMS = "sms", "Text message"
    EMAIL = "email", "Email"
    MAIL = "mail", "Mail piece"


class ContactResult(models.TextChoices):
    CONTACTED = "contacted", "Contacted"
    NOT_HOME = "not_home", "Not home / no answer"
    REFUSED = "refused", "Refused"
    MOVED = "moved", "Moved"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    DECEASED = "deceased", "Deceased"
    INACCESSIBLE = "inaccessible", "Inaccessible"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    REPLIED = "replied", "Replied"
    OPTED_OUT = "opted_out", "Opted out"
    BOUNCED = "bounced", "Bounced"


# Which results make sense on which channel (DESIGN §4.2); imports reject the rest.
RESULTS_BY_CHANNEL: dict[str, frozenset[str]] = {
    Channel.DOOR: frozenset(
        {"contacted", "not_home", "refused", "moved", "deceased", "inaccessible", "opted_out"}
    ),
    Channel.PHONE: frozenset(
        {
            "contacted",
            "not_home",
            "refused",
            "moved",
            "wrong_number",
            "deceased",
            "inaccessible",
            "opted_out",
        }
    ),
    Channel.SMS: frozenset(
        {"delivered", "failed", "replied", "opted_out", "wrong_number", "contacted"}
    ),
    Channel.EMAIL: frozenset({"delivered", "failed", "bounced", "replied", "opted_out"}),
    Channel.MAIL: frozenset({"delivered", "failed", "moved", "deceased"}),
}


class ContactSource(models.TextChoices):
    IMPORT = "import", "Import"
    ORGANIZER = "organizer", "Organizer page"
    VENDOR_API = "vendor_api", "Vendor API"
    STAFF = "staff", "Staff"


class Program(models.Model):
    """A randomized program: who was assigned to which arm (a message variant, or control).

    Past programs arrive by `import_assignments`; programs the messaging app runs write here too,
    so every program becomes training data for the next persuasion model.
    """

    # No index of its own: uniq_program_name starts with campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="programs", db_index=False
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Imports find-or-create programs by name.
            models.UniqueConstraint(fields=["campaign", "name"], name="uniq_program_name")
        ]

    def __str__(self) -> str:
        return self.name


CONTROL_ARM = "control"


def arm_label(name: str) -> str:
    """An arm's name as staff read it: "civic_duty" is "Civic duty" (arms are named after message
    variants, whose names are identifiers), and control is "control (no message)"."""
    if name == CONTROL_ARM:
        return "control (no message)"
    words = " ".join(name.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:] if words else name


class ProgramArm(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="arms")
    name = models.CharField(max_length=200, help_text="A message variant's name, or 'control'.")
    is_control = models.BooleanField(default=False)

    class Meta:
        ordering = ["program", "-is_control", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="uniq_program_arm"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return arm_label(self.name)


class Assignment(models.Model):
    """One voter's arm in one program (append-only: an assignment is never re-drawn)."""

    # No database constraints on the campaign, the program, the arm, the voter or the import
    # run: their per-row checks at commit lock the same three rows once per assignment (5.5 of
    # the 15.7 seconds of committing a 200,000-voter program), and the voter's pair key
    # (migration 0007, dropped in 0012) then cost 5 of 13 seconds at a million voters: one
    # lookup and row lock per voter. Assignments are written only by `import_assignments` and
    # `messaging.programs.commit_program`, each in one transaction, for a program and arms it has
    # just created or locked, voters it has just read from the campaign's own (their ids come
    # from that select or join, never from input), and its own import run; programs, arms,
    # campaigns, voters and runs are never deleted, and `on_delete` still holds in the ORM.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    # No index of its own: uniq_assignment starts with program.
    program = models.ForeignKey(
        Program,
        on_delete=models.PROTECT,
        related_name="assignments",
        db_index=False,
        db_constraint=False,
    )
    arm = models.ForeignKey(
        ProgramArm, on_delete=models.PROTECT, related_name="assignments", db_constraint=False
    )
    voter = voter_key("assignments")
    assigned_at = models.DateTimeField()
    # PROTECT: history rows are append-only, so the run that wrote them cannot be deleted.
    # Indexed only where set (assignment_import_run): a program's commit writes none.
    import_run = models.ForeignKey(
        "ImportRun",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # A program the product ran records its design, so lift and training stay unbiased even
    # when a model chose the arm; imported past programs have none and use the recorded shares.
    propensity = models.FloatField(
        null=True, blank=True, help_text="P(this arm) for the voter's unit under the design."
    )
    propensities = models.JSONField(
        null=True, blank=True, help_text="{arm name: P(arm)} for every arm, control included."
    )
    unit = models.TextField(
        null=True,
        blank=True,
        help_text="What was randomized: 'household:<id>', an E.164 phone, a lower-cased email, "
        "or 'voter:<id>'. Reports and training cluster by it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A voter is in a program once; re-imports skip what exists.
            models.UniqueConstraint(fields=["program", "voter"], name="uniq_assignment"),
            models.CheckConstraint(
                condition=models.Q(propensity__isnull=True)
                | models.Q(propensity__gt=0, propensity__lte=1),
                name="assignment_propensity_unit",
            ),
        ]
        indexes = [
            # An import run's assignments (the PROTECT check before deleting a run).
            models.Index(
                fields=["import_run"],
                condition=models.Q(import_run__isnull=False),
                name="assignment_import_run",
            ),
        ]
        # A voter's programs (their page, features) use the voter key's own index: a second
        # index on the voter cost every commit of a program as much again.

    def __str__(self) -> str:
        return f"{self.voter_id} in {self.program_id}: {self.arm_id}"


class ContactAttempt(models.Model):
    """One touch with a voter on one channel (append-only history)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    voter = voter_key("contact_attempts")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    occurred_at = models.DateTimeField()
    result = models.CharField(max_length=16, choices=ContactResult.choices)
    result_raw = text("result (as in the source)")
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, null=True, blank=True, related_name="contact_attempts"
    )
    arm = models.ForeignKey(
        ProgramArm, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    variant = text("message variant")
    canvasser = text("canvasser (as in the source)")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=16, choices=ContactSource.choices)
    note = models.TextField(blank=True)
    dedupe_key = models.CharField(
        max_length=32,
        editable=False,
        help_text="Digest of the natural key (voter, channel, time, result, program, arm, "
        "variant, canvasser), so the same row imported twice is kept once.",
    )
    # PROTECT: history rows are append-only, so the run that wrote them cannot be deleted.
    import_run = models.ForeignKey(
        "ImportRun", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # Re-imports and retried API calls skip what exists.
            models.UniqueConstraint(fields=["campaign", "dedupe_key"], name="uniq_contact"),
        ]
        indexes = [
            # The voter's timeline, newest first.
            models.Index(fields=["voter", "-occurred_at"], name="contact_voter_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_result_display()} ({self.voter_id})"


class SurveyKind(models.TextChoices):
    SUPPORT = "support", "Support ID (1-5)"
    CHOICE = "choice", "Multiple choice"
    YES_NO = "yes_no", "Yes / no"


class SurveyQuestion(models.Model):
    SUPPORT_SLUG = "support"
    # The built-in support scale every campaign has: code, label.
    SUPPORT_OPTIONS = (
        ("1", "Strong support"),
        ("2", "Lean support"),
        ("3", "Undecided"),
        ("4", "Lean oppose"),
        ("5", "Strong oppose"),
    )

    # No index of its own: uniq_question_slug starts with campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="survey_questions", db_index=False
    )
    slug = models.SlugField(max_length=64)
    text = models.TextField()
    kind = models.CharField(max_length=16, choices=SurveyKind.choices, default=SurveyKind.CHOICE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "slug"], name="uniq_question_slug"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_builtin(self) -> bool:
        return self.slug == self.SUPPORT_SLUG


class SurveyOption(models.Model):
    question = models.ForeignKey(SurveyQuestion, on_delete=models.PROTECT, related_name="options")
    code = models.CharField(max_length=64, help_text="What files and the API send, e.g. '1'.")
    label = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["question", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["question", "code"], name="uniq_option_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class SurveyResponse(models.Model):
    """One answer by one voter to one question (append-only history)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    voter = voter_key("survey_responses")
    question = models.ForeignKey(SurveyQuestion, on_delete=models.PROTECT, related_name="responses")
    option = models.ForeignKey(SurveyOption, on_delete=models.PROTECT, related_name="responses")
    contact_attempt = models.ForeignKey(
        ContactAttempt,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="survey_responses",
    )
    answered_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=ContactSource.choices)
    # PROTECT: history rows are append-only, so the run that wrote them cannot be deleted.
    import_run = models.ForeignKey(
        "ImportRun", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-answered_at", "-id"]
        constraints = [
            # The same answer recorded twice (a re-import) is kept once.
            models.UniqueConstraint(
                fields=["voter", "question", "answered_at", "option"], name="uniq_response"
            ),
        ]
        indexes = [
            # Training the support model: all answers to one question.
            models.Index(fields=["question", "voter"], name="response_question_voter"),
        ]

    def __str__(self) -> str:
        return f"{self.voter_id}: {self.question_id}={self.option_id}"


class ConsentKind(models.TextChoices):
    OPT_OUT = "opt_out", "Opt-out"
    OPT_IN = "opt_in", "Opt-in"


class ConsentSource(models.TextChoices):
    STOP_REPLY = "stop_reply", "STOP reply"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"
    CANVASS_DNC = "canvass_dnc", "Canvass: do not contact"
    VENDOR_BLOCK = "vendor_block", "Vendor block error"
    STAFF = "staff", "Staff"
    START_REPLY = "start_reply", "START / YES / UNSTOP reply"
    RESUBSCRIBE = "resubscribe", "Re-subscribed"
    IMPORT = "import", "Imported contact history"


class ConsentEventQuerySet(models.QuerySet["ConsentEvent"]):
    def in_force_opt_outs(self) -> ConsentEventQuerySet:
        """Opt-outs that no later opt-in of the same address and channel has undone.

        An address is opted out exactly when such an opt-out exists: its latest event is one
        (ties on the timestamp go to the later-recorded event).
        """
        later_opt_in = ConsentEvent.objects.filter(
            campaign=models.OuterRef("campaign"),
            channel=models.OuterRef("channel"),
            address=models.OuterRef("address"),
            kind=ConsentKind.OPT_IN,
        ).filter(
            models.Q(occurred_at__gt=models.OuterRef("occurred_at"))
            | models.Q(occurred_at=models.OuterRef("occurred_at"), id__gt=models.OuterRef("id"))
        )
        return self.filter(kind=ConsentKind.OPT_OUT).filter(~models.Exists(later_opt_in))


class ConsentEvent(models.Model):
    """An opt-out or opt-in for one address on one channel (append-only ledger).

    The address is an E.164 phone (sms, phone), a lower-cased email (email), or `voter:<pk>`
    (door, mail), so an opt-out keyed to a phone holds whichever voter record carries it. The
    current state of an address is its latest event (see voters.consent).
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=320)
    kind = models.CharField(max_length=8, choices=ConsentKind.choices)
    source = models.CharField(max_length=16, choices=ConsentSource.choices)
    reason = models.TextField(blank=True)
    voter = voter_key(
        "consent_events",
        null=True,
        blank=True,
        help_text="The voter whose record the event was recorded against, when known.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=200, blank=True, help_text="Vendor key or import run.")
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    dedupe_key = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        editable=False,
        help_text="Set by sources that may deliver the same event twice (an import, a vendor "
        "retry); the same key is recorded once.",
    )

    objects = ConsentEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "dedupe_key"],
                condition=models.Q(dedupe_key__isnull=False),
                name="uniq_consent_dedupe",
            ),
        ]
        indexes = [
            # "May we contact this address now?": the latest event per campaign/channel/address.
            models.Index(
                fields=["campaign", "channel", "address", "-occurred_at"], name="consent_address"
            ),
            # The voter's timeline.
            models.Index(fields=["voter", "-occurred_at"], name="consent_voter_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.channel} ({self.source})"


class CodeMappingKind(models.TextChoices):
    RESULT = "result", "Result"
    CONTACT_TYPE = "contact_type", "Contact type"
    SURVEY_QUESTION = "survey_question", "Survey question"


class CodeMapping(models.Model):
    """How a name in a vendor export (VAN 'Result', 'Contact Type') maps to our codes.

    Staff edit these in the admin; defaults are created with each campaign.
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="code_mappings", db_index=False
    )
    layout = models.CharField(max_length=16, default="van")
    kind = models.CharField(max_length=16, choices=CodeMappingKind.choices)
    source_name = models.CharField(
        max_length=200, help_text="As written in the export; matched case-insensitively."
    )
    code = models.CharField(
        max_length=64,
        help_text="Our result code (results), channel (contact types) or question slug (survey "
        "questions).",
    )

    class Meta:
        ordering = ["layout", "kind", "source_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "layout", "kind", "source_name"], name="uniq_code_mapping"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_name} → {self.code}"
