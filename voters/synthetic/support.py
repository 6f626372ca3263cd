"""The hidden support propensity: how likely each voter is to back our candidate.

No file a campaign holds has this; it lives in the ground truth so the support model of the scoring
issue can be graded against it. Answers to the support question (1 strong support ... 5 strong
oppose) are drawn from it by an ordered logit, so they are informative but noisy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voters.synthetic.population import Population

# Ordered-logit cut points on the latent scale: answer 1 above the first, 5 below the last.
_CUTS = np.array([1.4, 0.45, -0.45, -1.4])
# dem, rep, una, lib, grn: our candidate runs on the left.
_PARTY = np.array([1.5, -1.7, 0.0, -0.7, 0.9])
# RACE_NC order: W, B, A, I, O, M, P, U.
_RACE = np.array([-0.15, 0.9, 0.35, 0.1, 0.2, 0.3, 0.1, 0.0])
_PRECINCT_SD, _HOUSEHOLD_SD, _VOTER_SD = 0.45, 0.5, 0.6


@dataclass(frozen=True)
class Support:
    """Per voter: the latent support and the probability of each answer (columns 1..5)."""

    latent: np.ndarray
    answer_probs: np.ndarray  # (n, 5), rows sum to 1

    @property
    def p_support(self) -> np.ndarray:
        """The true P(answer is 1 or 2), what a support model should predict."""
        return self.answer_probs[:, 0] + self.answer_probs[:, 1]


def precinct_leans(seed: int, n_precincts: int) -> np.ndarray:
    """A fixed lean per precinct, drawn once per county so every chunk agrees."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 8_888_888]))
    return rng.normal(0, _PRECINCT_SD, n_precincts)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def answer_probabilities(latent: np.ndarray) -> np.ndarray:
    """P(answer = 1..5) under the ordered logit with logistic noise around `latent`."""
    # P(answer <= k) = P(latent + noise > cut_k); answer 5 takes what is left.
    at_most = _sigmoid(latent[:, None] - _CUTS[None, :])
    cumulative = np.column_stack([at_most, np.ones(len(latent))])
    return np.diff(cumulative, axis=1, prepend=0.0)


def draw_support(rng: np.random.Generator, pop: Population, leans: np.ndarray) -> Support:
    """Latent support from party, age, race, gender, ethnicity, precinct and household."""
    n = len(pop)
    age = pop.age_days / 365.2425
    # Households agree more than strangers: one shared draw per household in the chunk.
    _, household = np.unique(pop.household, return_inverse=True)
    latent = (
        _PARTY[pop.party]
        + _RACE[pop.race]
        + 0.3 * (pop.ethnicity == 0)
        + 0.25 * (pop.gender == 0)
        - 0.012 * (age - 45)
        + 0.2 * pop.places.in_town
        + leans[pop.places.precinct]
        + rng.normal(0, _HOUSEHOLD_SD, household.max() + 1)[household]
        + rng.normal(0, _VOTER_SD, n)
    )
    return Support(latent=latent, answer_probs=answer_probabilities(latent))


def draw_answers(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One answer 1..5 per row of an (n, 5) probability matrix."""
    u = rng.random(len(probs))[:, None]
    return (u > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1) + 1
