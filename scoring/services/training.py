"""Training, approving and reporting: every write of the scoring app goes through here."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from campaign.models import AuditAction, Campaign, Election, Membership, Role
from campaign.services import record_audit_event
from scoring import artifacts, cards
from scoring.experiments import ExperimentError, analyze_by_band, analyze_experiment
from scoring.features import (
    SPEC,
    FeatureMatrix,
    FeatureSpec,
    build_context,
    build_features,
    report_columns,
)
from scoring.ml import SIZES, train_classifier
from scoring.models import ModelKind, ModelStatus, ModelVersion
from scoring.uplift import (
    backlash,
    best_arm,
    choose_margin,
    cross_fitted_safe_policy,
    fit_dr_learner,
    policy_scores,
    policy_value,
    qini_coefficient,
    safe_policy,
    uplift_at,
)
from voters.models import Assignment, Program, SurveyQuestion

logger = logging.getLogger(__name__)

# The support model must not see what it predicts, nor who was reached to be asked: every
# labelled voter was reached, so contact counts would mark the labelled rather than supporters.
SUPPORT_EXCLUDED = ("support_answer", "contact_attempts", "contacts_reached", "days_since_contact")
SUPPORT_CODES = {"1": 1, "2": 1, "4": 0, "5": 0}  # 3 (undecided) is neither: left out of labels
APPROVER_ROLES = (Role.ADMIN, Role.STAFF)


class TrainingError(ValidationError):
    """The data cannot train the model asked for (no label election, too few answers, …)."""


@dataclass
class Dataset:
    matrix: FeatureMatrix
    rows: np.ndarray  # indices into the matrix
    labels: np.ndarray

    @property
    def features(self) -> np.ndarray:
        return self.matrix.values[self.rows]

    @property
    def households(self) -> np.ndarray:
        return household_clusters(self.matrix)[self.rows]


def household_clusters(matrix: FeatureMatrix) -> np.ndarray:
    """Cluster id per voter: the household, or the voter alone when it has none."""
    return np.where(matrix.household_ids > 0, matrix.household_ids, -matrix.voter_pks)


def spec_subset(names: tuple[str, ...]) -> FeatureSpec:
    return FeatureSpec(version=SPEC.version, names=names)


# -- training -----------------------------------------------------------------------------


def train_turnout_model(
    *,
    campaign: Campaign,
    election: Election,
    user: AbstractBaseUser | None = None,
    seed: int = 0,
    approve: bool = False,
    sizes: Sequence[tuple[int, int]] = SIZES,
) -> ModelVersion:
    """Label: voted in `election`; features as of its date; eligible voters only."""
    data = _turnout_dataset(campaign, election)
    model = train_classifier(data.features, data.labels, data.households, seed=seed, sizes=sizes)
    bundle = artifacts.Artifact(
        boosters={"model": model.booster},
        calibrators={"model": model.calibrator},
        meta={"reliability": model.reliability},
    )
    version = _save_version(
        campaign=campaign,
        kind=ModelKind.TURNOUT,
        election=election,
        as_of=election.election_on,
        spec=SPEC,
        params=model.params,
        metrics={**model.metrics, "reliability": model.reliability},
        artifact=bundle,
        user=user,
        card=cards.turnout_card(election, model.metrics, model.params, SPEC.names),
    )
    return approve_model(version=version, user=user) if approve else version


def train_support_model(
    *,
    campaign: Campaign,
    as_of: dt.date | None = None,
    user: AbstractBaseUser | None = None,
    seed: int = 0,
    approve: bool = False,
    sizes: Sequence[tuple[int, int]] = SIZES,
) -> ModelVersion:
    """Label: the voter's latest answer to the support question (1-2 yes, 4-5 no, 3 left out)."""
    as_of = as_of or timezone.localdate()
    data, counts = _support_dataset(campaign, as_of)
    model = train_classifier(data.features, data.labels, data.households, seed=seed, sizes=sizes)
    spec = spec_subset(tuple(n for n in SPEC.names if n not in SUPPORT_EXCLUDED))
    bundle = artifacts.Artifact(
        boosters={"model": model.booster},
        calibrators={"model": model.calibrator},
        meta={"reliability": model.reliability},
    )
    metrics = {**model.metrics, "reliability": model.reliability, "answers": counts}
    version = _save_version(
        campaign=campaign,
        kind=ModelKind.SUPPORT,
        question=SurveyQuestion.objects.get(campaign=campaign, slug=SurveyQuestion.SUPPORT_SLUG),
        as_of=as_of,
        spec=spec,
        params=model.params,
        metrics=metrics,
        artifact=bundle,
        user=user,
        card=cards.support_card(metrics, model.params, spec.names),
    )
    return approve_model(version=version, user=user) if approve else version


def train_persuasion_model(
    *,
    campaign: Campaign,
    program: Program,
    election: Election | None = None,
    question: SurveyQuestion | None = None,
    user: AbstractBaseUser | None = None,
    folds: int = 5,
    seed: int = 0,
    approve: bool = False,
    params: dict | None = None,
) -> ModelVersion:
    """DR-learner uplift per arm, cross-fitted; evaluated on its out-of-fold predictions."""
    if (election is None) == (question is None):
        raise TrainingError(
            "a persuasion model needs exactly one outcome: an election or a question"
        )
    experiment = _program_dataset(campaign, program, election, question)
    fit = fit_dr_learner(
        experiment.features,
        experiment.arm,
        experiment.outcome,
        experiment.propensity,
        arm_names=experiment.arm_names,
        clusters=experiment.clusters,
        folds=folds,
        seed=seed,
        params=params,
    )
    evaluation = {**evaluate_uplift(experiment, fit), **experiment.counts()}
    bundle = artifacts.Artifact(
        boosters={
            f"uplift_{name}": m.get_booster()
            for name, m in zip(experiment.arm_names[1:], fit.final_models, strict=True)
        },
        arrays={
            "voter_pks": experiment.voter_pks,
            "assigned_arm": experiment.arm,
            "uplift_oof": fit.uplift_oof,
            "chosen_arm": evaluation.pop("chosen"),
        },
        meta={"arm_names": experiment.arm_names},
    )
    version = _save_version(
        campaign=campaign,
        kind=ModelKind.PERSUASION,
        election=election,
        program=program,
        question=question,
        as_of=experiment.as_of,
        spec=SPEC,
        params={
            "learner": "DR-learner, nested cross-fitting",
            "folds": folds,
            "folds_by": "household",
            "seed": seed,
            **(params or {}),
        },
        metrics=evaluation,
        artifact=bundle,
        user=user,
        card=cards.persuasion_card(program, election, question, evaluation, folds, SPEC.names),
    )
    return approve_model(version=version, user=user) if approve else version


@dataclass
class ProgramData:
    as_of: dt.date
    arm_names: list[str]
    voter_pks: np.ndarray
    features: np.ndarray
    arm: np.ndarray
    outcome: np.ndarray
    propensity: np.ndarray
    clusters: np.ndarray
    assigned: int = 0  # every assignment of the program
    dropped: dict[str, int] | None = None  # assigned voters left out of the data, by reason
    answered_share: dict[str, float] | None = None  # a question outcome: who answered, by arm

    def counts(self) -> dict:
        """How many assigned voters the data kept and why the others were left out."""
        figures = {"assigned": self.assigned, "dropped": self.dropped or {}}
        if self.answered_share is not None:
            figures["answered_share"] = self.answered_share
        return figures


def evaluate_uplift(experiment: ProgramData, fit) -> dict:
    """Qini and top-share uplift per arm; IPS and DR policy values with 95% CIs."""
    a, y, e, mu = experiment.arm, experiment.outcome, experiment.propensity, fit.outcome_oof
    clusters = experiment.clusters
    arms = {}
    for k, name in enumerate(experiment.arm_names[1:], start=1):
        inside = (a == 0) | (a == k)
        tau, treated = fit.uplift_oof[inside, k - 1], (a[inside] == k).astype(int)
        arms[name] = {
            "ate_dr": float(fit.pseudo[:, k - 1].mean()),
            "qini": qini_coefficient(tau, treated, y[inside]),
            **{
                f"uplift_top_{q}": uplift_at(tau, treated, y[inside], q / 100) for q in (10, 20, 30)
            },
        }
    values, singles = [], {}
    for k, name in enumerate(experiment.arm_names):
        ips, dr = policy_scores(np.full(len(a), k), a, y, e, mu)
        singles[k] = policy_value(f"everyone: {name}", ips, dr, clusters)
        values.append(singles[k])
    best_single = max(singles, key=lambda k: singles[k].dr)
    # What scoring deploys: the margin chosen on every program voter's out-of-fold uplift.
    margin = choose_margin(fit.uplift_oof, best_single, a, y, e, mu, clusters)
    # What is evaluated: each fold's voters under the default arm and margin chosen without that
    # fold's outcomes.
    chosen = cross_fitted_safe_policy(fit.uplift_oof, fit.fold, fit.fold_policy)
    per_fold = [
        {
            "fold": f,
            "default_arm": policy.default_arm,
            "margin": None if np.isinf(policy.margin) else policy.margin,
            **({"uplift_size": policy.size} if policy.size else {}),
        }
        for f, policy in sorted(fit.fold_policy.items())
    ]
    personalized_ips, personalized_dr = policy_scores(chosen, a, y, e, mu)
    values.append(policy_value("personalized", personalized_ips, personalized_dr, clusters))
    # The gain over the best single arm voter by voter: its CI is far narrower than the two
    # policies' own CIs, since both are scored on the same voters.
    best_ips, best_dr = policy_scores(np.full(len(a), best_single), a, y, e, mu)
    gain = policy_value(
        "personalized minus best single arm",
        personalized_ips - best_ips,
        personalized_dr - best_dr,
        clusters,
    )
    unrestricted = best_arm(fit.uplift_oof)
    values.append(
        policy_value("each voter's best arm", *policy_scores(unrestricted, a, y, e, mu), clusters)
    )
    rows = np.arange(len(a))
    random_ips = sum(
        e[rows, k] * policy_scores(np.full(len(a), k), a, y, e, mu)[0] for k in singles
    )
    random_dr = sum(e[rows, k] * policy_scores(np.full(len(a), k), a, y, e, mu)[1] for k in singles)
    values.append(policy_value("random assignment", random_ips, random_dr, clusters))
    return {
        "n": len(a),
        "arms": arms,
        "policies": [vars(v) for v in values],
        "best_single_arm": experiment.arm_names[best_single],
        "margin": None if np.isinf(margin) else margin,
        "margin_by_fold": per_fold,
        "personalized_gain": vars(gain),
        "share_departing": float((chosen != best_single).mean()),
        "share_left_alone": float((chosen == 0).mean()),
        "deployed_share_departing": float(
            (safe_policy(fit.uplift_oof, best_single, margin) != best_single).mean()
        ),
        "nested": fit.nested,
        "uplift_size": fit.size,
        "uplift_sizes": fit.size_candidates,
        "backlash_share": float(backlash(fit.uplift_oof).mean()),
        "chosen": chosen,
    }


# -- governance -----------------------------------------------------------------------------


def approve_model(
    *, version: ModelVersion, user: AbstractBaseUser | None, client_ip: str | None = None
) -> ModelVersion:
    """Approve a draft (staff or admin of its campaign); retire the one it replaces. Audited."""
    if not _may_approve(user, version.campaign_id):
        raise PermissionDenied("approving a model needs a staff or admin member of the campaign")
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != ModelStatus.DRAFT:
            raise ValidationError(f"model version {version.pk} is {version.status}, not a draft")
        ModelVersion.objects.filter(
            campaign=version.campaign_id,
            kind=version.kind,
            program=version.program_id,
            status=ModelStatus.APPROVED,
        ).update(status=ModelStatus.RETIRED)
        version.status = ModelStatus.APPROVED
        version.approved_by = user
        version.approved_at = timezone.now()
        version.save(update_fields=["status", "approved_by", "approved_at"])
        record_audit_event(
            action=AuditAction.MODEL_APPROVE,
            campaign=version.campaign_id,
            user=user,
            obj=version,
            client_ip=client_ip,
            detail={"kind": version.kind},
        )
    return version


def _may_approve(user: AbstractBaseUser | None, campaign_id: int) -> bool:
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(
        user=user, campaign_id=campaign_id, role__in=APPROVER_ROLES
    ).exists()


# -- experiment report --------------------------------------------------------------------


def experiment_report(
    *,
    campaign: Campaign,
    program: Program,
    election: Election | None = None,
    question: SurveyQuestion | None = None,
) -> dict:
    """Lift per arm vs control (household-clustered CIs, Holm p-values), and by band."""
    if (election is None) == (question is None):
        raise ExperimentError("the report needs exactly one outcome: an election or a question")
    data = _report_dataset(campaign, program, election, question)
    names = np.array(data.arm_names)[data.arm]
    result = analyze_experiment(data.outcome, names, data.clusters)
    age, generals = data.age, data.general_voted
    bands = {
        "turnout": np.where(generals >= 3, "3-4 of last 4 generals",
                            np.where(generals >= 1, "1-2 of last 4 generals", "none of last 4")),
        "age": age_bands(age),
    }  # fmt: skip
    return {
        "program": program.name,
        "outcome": str(election) if election else f"question {question.slug}",
        **data.counts(),
        "n": result.n,
        "households": result.clusters,
        "arms": [
            {k: getattr(a, k) for k in ("arm", "n", "rate", "lift", "ci_low", "ci_high", "p_value")}
            for a in result.arms
        ],
        "by_band": {
            kind: {
                band: [
                    {k: getattr(a, k) for k in ("arm", "n", "rate", "lift", "ci_low", "ci_high")}
                    for a in sub.arms
                ]
                for band, sub in analyze_by_band(
                    data.outcome, names, data.clusters, band_of
                ).items()
            }
            for kind, band_of in bands.items()
        },
    }


def age_bands(age: np.ndarray) -> np.ndarray:
    """The report's age band of each voter; an unknown age (NaN) is a band of its own, not 65+."""
    return np.select(
        [np.isnan(age), age < 30, age < 45, age < 65],
        ["age unknown", "18-29", "30-44", "45-64"],
        "65+",
    )


# -- datasets -------------------------------------------------------------------------------


def _turnout_dataset(campaign: Campaign, election: Election) -> Dataset:
    context = build_context(campaign_id=campaign.pk, as_of=election.election_on)
    matrix = build_features(context)
    voted = _voters_who_voted(election)
    age = matrix.values[:, SPEC.names.index("age")]
    eligible = np.isnan(age) | (age >= 18)
    rows = np.flatnonzero(eligible)
    labels = np.isin(matrix.voter_pks[rows], voted).astype(int)
    if len(rows) < 200 or labels.min() == labels.max():
        raise TrainingError(
            f"{len(rows)} eligible voters with {labels.sum()} votes recorded in {election}: "
            "import that election's history first"
        )
    return Dataset(matrix, rows, labels)


def _support_dataset(campaign: Campaign, as_of: dt.date) -> tuple[Dataset, dict]:
    context = build_context(campaign_id=campaign.pk, as_of=as_of)
    matrix = build_features(context)
    latest = _latest_answers(context.support_question_id, as_of)
    codes = np.array([latest.get(int(pk), "") for pk in matrix.voter_pks])
    labelled = np.isin(codes, list(SUPPORT_CODES))
    rows = np.flatnonzero(labelled)
    labels = np.array([SUPPORT_CODES[c] for c in codes[rows]], dtype=int)
    counts = {code: int((codes == code).sum()) for code in ("1", "2", "3", "4", "5")}
    if len(rows) < 200 or labels.min() == labels.max():
        raise TrainingError(f"{len(rows)} voters with a support or oppose answer: too few to train")
    keep = [i for i, n in enumerate(SPEC.names) if n not in SUPPORT_EXCLUDED]
    narrowed = FeatureMatrix(
        matrix.voter_pks,
        matrix.values[:, keep],
        spec_subset(tuple(SPEC.names[i] for i in keep)),
        matrix.household_ids,
    )
    return Dataset(narrowed, rows, labels), counts


@dataclass(frozen=True)
class ReportData:
    """What the experiment report reads: `ProgramData`'s voters, arms, outcomes and clusters, in
    the same order, with the two columns it bands by instead of the whole feature matrix."""

    arm_names: list[str]
    arm: np.ndarray
    outcome: np.ndarray
    clusters: np.ndarray
    age: np.ndarray
    general_voted: np.ndarray
    assigned: int
    dropped: dict[str, int]
    answered_share: dict[str, float] | None

    def counts(self) -> dict:
        return ProgramData.counts(self)  # type: ignore[arg-type]  # the same three fields


def _report_dataset(campaign, program, election, question) -> ReportData:
    """`_program_dataset` for the report, step for step, reading only the columns it needs."""
    assigned = _assigned_arms(program)
    if not assigned:
        raise TrainingError(f"program {program.name!r} has no assignments")
    first_at, late = _assignment_dates(program, election)
    if late:
        raise TrainingError(_late_message(program, election, late, len(assigned)))
    as_of = first_at.date()
    columns = report_columns(campaign_id=campaign.pk, as_of=as_of, program_id=program.pk)
    voter_pks = np.array([a[0] for a in assigned], dtype=np.int64)
    # Each assigned voter's row among those registered by `as_of` (voters are sorted by pk).
    found = np.searchsorted(columns.voter_pks, voter_pks)
    registered = np.zeros(len(voter_pks), dtype=bool)
    inside = found < len(columns.voter_pks)
    registered[inside] = columns.voter_pks[found[inside]] == voter_pks[inside]
    kept = [a for a, ok in zip(assigned, registered, strict=True) if ok]
    rows = found[registered]
    dropped = {NOT_REGISTERED: len(assigned) - len(kept)}
    arm_names = _arm_names_of({a[1] for a in assigned})
    arm_of = {name: i for i, name in enumerate(arm_names)}
    arm = np.array([arm_of[a[1]] for a in kept], dtype=np.int64)
    outcome, has_outcome = _program_outcome(columns.voter_pks[rows], election, question, as_of)
    answered_share = None
    if question is not None:
        answered_share = _answered_share(arm, has_outcome, arm_names)
        _require_answers_sought_in_control(question, answered_share)
        dropped[NO_ANSWER] = int((~has_outcome).sum())
    kept = [a for a, has in zip(kept, has_outcome, strict=True) if has]
    rows, arm, outcome = rows[has_outcome], arm[has_outcome], outcome[has_outcome]
    units = [a[2] for a in kept]
    if kept and all(units):
        clusters = _clusters_of_units(units)
    else:
        households = columns.household_ids[rows]
        clusters = np.where(households > 0, households, -columns.voter_pks[rows])
    return ReportData(
        arm_names=arm_names,
        arm=arm,
        outcome=outcome.astype(np.float64),
        clusters=clusters,
        age=columns.age[rows],
        general_voted=columns.general_voted[rows],
        assigned=len(assigned),
        dropped=dropped,
        answered_share=answered_share,
    )


def _program_dataset(campaign, program, election, question) -> ProgramData:
    assignments = _assignments(program)
    if not assignments:
        raise TrainingError(f"program {program.name!r} has no assignments")
    if election is not None:
        _check_assigned_before(program, election, assignments)
    as_of = min(a.assigned_at for a in assignments).date()
    context = build_context(campaign_id=campaign.pk, as_of=as_of)
    matrix = build_features(context)
    position = {int(pk): i for i, pk in enumerate(matrix.voter_pks)}
    arm_names = _arm_names(assignments)
    arm_of = {name: i for i, name in enumerate(arm_names)}
    kept = [a for a in assignments if a.voter_pk in position]
    dropped = {NOT_REGISTERED: len(assignments) - len(kept)}
    rows = np.array([position[a.voter_pk] for a in kept], dtype=np.int64)
    arm = np.array([arm_of[a.arm] for a in kept], dtype=np.int64)
    outcome, has_outcome = _program_outcome(matrix.voter_pks[rows], election, question, as_of)
    answered_share = None
    if question is not None:
        answered_share = _answered_share(arm, has_outcome, arm_names)
        _require_answers_sought_in_control(question, answered_share)
        dropped[NO_ANSWER] = int((~has_outcome).sum())
    kept = [a for a, has in zip(kept, has_outcome, strict=True) if has]
    rows, arm, outcome = rows[has_outcome], arm[has_outcome], outcome[has_outcome]
    return ProgramData(
        as_of=as_of,
        arm_names=arm_names,
        voter_pks=matrix.voter_pks[rows],
        features=matrix.values[rows],
        arm=arm,
        outcome=outcome.astype(np.float64),
        propensity=_propensities(kept, arm, arm_names),
        clusters=_unit_clusters(kept) if _has_units(kept) else household_clusters(matrix)[rows],
        assigned=len(assignments),
        dropped=dropped,
        answered_share=answered_share,
    )


def _propensities(kept: list[AssignmentRow], arm: np.ndarray, arm_names: list[str]) -> np.ndarray:
    """voters x arms: P(arm) for each voter.

    A program the product ran recorded each unit's probabilities under its design (a
    personalized policy gives different units different ones). An imported program did not; its
    complete randomization makes the recorded assignment shares every voter's probabilities, so
    nothing is estimated either way.
    """
    if kept and all(a.propensities is not None for a in kept):
        return np.array(
            [[float(a.propensities.get(name, 0.0)) for name in arm_names] for a in kept]
        )
    shares = np.bincount(arm, minlength=len(arm_names)) / max(len(arm), 1)
    return np.tile(shares, (len(arm), 1))


def _has_units(kept: list[AssignmentRow]) -> bool:
    return bool(kept) and all(a.unit for a in kept)


def _unit_clusters(kept: list[AssignmentRow]) -> np.ndarray:
    """Cluster id per voter: the unit that was randomized (a household, a phone, an address)."""
    return _clusters_of_units([a.unit for a in kept])


def _clusters_of_units(units: list[str]) -> np.ndarray:
    _, index = np.unique(np.array(units, dtype=object), return_inverse=True)
    return index.ravel().astype(np.int64)


NOT_REGISTERED = "not registered by the program's start"
NO_ANSWER = "no answer to the question after the program's start"
# A question outcome compares answers across arms, which is fair only if the control group was
# asked too: when canvassing is what produces answers, the treated arms answer and control does
# not, and those who answer differ from those who do not. Below half the treated arms' rate, the
# answers were not sought in control in any comparable way.
MIN_CONTROL_ANSWER_RATIO = 0.5


def _answered_share(arm: np.ndarray, has_outcome: np.ndarray, arm_names: list[str]) -> dict:
    return {
        name: float(has_outcome[arm == k].mean()) if (arm == k).any() else 0.0
        for k, name in enumerate(arm_names)
    }


def _require_answers_sought_in_control(question: SurveyQuestion, answered: dict) -> None:
    treated = [share for name, share in answered.items() if name != "control"]
    treated_share = float(np.mean(treated)) if treated else 0.0
    control_share = answered.get("control", 0.0)
    if control_share > 0 and control_share >= MIN_CONTROL_ANSWER_RATIO * treated_share:
        return
    raise TrainingError(
        f"question {question.slug!r} cannot measure this program: after it started, "
        f"{control_share:.1%} of the control group answered it against {treated_share:.1%} of "
        "the treated arms. Being canvassed is what produced the answers, so comparing answers "
        "across arms would be biased. Use an election outcome, or a survey that asked the "
        "control group as well."
    )


def _arm_names(assignments: list[AssignmentRow]) -> list[str]:
    return _arm_names_of({a.arm for a in assignments})


def _arm_names_of(arms: set[str]) -> list[str]:
    names = sorted(arms)
    if "control" not in names:
        raise TrainingError("the program has no control arm: uplift needs a randomized control")
    return ["control", *[n for n in names if n != "control"]]


@dataclass(frozen=True)
class AssignmentRow:
    voter_pk: int
    arm: str
    assigned_at: dt.datetime
    propensities: dict | None  # {arm: P(arm)}: recorded by programs the product ran
    unit: str | None  # what was randomized, likewise


def _check_assigned_before(
    program: Program, election: Election, assignments: list[AssignmentRow]
) -> None:
    """An election held before a voter was assigned cannot be that assignment's outcome; worse,
    its votes would be among the features read as of the assignment (the label as a feature)."""
    late = sum(a.assigned_at.date() > election.election_on for a in assignments)
    if late:
        raise TrainingError(_late_message(program, election, late, len(assignments)))


def _late_message(program: Program, election: Election, late: int, total: int) -> str:
    return (
        f"{late:,} of the {total:,} assignments of program {program.name!r} were made after "
        f"the {election}: an election cannot be the outcome of a program that came after it"
    )


def _assignment_dates(program: Program, election: Election | None) -> tuple[dt.datetime, int]:
    """The program's first assignment time, and how many were made after `election`'s day
    (in UTC, as `_check_assigned_before` reads them); counted by the database, not per row."""
    assignments = Assignment.objects.filter(program=program)
    if election is None:
        return _aware(assignments.aggregate(first=Min("assigned_at"))["first"]), 0
    after = _midnight(election.election_on + dt.timedelta(days=1))
    figures = assignments.aggregate(
        first=Min("assigned_at"), late=Count("pk", filter=Q(assigned_at__gte=after))
    )
    return _aware(figures["first"]), figures["late"]


def _assigned_arms(program: Program) -> list[tuple[int, str, str | None]]:
    """(voter pk, arm, unit) of each assignment, in the order `_assignments` reads them: the
    report's sums then add up in the same order and give the same figures to the last digit."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.voter_id, CASE WHEN arm.is_control THEN 'control' ELSE arm.name END, "
            "a.unit FROM voters_assignment a "
            "JOIN voters_programarm arm ON arm.id = a.arm_id WHERE a.program_id = %s "
            "ORDER BY a.id",
            [program.pk],
        )
        return cursor.fetchall()


def _assignments(program: Program) -> list[AssignmentRow]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.voter_id, CASE WHEN arm.is_control THEN 'control' ELSE arm.name END, "
            "a.assigned_at, a.propensities, a.unit FROM voters_assignment a "
            "JOIN voters_programarm arm ON arm.id = a.arm_id WHERE a.program_id = %s "
            # In the order they were written: the data, and so the model, do not depend on
            # which index the planner happens to pick.
            "ORDER BY a.id",
            [program.pk],
        )
        return [
            AssignmentRow(v, arm, _aware(at), _json(vector), unit)
            for v, arm, at, vector, unit in cursor.fetchall()
        ]


def _json(value) -> dict | None:
    # PostgreSQL's driver decodes jsonb; SQLite hands back the text.
    return json.loads(value) if isinstance(value, str) else value


def _program_outcome(voter_pks, election, question, as_of) -> tuple[np.ndarray, np.ndarray]:
    if election is not None:
        return np.isin(voter_pks, _voters_who_voted(election)).astype(int), np.ones(
            len(voter_pks), dtype=bool
        )
    answers = _answers_after(question.pk, as_of)
    codes = np.array([answers.get(int(pk), "") for pk in voter_pks])
    return np.isin(codes, ["1", "2"]).astype(int), codes != ""


def _voters_who_voted(election: Election) -> np.ndarray:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT voter_id FROM voters_voterecord WHERE election_id = %s AND voted",
            [election.pk],
        )
        return np.array([r[0] for r in cursor.fetchall()], dtype=np.int64)


def _latest_answers(question_id: int | None, before: dt.date) -> dict[int, str]:
    if question_id is None:
        return {}
    return _answers(question_id, "r.answered_at < %s", _midnight(before))


def _answers_after(question_id: int, since: dt.date) -> dict[int, str]:
    return _answers(question_id, "r.answered_at >= %s", _midnight(since))


def _answers(question_id: int, condition: str, at: dt.datetime) -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.voter_id, o.code FROM voters_surveyresponse r "
            "JOIN voters_surveyoption o ON o.id = r.option_id "
            f"WHERE r.question_id = %s AND {condition} ORDER BY r.answered_at, r.id",
            [question_id, at],
        )
        return dict(cursor.fetchall())  # the latest answer per voter wins


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _aware(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


def _save_version(*, campaign, kind, as_of, spec, params, metrics, artifact, user, card,
                  election=None, program=None, question=None) -> ModelVersion:  # fmt: skip
    version = ModelVersion.objects.create(
        campaign=campaign,
        kind=kind,
        election=election,
        program=program,
        question=question,
        features_as_of=as_of,
        feature_spec=spec.as_dict(),
        params=params,
        metrics=_jsonable(metrics),
        model_card=card,
        artifact=artifacts.dump(artifact),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    logger.info("model version %s trained: campaign=%s kind=%s", version.pk, campaign.pk, kind)
    return version


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
