"""Turnout history from a persistent propensity plus habit, and the past GOTV experiment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voters.synthetic.calendar import Election, days_since_epoch, program_dates
from voters.synthetic.codes import (
    ARMS,
    CONTROL_SHARE,
    VARIANTS,
)
from voters.synthetic.population import Population

# Election-type intercepts of the turnout logit, tuned by hand so that among the voters in the file
# (registered by then) a presidential general lands near 64%, a midterm 57%, primaries 17-22%,
# municipal and special elections 12-17%.
_INTERCEPTS = {
    "general": -0.15,
    "primary": -2.75,
    "presidential_primary": -2.1,
    "municipal": -3.3,
    "special": -3.7,
}
_PRESIDENTIAL_BONUS = 0.55

_AGE_EFFECT_KNOTS = np.array([18, 22, 26, 30, 40, 50, 60, 70, 80, 90, 100])
_AGE_EFFECT = np.array([-1.3, -1.2, -1.0, -0.8, -0.35, 0.05, 0.45, 0.75, 0.7, 0.3, 0.0])
_REGISTRATION_LEAD_DAYS = 25  # NC closes registration 25 days before an election
_HABIT_ANY, _HABIT_SAME = 0.9, 1.1


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class History:
    voted: np.ndarray  # (n, elections) bool
    method: np.ndarray  # (n, elections) index into METHOD_*
    ballot: np.ndarray  # (n, elections) party index of the ballot
    base_prob: np.ndarray  # program general, without contact; nan when not eligible
    effects: np.ndarray  # (n, variants) true effect in percentage points
    arm: np.ndarray  # index into ARMS, -1 when not in the experiment
    outcome: np.ndarray  # voted in the program general (bool)
    eligible: np.ndarray  # registered in time for the program general


def true_effects(
    base_prob: np.ndarray, age: np.ndarray, is_new: np.ndarray, is_apartment: np.ndarray
) -> np.ndarray:
    """True effect of each variant (columns in VARIANTS order), percentage points.

    Deliberately heterogeneous so that uplift models have something to find: social pressure
    moves low and middle propensity voters but backfires with the young and the habitual; plan
    making helps the young and new registrants; neighbours helps in apartment blocks only.
    """
    civic = np.full(len(age), 1.0)
    social = np.select([age < 30, base_prob >= 0.85, base_prob < 0.7], [-2.0, -1.5, 6.0], 2.0)
    neighbors = np.where(is_apartment, 4.0, -1.5)
    plan = np.where((age < 30) | is_new, 5.0, 0.5)
    return np.column_stack([civic, social, neighbors, plan])


def _assign_arms(rng: np.random.Generator, household: np.ndarray, universe: np.ndarray):
    """One arm per household (members share it); voters outside the universe get -1."""
    _, local = np.unique(household, return_inverse=True)
    share = (1 - CONTROL_SHARE) / len(VARIANTS)
    arm_h = rng.choice(len(ARMS), size=local.max() + 1, p=[CONTROL_SHARE] + [share] * len(VARIANTS))
    return np.where(universe, arm_h[local], -1)


def _methods(rng: np.random.Generator, preferred: np.ndarray, election: Election) -> np.ndarray:
    n = len(preferred)
    mix = [0.40, 0.50, 0.10] if election.kind == "general" else [0.70, 0.25, 0.05]
    if election.kind == "general" and election.on.year == 2020:
        mix = [0.25, 0.50, 0.25]  # the pandemic year voted by mail
    method = np.where(rng.random(n) < 0.75, preferred, rng.choice(3, n, p=mix))
    return np.where(rng.random(n) < 0.004, 3, method)


def simulate_history(
    rng: np.random.Generator,
    pop: Population,
    elections: tuple[Election, ...],
    *,
    as_of_days: int,
) -> History:
    n, n_e = len(pop), len(elections)
    program_index, assigned_on = program_dates(elections)
    is_apt = pop.places.is_apartment
    z = pop.propensity
    age_first = (pop.age_days - (as_of_days - days_since_epoch(elections[0].on))) / 365.2425
    base = z + np.interp(age_first, _AGE_EFFECT_KNOTS, _AGE_EFFECT)
    adult_before = age_first >= 19
    # Habits formed before the window: imputed from the same propensity.
    prev_any = adult_before & (rng.random(n) < _sigmoid(base - 0.3))
    prev_same = {
        "high": adult_before & (rng.random(n) < _sigmoid(base + 0.6)),
        "low": adult_before & (rng.random(n) < _sigmoid(base - 1.8)),
    }
    preferred = np.where(
        rng.random(n) < 0.04 + 0.14 * (pop.age_days > 65 * 365.25),
        2,
        np.where(rng.random(n) < 0.55, 1, 0),
    )
    voted = np.zeros((n, n_e), dtype=bool)
    method = np.zeros((n, n_e), dtype=np.int8)
    ballot = np.repeat(pop.party[:, None], n_e, axis=1).astype(np.int8)
    nan = np.full(n, np.nan)
    result = History(
        voted, method, ballot, nan, np.zeros((n, 4)), np.full(n, -1), nan.copy(), np.zeros(n, bool)
    )
    for e, election in enumerate(elections):
        day = days_since_epoch(election.on)
        eligible = pop.registration <= day - _REGISTRATION_LEAD_DAYS
        age = (pop.age_days - (as_of_days - day)) / 365.2425
        tenure = (day - pop.registration) / 365.25
        family = "high" if election.kind == "general" else "low"
        logit = (
            _INTERCEPTS[election.kind]
            + _PRESIDENTIAL_BONUS * (election.kind == "general" and election.on.year % 4 == 0)
            + z * (1.0 if family == "high" else 1.25)
            + np.interp(age, _AGE_EFFECT_KNOTS, _AGE_EFFECT)
            + np.select([tenure < 1, tenure < 4], [-0.3, -0.15], 0.1)
            + _HABIT_ANY * prev_any
            + _HABIT_SAME * prev_same[family]
            - 1.2 * ((pop.status == 1) & (day > as_of_days - 3 * 365))
            - 0.6 * (pop.status == 2)
        )  # fmt: skip
        p = _sigmoid(logit)
        if e == program_index:
            p = _apply_program(rng, pop, result, p, eligible, age, tenure, day, assigned_on, is_apt)
        voted[:, e] = eligible & (rng.random(n) < p)
        method[:, e] = _methods(rng, preferred, election)
        if election.kind in {"primary", "presidential_primary"}:
            crossover = rng.choice(3, n, p=[0.5, 0.4, 0.1])  # unaffiliated voters pick a ballot
            ballot[:, e] = np.where(pop.party == 2, crossover, pop.party)
        prev_any = np.where(eligible, voted[:, e], prev_any)
        prev_same[family] = np.where(eligible, voted[:, e], prev_same[family])
    result.outcome = voted[:, program_index]
    return result


def _apply_program(rng, pop, result, p, eligible, age, tenure, day, assigned_on, is_apt):
    """Record the truth of the program general and return its turnout probability with contact."""
    universe = (pop.status == 0) & (pop.registration <= days_since_epoch(assigned_on))
    result.arm = _assign_arms(rng, pop.household, universe)
    result.eligible = eligible
    result.base_prob = np.where(eligible, p, np.nan)
    result.effects = true_effects(p, age, tenure < 2, is_apt)
    rows = np.arange(len(p))
    lift = np.where(result.arm > 0, result.effects[rows, np.maximum(result.arm - 1, 0)], 0.0)
    return np.clip(p + lift / 100.0, 0.0, 1.0)
