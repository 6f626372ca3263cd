"""Message variants: what a program says to a voter, per channel, templated and versioned."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from campaign.models import Campaign
from messaging.rendering import CompiledVariant, VariantTemplateError, compile_template
from messaging.sms_encoding import has_opt_out_language
from voters.models import Channel


class MessageVariantQuerySet(models.QuerySet["MessageVariant"]):
    def current(self) -> MessageVariantQuerySet:
        """The version of each variant that new work uses (one per campaign and name)."""
        return self.filter(is_current=True)


class MessageVariant(models.Model):
    """One version of a message variant: a door or phone script, a text, an email, a mail piece.

    A variant is its `name` within a campaign; each edit of a variant that has been used makes a
    new row with the next `version`, so whatever pinned a version (a program's arm) keeps exactly
    the words it was given. A version is "used" from `used_at` on; from then the database refuses
    any change to it but `is_current` and `tags` (migration 0001's trigger, on PostgreSQL), and
    its deletion. Written only through `messaging.services`.
    """

    # No index of its own: uniq_variant_version starts with campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="message_variants", db_index=False
    )
    name = models.CharField(
        max_length=200, help_text="What programs call this variant (their arms' names)."
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    is_current = models.BooleanField(
        default=True, editable=False, help_text="The version new programs get."
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(
        max_length=300, blank=True, help_text="Email only: the subject line (a template too)."
    )
    body = models.TextField(
        help_text="The script or message (for email, its plain-text body), as a template."
    )
    html_body = models.TextField(
        "HTML body", blank=True, help_text="Email only: the HTML body, as a template."
    )
    is_first_message = models.BooleanField(
        default=True,
        help_text="SMS only: opens a conversation with the number, so it must say how to opt "
        "out (e.g. 'Reply STOP to opt out').",
    )
    tags = models.JSONField(default=list, blank=True, help_text="Labels for finding variants.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When something first pinned this version; from then it is never edited.",
    )
    filtering_counted_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="SMS only: carrier filtering (error 30007) counts the texts sent from then; "
        "set when staff resume the variant after a pause, so it starts afresh.",
    )

    objects = MessageVariantQuerySet.as_manager()

    class Meta:
        # By id, not the campaign: ordering by the foreign key would join campaigns for its name.
        ordering = ["campaign_id", "name", "-version"]
        constraints = [
            # A version's address, which pins refer to; also the admin list per campaign.
            models.UniqueConstraint(
                fields=["campaign", "name", "version"], name="uniq_variant_version"
            ),
            # One current version per variant: what a new program's arm named `name` gets.
            models.UniqueConstraint(
                fields=["campaign", "name"],
                condition=models.Q(is_current=True),
                name="uniq_current_variant",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="variant_channel_known"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="variant_version_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_used(self) -> bool:
        return self.used_at is not None

    @property
    def lacks_opt_out_language(self) -> bool:
        """An SMS that opens a conversation and does not say how to stop."""
        return (
            self.channel == Channel.SMS
            and self.is_first_message
            and not has_opt_out_language(self.body)
        )

    def clean(self) -> None:
        """Every template parses and reads only the message context; email fields on email."""
        errors: dict[str, str] = {}
        if self.channel == Channel.EMAIL and not self.subject.strip():
            errors["subject"] = "An email needs a subject."
        if (
            self.channel == Channel.EMAIL
            and self.campaign_id
            and not self.campaign.has_email_identity
        ):
            # CAN-SPAM: every email names its sender and postal address (messaging.email).
            errors["channel"] = (
                "Email needs the campaign's sender name, sender address and postal address: "
                "set them on the campaign first."
            )
        if self.channel and self.channel != Channel.EMAIL:
            for field in ("subject", "html_body"):
                if getattr(self, field).strip():
                    errors[field] = "Only an email has a subject and an HTML body."
        for field, source in self._templates():
            try:
                compile_template(source, **self._template_options(field))
            except VariantTemplateError as exc:
                errors.setdefault(field, str(exc))
        if errors:
            raise ValidationError(errors)

    def compiled(self) -> CompiledVariant:
        """The variant's templates, parsed and checked, to render for many voters."""
        templates = {
            field: compile_template(source, **self._template_options(field))
            for field, source in self._templates()
        }
        return CompiledVariant(
            name=self.name,
            subject=templates.get("subject"),
            body=templates["body"],
            html_body=templates.get("html_body"),
        )

    def _templates(self) -> list[tuple[str, str]]:
        """(field, source) of each template the variant has; the body always counts."""
        fields = ("subject", "body", "html_body")
        return [(f, getattr(self, f)) for f in fields if f == "body" or getattr(self, f)]

    def _template_options(self, field: str) -> dict:
        label = str(self._meta.get_field(field).verbose_name)
        return {"html": field == "html_body", "variant": self.name, "field": label}


class ProgramStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    COMMITTING = "committing", "Committing (in the background)"
    COMMITTED = "committed", "Committed (running)"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"


class Policy(models.TextChoices):
    SINGLE = "single", "Single variant"
    UNIFORM = "uniform", "Uniform among arms"
    PERSONALIZED = "personalized", "Personalized (persuasion model, with exploration)"


class ProgramDesignQuerySet(models.QuerySet["ProgramDesign"]):
    def running(self) -> ProgramDesignQuerySet:
        """Committed and not paused or cancelled: what delivery may send for."""
        return self.filter(status=ProgramStatus.COMMITTED)


class ProgramDesign(models.Model):
    """How messaging runs a `voters.Program`: its channel, universe, arms' variants and draw.

    The program, its arms and its assignments stay in `voters` (scoring reads them); this row
    holds what outreach needs on top. Written only through `messaging.programs`. Delivery (walk
    lists, SMS, email) sends only for running programs: pausing or cancelling leaves what has not
    gone out unsent.
    """

    program = models.OneToOneField(
        "voters.Program", on_delete=models.PROTECT, related_name="design"
    )
    # The program's campaign, repeated so the admin and the API scope by it in one filter.
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="program_designs")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(
        max_length=16, choices=ProgramStatus.choices, default=ProgramStatus.DRAFT
    )
    policy = models.CharField(max_length=16, choices=Policy.choices)
    universe = models.JSONField(
        default=dict, help_text="The universe's filters (messaging.program_specs.Universe)."
    )
    control_share = models.FloatField()
    exploration_share = models.FloatField(default=0.0)
    budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many units get a message."
    )
    seed = models.BigIntegerField(help_text="The draw's seed: the same seed, the same draw.")
    scoring_run = models.ForeignKey(
        "scoring.ScoringRun",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The scoring run whose scores the committed draw used.",
    )
    persuasion_model = models.ForeignKey(
        "scoring.ModelVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The persuasion model whose choices a personalized draw followed.",
    )
    summary = models.JSONField(
        default=dict, blank=True, help_text="The committed draw's counts per arm."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    committed_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    commit_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When a background commit was last asked for."
    )
    commit_error = models.TextField(
        blank=True, help_text="Why the last background commit did not happen (empty if it did)."
    )

    objects = ProgramDesignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(control_share__gt=0, control_share__lt=1),
                name="program_control_share_open_unit",
            ),
            models.CheckConstraint(
                condition=models.Q(exploration_share__gte=0, exploration_share__lte=1),
                name="program_exploration_share_unit",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ProgramStatus.values), name="program_status_known"
            ),
            models.CheckConstraint(
                condition=models.Q(policy__in=Policy.values), name="program_policy_known"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="program_channel_known"
            ),
        ]

    def __str__(self) -> str:
        return str(self.program.name) if self.program_id else "new program"

    @property
    def is_sending(self) -> bool:
        return self.status == ProgramStatus.COMMITTED


class ArmVariant(models.Model):
    """The message variant version a program's arm sends (pinned at commit: never edited)."""

    design = models.ForeignKey(ProgramDesign, on_delete=models.PROTECT, related_name="arm_variants")
    arm = models.OneToOneField(
        "voters.ProgramArm", on_delete=models.PROTECT, related_name="variant_pin"
    )
    variant = models.ForeignKey(MessageVariant, on_delete=models.PROTECT, related_name="pins")
    position = models.PositiveSmallIntegerField(help_text="The arm's number in the draw (1..K).")

    class Meta:
        ordering = ["design", "position"]
        constraints = [
            models.UniqueConstraint(fields=["design", "position"], name="uniq_arm_position"),
            models.CheckConstraint(condition=models.Q(position__gte=1), name="arm_position_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.arm_id}: {self.variant}"


# --------------------------------------------------------------------------------------------
# Turfs
# --------------------------------------------------------------------------------------------


class TurfMethod(models.TextChoices):
    GEOGRAPHY = "geography", "By geography (coordinates)"
    STREET = "street", "By street (no coordinates)"


class TurfStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Turf(models.Model):
    """A door program's households to walk together, in walking order (its `stops`).

    Cut by `messaging.canvassing` from the program's treated households (control households are
    never in a turf: the control group receives nothing); the figures are the cut's and are
    rewritten with it. Results recorded at a door are contact attempts of the voters and the
    program, not of the turf, so re-cutting or reassigning a turf leaves them as they are.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="turfs")
    # The admin's program filter and a program's turfs by rank.
    design = models.ForeignKey(ProgramDesign, on_delete=models.PROTECT, related_name="turfs")
    name = models.CharField(max_length=200, help_text="<precinct>-<nnn>, unique in the program.")
    precinct = models.CharField(max_length=200, blank=True)
    method = models.CharField(max_length=16, choices=TurfMethod.choices)
    rank = models.PositiveIntegerField(
        help_text="1 is walked first: the best expected net votes per door (unknown last)."
    )
    doors = models.PositiveIntegerField()
    voters = models.PositiveIntegerField()
    walking_m = models.FloatField(
        "walking metres",
        null=True,
        blank=True,
        help_text="Along the walking order; by street: none.",
    )
    net_votes = models.FloatField(
        "expected net votes",
        null=True,
        blank=True,
        help_text="Summed uplift of the doors' voters for their arm; empty without scores.",
    )
    min_doors = models.PositiveIntegerField()
    max_doors = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=TurfStatus.choices, default=TurfStatus.OPEN)
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="turfs",
        help_text="Who walks it (or leads its canvassers).",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cut_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cut_at = models.DateTimeField()

    class Meta:
        ordering = ["design_id", "rank"]
        constraints = [
            # Re-cut names continue the precinct's numbering; a name is a turf's address.
            models.UniqueConstraint(fields=["design", "name"], name="uniq_turf_name"),
            models.CheckConstraint(condition=models.Q(rank__gte=1), name="turf_rank_gte_1"),
            models.CheckConstraint(
                condition=models.Q(status__in=TurfStatus.values), name="turf_status_known"
            ),
            models.CheckConstraint(
                condition=models.Q(method__in=TurfMethod.values), name="turf_method_known"
            ),
        ]
        indexes = [
            # An organizer's turfs (their pages, the admin filter).
            models.Index(fields=["organizer", "design"], name="turf_organizer"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def net_votes_per_door(self) -> float | None:
        if self.net_votes is None or not self.doors:
            return None
        return self.net_votes / self.doors

    @property
    def is_undersized(self) -> bool:
        return self.doors < self.min_doors

    @property
    def is_oversized(self) -> bool:
        return self.doors > self.max_doors


class TurfDoor(models.Model):
    """One household of a turf, at its stop in the walking order."""

    turf = models.ForeignKey(Turf, on_delete=models.CASCADE, related_name="stops")
    # Repeated from the turf so the database holds "a household is in one turf of a program".
    design = models.ForeignKey(ProgramDesign, on_delete=models.CASCADE, related_name="+")
    # No database constraint: households are partitioned by campaign on PostgreSQL (voters
    # migration 0007), so their key there is (id, campaign_id). Households are never deleted.
    household = models.ForeignKey(
        "voters.Household", on_delete=models.PROTECT, related_name="turf_doors", db_constraint=False
    )
    position = models.PositiveIntegerField(help_text="Stop number in the walking order, from 1.")
    # The household's arm in the program (a door program randomizes households: one arm each).
    arm = models.ForeignKey("voters.ProgramArm", on_delete=models.PROTECT, related_name="+")
    voters = models.PositiveIntegerField()
    net_votes = models.FloatField(null=True, blank=True)
    is_position_imputed = models.BooleanField(
        default=False,
        help_text="No coordinates of its own: placed at the nearest numbered door of its street.",
    )

    class Meta:
        ordering = ["turf", "position"]
        constraints = [
            # Every treated household of a program is in exactly one of its turfs.
            models.UniqueConstraint(fields=["design", "household"], name="uniq_turf_household"),
            # A turf's doors in walking order (its page, its walk list).
            models.UniqueConstraint(fields=["turf", "position"], name="uniq_turf_position"),
            models.CheckConstraint(
                condition=models.Q(position__gte=1), name="turf_door_position_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.turf_id} #{self.position}"


# --------------------------------------------------------------------------------------------
# Results recorded on the organizer's phone
# --------------------------------------------------------------------------------------------


class DoorOutcome(models.TextChoices):
    """What an organizer taps at a door, and the contact result each one is recorded as."""

    NOT_HOME = "not_home", "Not home"
    CONTACTED = "contacted", "Talked"
    COME_BACK = "come_back", "Come back"
    REFUSED = "refused", "Refused"
    MOVED = "moved", "Moved"
    INACCESSIBLE = "inaccessible", "Inaccessible"
    DECEASED = "deceased", "Deceased"
    DO_NOT_CONTACT = "do_not_contact", "Do not contact"


class FieldFlag(models.TextChoices):
    """Why a result needs a second look: it is kept (and written to history) all the same."""

    NONE = "", "None"
    REASSIGNED = "reassigned", "Turf since given to another organizer"
    TURF_GONE = "turf_gone", "Turf since re-cut away"
    NOT_IN_TURF = "not_in_turf", "Door no longer in the turf"
    PAUSED = "paused", "Program paused"
    CANCELLED = "cancelled", "Program cancelled"


class FieldSettlement(models.TextChoices):
    """What staff decided about a flagged result (`messaging.field.settle_field_results`)."""

    NONE = "", "Not settled"
    ACCEPTED = "accepted", "Accepted: counts in the canvass's progress"
    DISMISSED = "dismissed", "Dismissed: left out of the canvass's progress"


class FieldResult(models.Model):
    """One result an organizer recorded for one voter at a door, as the phone sent it.

    `key` is the phone's idempotency key (a UUID made when the result was tapped), so a result
    sent twice (a retry on a bad signal, a queue flushed from two tabs) is recorded once and the
    replay gets the first answer back. The contact attempt, the answers and any opt-out it made
    are history rows written through `voters.contacts` and `voters.consent`; this row links them
    and keeps what they cannot: the turf, the flag and the phone's own time.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    key = models.UUIDField(help_text="The phone's idempotency key for this result.")
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="field_results"
    )
    design = models.ForeignKey(ProgramDesign, on_delete=models.PROTECT, related_name="+")
    # SET_NULL: a re-cut deletes turfs; the result stays, with the turf's id as sent.
    turf = models.ForeignKey(
        Turf, on_delete=models.SET_NULL, null=True, blank=True, related_name="results"
    )
    turf_ref = models.PositiveIntegerField(help_text="The turf id the phone sent.")
    # No database constraint: voters are partitioned by campaign (see TurfDoor.household).
    voter = models.ForeignKey(
        "voters.Voter", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    outcome = models.CharField(max_length=16, choices=DoorOutcome.choices)
    support = models.CharField(max_length=8, blank=True, help_text="Support ID 1-5, if asked.")
    answers = models.JSONField(default=dict, blank=True, help_text="{question slug: code}.")
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(help_text="When the organizer tapped it (phone's clock).")
    received_at = models.DateTimeField(auto_now_add=True)
    flag = models.CharField(max_length=16, choices=FieldFlag.choices, blank=True, default="")
    contact_attempt = models.ForeignKey(
        "voters.ContactAttempt", on_delete=models.PROTECT, related_name="+"
    )
    response = models.JSONField(help_text="What the first request was answered; replays get it.")
    # A flagged result, once staff have looked at it. The history rows it wrote stay either way.
    settlement = models.CharField(
        max_length=16, choices=FieldSettlement.choices, blank=True, default=""
    )
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # The idempotency key: a replayed result finds its first recording here.
            models.UniqueConstraint(fields=["campaign", "key"], name="uniq_field_result_key"),
            models.CheckConstraint(
                condition=models.Q(outcome__in=DoorOutcome.values), name="field_outcome_known"
            ),
            models.CheckConstraint(
                condition=models.Q(flag__in=FieldFlag.values), name="field_flag_known"
            ),
            models.CheckConstraint(
                condition=models.Q(settlement__in=FieldSettlement.values),
                name="field_settlement_known",
            ),
            # Only a flagged result is settled, and a settled one says when.
            models.CheckConstraint(
                condition=models.Q(settlement="", settled_at__isnull=True)
                | (
                    ~models.Q(settlement="")
                    & ~models.Q(flag="")
                    & models.Q(settled_at__isnull=False)
                ),
                name="field_settled_when_flagged",
            ),
        ]
        indexes = [
            # The admin's flagged results of a campaign, newest first.
            models.Index(fields=["campaign", "flag", "-received_at"], name="field_result_flag"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} ({self.voter_id})"


# --------------------------------------------------------------------------------------------
# The SMS outbox (issue 14): messages, the vendors' receipts and the voters' replies
# --------------------------------------------------------------------------------------------


class SmsSettings(models.Model):
    """A campaign's texting limits and what its HELP answer says (created with defaults)."""

    campaign = models.OneToOneField(Campaign, on_delete=models.PROTECT, related_name="sms_settings")
    per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many texts handed to vendors per second."
    )
    per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="At most this many per day (the campaign's local day). Texts over a cap wait.",
    )
    help_contact = models.CharField(
        max_length=100,
        blank=True,
        help_text="How to reach the campaign, in the HELP answer (a phone, email or web site).",
    )
    help_frequency = models.CharField(
        max_length=100, default="Msg frequency varies", help_text="In the HELP answer."
    )
    twilio_auth_token = models.CharField(
        max_length=64,
        blank=True,
        help_text="The Twilio account's auth token, which signs its callbacks. Empty: every "
        "Twilio callback is refused (there is no way to accept them unsigned).",
    )

    class Meta:
        verbose_name = verbose_name_plural = "SMS settings"

    def __str__(self) -> str:
        return f"SMS settings of {self.campaign_id}"


class SmsWindowProfile(models.Model):
    """A distinct quiet-hours profile (zones and rule-bearing states) some recipients share.

    A few hundred rows whatever the outbox's size, so a lease checks each profile's window once
    and selects messages by profile id.
    """

    key = models.CharField(max_length=500, unique=True, help_text="'zone,zone;ST,ST'.")
    zones = models.JSONField()
    states = models.JSONField()

    def __str__(self) -> str:
        return self.key


class SmsStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    HELD = "held", "Held (quiet hours)"
    DUE = "due", "Due"
    LEASED = "leased", "Leased to a vendor"
    SENT = "sent", "Sent"
    UNKNOWN = "unknown", "Unknown (outcome lost)"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    UNDELIVERED = "undelivered", "Undelivered"
    CANCELED = "canceled", "Canceled"


# A message in one of these never changes status again (messaging migration 0006's trigger).
SMS_FINAL_STATUSES = (
    SmsStatus.DELIVERED, SmsStatus.FAILED, SmsStatus.UNDELIVERED, SmsStatus.CANCELED,
)  # fmt: skip


class SmsKind(models.TextChoices):
    PROGRAM = "program", "Program message"
    OPT_OUT_CONFIRMATION = "opt_out_confirmation", "Opt-out confirmation"
    OPT_IN_CONFIRMATION = "opt_in_confirmation", "Opt-in confirmation"
    HELP = "help", "HELP answer"


class SmsMessage(models.Model):
    """One text in the outbox: a program's message to one phone, or the answer to a reply.

    queued -> held (window closed) -> due -> leased -> sent -> delivered | failed | undelivered,
    canceled (opted out, not textable), and unknown (a send whose outcome was lost). Written
    only through `messaging.sms` and `messaging.sms_inbound`; a final status never changes.
    """

    # No index of its own: sms_campaign_status starts with campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=24, choices=SmsKind.choices, default=SmsKind.PROGRAM)
    # No index of its own: uniq_sms_program_phone starts with design.
    design = models.ForeignKey(
        ProgramDesign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sms_messages",
        db_index=False,
    )
    arm = models.ForeignKey(
        "voters.ProgramArm", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    variant = models.ForeignKey(
        MessageVariant, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The voter the text was rendered for (others sharing the phone get this one text).
    # No database constraint: voters are partitioned by campaign (see TurfDoor.household).
    voter = models.ForeignKey(
        "voters.Voter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    phone = models.CharField(max_length=20, help_text="E.164")
    profile = models.ForeignKey(SmsWindowProfile, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    encoding = models.CharField(max_length=8)
    segments = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, choices=SmsStatus.choices, default=SmsStatus.QUEUED)
    hold_until = models.DateTimeField(
        null=True, blank=True, help_text="Held: when the recipient's window next opens."
    )
    lease_id = models.UUIDField(null=True, blank=True)
    leased_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    leased_by = models.ForeignKey(
        "campaign.VendorApiKey",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    vendor_message_id = models.CharField(max_length=100, null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When it became final.")
    error_code = models.CharField(max_length=16, blank=True)
    cancel_reason = models.CharField(max_length=32, blank=True)
    reply_to = models.OneToOneField(
        "SmsInbound",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="answer",
        help_text="The reply this text answers (a confirmation or the HELP text): one each.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name, verbose_name_plural = "SMS message", "SMS messages"
        ordering = ["-created_at", "-id"]
        constraints = [
            # One text per program and phone: voters sharing a phone get one.
            models.UniqueConstraint(
                fields=["design", "phone"],
                condition=models.Q(design__isnull=False),
                name="uniq_sms_program_phone",
            ),
            # Receipts find their message by the vendor's id.
            # The vendor's id first: receipts and acks look up a thousand ids at once, and with
            # the campaign first the planner, its statistics taken before any text was sent (all
            # ids empty, none in this partial index), read the campaign's every entry and
            # filtered them instead of looking each id up.
            models.UniqueConstraint(
                fields=["vendor_message_id", "campaign"],
                condition=models.Q(vendor_message_id__isnull=False),
                name="uniq_sms_vendor_id",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=SmsStatus.values), name="sms_status_known"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=SmsKind.values), name="sms_kind_known"
            ),
            # A program's text names its program; an answer to a reply names none.
            models.CheckConstraint(
                condition=models.Q(kind=SmsKind.PROGRAM, design__isnull=False)
                | (~models.Q(kind=SmsKind.PROGRAM) & models.Q(design__isnull=True)),
                name="sms_program_has_design",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=SmsStatus.LEASED)
                | models.Q(lease_id__isnull=False, lease_expires_at__isnull=False),
                name="sms_leased_has_lease",
            ),
        ]
        indexes = [
            # Release (queued/held -> due) and lease (due, by window profile) per campaign.
            models.Index(fields=["campaign", "status", "profile"], name="sms_campaign_status"),
            # The lease's queues: a campaign's due texts, oldest first, program texts and answers
            # apart. A lease reads about as many entries as it hands out, however many are due
            # (a million, early on). Ordered by created_at, which the primary key cannot give:
            # in id order the planner would walk the primary key instead, through every text
            # already sent, as if due ones were spread evenly among them.
            models.Index(
                fields=["campaign", "created_at", "id"],
                condition=models.Q(status="due", kind="program"),
                name="sms_due_program",
            ),
            models.Index(
                fields=["campaign", "created_at", "id"],
                condition=models.Q(status="due") & ~models.Q(kind="program"),
                name="sms_due_answer",
            ),
            # Release (beat): the texts waiting for a window, per profile, across campaigns.
            models.Index(
                fields=["profile", "hold_until"],
                condition=models.Q(status__in=["queued", "held"]),
                name="sms_pending",
            ),
            # Expired leases going back to due (beat).
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status="leased"),
                name="sms_lease_expiry",
            ),
            # Sent texts still waiting for their outcome (beat marks the lost ones unknown).
            models.Index(
                fields=["sent_at"], condition=models.Q(status="sent"), name="sms_awaiting_outcome"
            ),
            # Throughput caps: how many were handed out in the last second and today.
            models.Index(
                fields=["campaign", "leased_at"],
                condition=models.Q(leased_at__isnull=False),
                name="sms_campaign_leased_at",
            ),
            # A number's latest text (a reply's context) and its conversation (the voter page).
            models.Index(fields=["campaign", "phone", "-created_at"], name="sms_campaign_phone"),
        ]

    def __str__(self) -> str:
        return f"SMS {self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in SMS_FINAL_STATUSES


class SmsReceipt(models.Model):
    """A delivery receipt as a vendor reported it, once per (vendor message id, status)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    message = models.ForeignKey(SmsMessage, on_delete=models.PROTECT, related_name="receipts")
    vendor_message_id = models.CharField(max_length=100)
    status = models.CharField(max_length=12, choices=SmsStatus.choices)
    error_code = models.CharField(max_length=16, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # Idempotency of receipts: the same (id, status) reported again changes nothing.
            models.UniqueConstraint(
                fields=["campaign", "vendor_message_id", "status"], name="uniq_sms_receipt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_message_id}: {self.status}"


class SmsInbound(models.Model):
    """A text a voter sent us (a reply), with what it was taken to mean and what was done."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    vendor_message_id = models.CharField(max_length=100)
    vendor_key = models.ForeignKey(
        "campaign.VendorApiKey",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when it came through the Twilio endpoint.",
    )
    phone = models.CharField(max_length=32, help_text="Who sent it (E.164 when readable).")
    body = models.TextField()
    received_at = models.DateTimeField()
    is_vendor_confirmed = models.BooleanField(
        default=False, help_text="The vendor already answered the keyword itself."
    )
    kind = models.CharField(max_length=16, help_text="messaging.replies.ReplyKind")
    rule = models.CharField(max_length=64, blank=True)
    recorded = models.CharField(max_length=8, blank=True, help_text="opt_out, opt_in or empty.")
    needs_review = models.BooleanField(default=False)
    voter = models.ForeignKey(
        "voters.Voter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    in_reply_to = models.ForeignKey(
        SmsMessage, on_delete=models.PROTECT, null=True, blank=True, related_name="replies"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_outcome = models.CharField(
        max_length=16, blank=True, help_text="opted_out or kept, once staff decided."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "SMS reply"
        verbose_name_plural = "SMS replies"
        constraints = [
            # A reply forwarded twice is handled once.
            models.UniqueConstraint(
                fields=["campaign", "vendor_message_id"], name="uniq_sms_inbound"
            ),
        ]
        indexes = [
            # A number's conversation (the voter page).
            models.Index(fields=["campaign", "phone", "-received_at"], name="sms_inbound_phone"),
            # The review queue, and the numbers whose texts wait for a decision (lease).
            models.Index(
                fields=["campaign", "phone"],
                condition=models.Q(needs_review=True, reviewed_at__isnull=True),
                name="sms_inbound_review",
            ),
        ]

    def __str__(self) -> str:
        return f"reply {self.pk} ({self.kind})"


class UntextablePhone(models.Model):
    """A number a vendor said cannot take texts (a landline, a dead number): never texted."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    phone = models.CharField(max_length=20)
    reason = models.CharField(max_length=16, help_text="messaging.replies.ErrorEffect")
    error_code = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "phone"], name="uniq_untextable_phone")
        ]

    def __str__(self) -> str:
        return f"untextable {self.pk} ({self.reason})"


class PausedVariant(models.Model):
    """A variant carriers filter too often (error 30007): its texts wait until staff review it."""

    variant = models.OneToOneField(MessageVariant, on_delete=models.PROTECT, related_name="+")
    filtered = models.PositiveIntegerField()
    sent = models.PositiveIntegerField()
    paused_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.variant} paused"


# --------------------------------------------------------------------------------------------
# Email (issue 15)
# --------------------------------------------------------------------------------------------


class EmailSettings(models.Model):
    """A campaign's email caps, provider webhook key and its pause (one row per campaign)."""

    campaign = models.OneToOneField(
        Campaign, on_delete=models.PROTECT, related_name="email_settings"
    )
    per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many emails a minute (blank: no cap)."
    )
    per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many emails a day (blank: no cap)."
    )
    sendgrid_public_key = models.TextField(
        "SendGrid webhook verification key",
        blank=True,
        help_text="The Event Webhook's signature verification key (base64), from SendGrid's "
        "Mail Settings; events are refused while it is blank.",
    )
    paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Sending stops while set (complaint rate over 0.3 %)."
    )
    pause_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "email settings"

    def __str__(self) -> str:
        return f"email settings of campaign {self.campaign_id}"


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    CLAIMED = "claimed", "Claimed by a batch"
    SENDING = "sending", "Handed to the mail server"
    SENT = "sent", "Sent"
    UNKNOWN = "unknown", "Unknown (outcome lost)"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complaint"
    CANCELED = "canceled", "Canceled"


# Never left (messaging migration 0008's trigger). A complaint can follow a delivery, so
# `delivered` is not final; a sent message never goes back to queued either.
EMAIL_FINAL_STATUSES = (
    EmailStatus.FAILED, EmailStatus.BOUNCED, EmailStatus.COMPLAINED, EmailStatus.CANCELED,
)  # fmt: skip


class EmailMessage(models.Model):
    """One email in the outbox: a program's message to one address.

    A sibling of SmsMessage rather than rows of its table: the two share the outbox's discipline
    (filled from a committed program, one conditional UPDATE per move, forward-only states held
    by a trigger, `unknown` for a lost outcome) but not its columns: a text has a phone, window
    profile, segments and a vendor lease; an email has an address, a subject, two bodies and a
    Message-ID, and is pushed through an SMTP connection by our own worker, not leased. One table
    would be mostly NULL columns and CHECKs keyed on a channel column.

    queued -> claimed (a batch took it) -> sending (handed to the server) -> sent -> delivered,
    bounced, complained; failed (refused by the server), canceled (opted out before sending),
    unknown (the worker died while the server had it: never sent again). Written only through
    `messaging.email` and `messaging.email_events`.
    """

    # No index of its own: email_campaign_status starts with campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # No index of its own: uniq_email_program_address starts with design.
    design = models.ForeignKey(
        ProgramDesign, on_delete=models.PROTECT, related_name="email_messages", db_index=False
    )
    arm = models.ForeignKey("voters.ProgramArm", on_delete=models.PROTECT, related_name="+")
    variant = models.ForeignKey(MessageVariant, on_delete=models.PROTECT, related_name="+")
    # The voter it was rendered for (others sharing the address get this one email).
    # No database constraint: voters are partitioned by campaign (see TurfDoor.household).
    voter = models.ForeignKey(
        "voters.Voter", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    address = models.CharField(max_length=320, help_text="Lower-cased.")
    subject = models.TextField()
    body = models.TextField()
    html_body = models.TextField(blank=True)
    message_id = models.CharField(
        max_length=200, unique=True, help_text="The Message-ID header, without angle brackets."
    )
    status = models.CharField(max_length=12, choices=EmailStatus.choices, default="queued")
    claim_id = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True, help_text="An SMTP code or event kind.")
    cancel_reason = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One email per program and address: voters sharing an address get one.
            models.UniqueConstraint(
                fields=["design", "address"], name="uniq_email_program_address"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=EmailStatus.values), name="email_status_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="claimed")
                | models.Q(claim_id__isnull=False, claimed_at__isnull=False),
                name="email_claimed_has_claim",
            ),
        ]
        indexes = [
            # A batch's claim: a campaign's queued mail in id order.
            models.Index(
                fields=["campaign", "id"],
                condition=models.Q(status="queued"),
                name="email_campaign_queued",
            ),
            # Counts per status (the program page, complaint rate) and the caps' sent counts.
            models.Index(fields=["campaign", "status", "sent_at"], name="email_campaign_status"),
            # Recovery (beat): claims and hand-offs of dead workers.
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status__in=["claimed", "sending"]),
                name="email_in_flight",
            ),
            # The voter page's emails of an address.
            models.Index(fields=["campaign", "address", "-created_at"], name="email_address"),
        ]

    def __str__(self) -> str:
        return f"email {self.pk} ({self.status})"


class EmailEventKind(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SOFT_BOUNCE = "soft_bounce", "Soft bounce"
    COMPLAINT = "complaint", "Complaint"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribe"


class EmailEvent(models.Model):
    """A provider's delivery event or an unsubscribe, once each (append-only)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    message = models.ForeignKey(
        EmailMessage, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    address = models.CharField(max_length=320)
    kind = models.CharField(max_length=12, choices=EmailEventKind.choices)
    provider_event_id = models.CharField(
        max_length=200, help_text="The provider's event id (sg_event_id) or ours."
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # A provider retrying an event delivers it again: kept once.
            models.UniqueConstraint(
                fields=["campaign", "provider_event_id"], name="uniq_email_event"
            ),
        ]
        indexes = [
            # Soft bounces of an address in the last seven days.
            models.Index(fields=["campaign", "address", "kind", "occurred_at"], name="email_event"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of email {self.message_id}"
