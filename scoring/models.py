"""Model versions (with metrics and model card), scoring runs and per-voter scores."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import models

from campaign.models import Campaign, Election
from scoring.uplift import explain_choice
from voters.models import Program, SurveyQuestion, Voter

# What the page and the export say for a voter whose best arm is control: no message at all.
LEAVE_ALONE = "leave alone (no message)"


class ModelKind(models.TextChoices):
    TURNOUT = "turnout", "Turnout"
    SUPPORT = "support", "Support"
    PERSUASION = "persuasion", "Persuasion (uplift per message)"


class ModelStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


class ModelVersionQuerySet(models.QuerySet["ModelVersion"]):
    def approved(self) -> ModelVersionQuerySet:
        return self.filter(status=ModelStatus.APPROVED)


class ModelVersion(models.Model):
    """A trained model: what it predicts, from which data, how well, and who approved it.

    Only an approved version scores voters; approving one retires the campaign's previously
    approved version of the same kind (and program, for persuasion).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=ModelKind.choices)
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.DRAFT)
    election = models.ForeignKey(
        Election,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The election whose turnout is the label (turnout, persuasion on turnout).",
    )
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, null=True, blank=True, related_name="model_versions"
    )
    question = models.ForeignKey(
        SurveyQuestion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The survey question whose answer is the outcome (support, persuasion).",
    )
    features_as_of = models.DateField(help_text="Features use only history before this date.")
    feature_spec = models.JSONField()
    params = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    model_card = models.TextField()
    artifact = models.BinaryField(help_text="The trained boosters and calibrator.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "The approved turnout model of this campaign" at the start of every scoring run.
            models.Index(fields=["campaign", "kind", "status"], name="model_version_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.pk} ({self.status})"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"


class ScoringRunQuerySet(models.QuerySet["ScoringRun"]):
    def complete(self) -> ScoringRunQuerySet:
        return self.filter(status=RunStatus.COMPLETE)


class ScoringRun(models.Model):
    """Scores for every voter of a campaign from one set of approved models."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    as_of = models.DateField(help_text="Features as of this date (the target election's).")
    target_election = models.ForeignKey(
        Election, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    turnout_model = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    support_model = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    persuasion_model = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    chunks_total = models.IntegerField(default=0)
    voters_total = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScoringRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Scoring run {self.pk} ({self.status})"


class ScoringChunk(models.Model):
    """One voter-id range of a run; a chunk done twice (a redelivered task) is recorded once."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="chunks")
    first_pk = models.BigIntegerField()
    last_pk = models.BigIntegerField()
    voters = models.IntegerField(default=0)
    seconds = models.FloatField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "first_pk"], name="uniq_scoring_chunk"),
        ]

    def __str__(self) -> str:
        return f"{self.first_pk}-{self.last_pk}"


class VoterScoreQuerySet(models.QuerySet["VoterScore"]):
    def latest_complete(self, campaign: Campaign | int) -> VoterScoreQuerySet:
        """Scores of the campaign's latest complete run: what targeting reads."""
        run = ScoringRun.objects.complete().filter(campaign=campaign).order_by("-finished_at")
        return self.filter(run=models.Subquery(run.values("pk")[:1]))


class VoterScore(models.Model):
    # Every index and per-row check here is paid for each of a state's millions of scores per run,
    # so there are none beyond the primary key and the unique (run, voter) key, which serves every
    # read: a run's scores (targeting, export) and a voter's on their page (a probe per run).
    #
    # No database constraints on either key: their per-row checks at commit (a FOR KEY SHARE
    # lock on the run row and on each voter row) were a fifth of a chunk's time outside SHAP.
    # Scores are written only by `score_chunk`, for voter ids it has just read from the run's
    # campaign, while it holds its chunk row FOR UPDATE; that row references the run through a
    # real foreign key, so the run cannot disappear before the scores commit. Voters are never
    # deleted (voters missing from a re-import are marked removed), and `on_delete` still holds
    # in the ORM: deleting a voter with scores raises ProtectedError, deleting a run deletes
    # its scores.
    run = models.ForeignKey(
        ScoringRun,
        on_delete=models.CASCADE,
        related_name="scores",
        db_index=False,
        db_constraint=False,
    )
    voter = models.ForeignKey(
        Voter, on_delete=models.PROTECT, related_name="scores", db_index=False, db_constraint=False
    )
    turnout = models.FloatField(null=True, blank=True)
    support = models.FloatField(null=True, blank=True)
    uplift = models.JSONField(default=dict, blank=True, help_text="{arm: change in outcome}")
    best_arm = models.CharField(max_length=200, blank=True)
    is_backlash = models.BooleanField(
        default=False, help_text="Every message is predicted to lower the outcome: leave alone."
    )
    reasons = models.JSONField(
        default=dict,
        blank=True,
        help_text='Top reasons per model: {"turnout": [["voted in 1 of the last 4 primaries", '
        "-0.12], ...], ...}",
    )

    objects = VoterScoreQuerySet.as_manager()

    class Meta:
        constraints = [
            # A chunk writes under its row lock; this key refuses any twin that got past it.
            models.UniqueConstraint(fields=["run", "voter"], name="uniq_voter_score"),
        ]

    def __str__(self) -> str:
        return f"{self.voter_id} in run {self.run_id}"

    @property
    def best_action(self) -> str:
        """The one thing to do with this voter: a message, or leave them alone."""
        return LEAVE_ALONE if self.best_arm == "control" else self.best_arm

    def best_arm_reason(self, label: Callable[[str], str] = str) -> str:
        """Why the persuasion model's safe policy chose `best_arm`, in words (arms named by
        `label`)."""
        model = self.run.persuasion_model
        if model is None or not self.best_arm:
            return ""
        return explain_choice(
            self.uplift,
            self.best_arm,
            model.metrics.get("best_single_arm"),
            model.metrics.get("margin"),
            label=label,
        )
