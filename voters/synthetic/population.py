"""Streets, households and voters: who lives where, drawn with numpy from small pools."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from voters.synthetic.codes import (
    STREET_SUFFIXES,
)


@dataclass(frozen=True)
class Pools:
    first: tuple[pl.Series, pl.Series]  # female, male (title case)
    first_p: tuple[np.ndarray, np.ndarray]
    last: pl.Series
    last_p: np.ndarray


def _weighted_pool(weights: dict[str, float]) -> tuple[pl.Series, np.ndarray]:
    names = [n for n in weights if n.isalpha()]
    p = np.array([weights[n] for n in names], dtype=float)
    return pl.Series(names, dtype=pl.Utf8), p / p.sum()


def build_pools() -> Pools:
    # The en_US provider's weighted name tables: read once, no per-row Faker calls, no Faker RNG.
    from faker.providers.person.en_US import Provider

    female, female_p = _weighted_pool(Provider.first_names_female)
    male, male_p = _weighted_pool(Provider.first_names_male)
    last, last_p = _weighted_pool(Provider.last_names)
    return Pools((female, male), (female_p, male_p), last, last_p)


@dataclass(frozen=True)
class Geography:
    street_names: pl.Series  # upper case, e.g. "HOLLOWAY DR"
    slots_per_street: int
    total_slots: int
    perm_a: int
    perm_b: int
    n_precincts: int


_UNITS_PER_BUILDING = 12
_GRID_LINES_APT = 0.12  # streets this close to the centre line are apartment streets


def build_geography(voters: int, seed: int) -> Geography:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7_777_777]))
    pools = build_pools()
    bases = pl.concat([pools.last, pools.first[0], pools.first[1]]).unique(maintain_order=True)
    households = max(voters, 10) / 2.0
    slots_needed = int(households * 1.6) + 100
    n_combos = len(bases) * len(STREET_SUFFIXES)
    n_streets = int(min(max(16, math.ceil(slots_needed / 400)), n_combos))
    per_street = math.ceil(slots_needed / n_streets / _UNITS_PER_BUILDING) * _UNITS_PER_BUILDING
    combos = rng.choice(n_combos, size=n_streets, replace=False)
    suffixes = pl.Series([" " + s for s in STREET_SUFFIXES])
    names = bases.gather(combos // len(STREET_SUFFIXES)).str.to_uppercase() + suffixes.gather(
        combos % len(STREET_SUFFIXES)
    )
    total = n_streets * per_street
    # An affine permutation of slots spreads consecutive households over the county and keeps every
    # address unique, so the importer's address-derived household equals ours.
    a = int(total * 0.6180339887) | 1
    while math.gcd(a, total) != 1:
        a += 2
    n_precincts = max(4, round(voters / 50_000 * 40))
    return Geography(names, per_street, total, a, int(rng.integers(total)), n_precincts)


@dataclass
class Places:
    street: np.ndarray
    house_number: np.ndarray
    unit: np.ndarray  # 0 for a house
    x: np.ndarray  # position in the unit square, west to east
    y: np.ndarray  # south to north
    precinct: np.ndarray
    zip_area: np.ndarray
    in_town: np.ndarray
    ward: np.ndarray

    @property
    def is_apartment(self) -> np.ndarray:
        return self.unit > 0


def _locate(geo: Geography, household: np.ndarray, rng: np.random.Generator) -> Places:
    slot = (household.astype(np.int64) * geo.perm_a + geo.perm_b) % geo.total_slots
    street, pos = slot // geo.slots_per_street, slot % geo.slots_per_street
    n_streets = geo.total_slots // geo.slots_per_street
    lines = max(1, math.ceil(n_streets / 2))
    line = (street // 2 + 0.5) / lines
    along = (pos + 0.5) / geo.slots_per_street
    is_apt = np.abs(line - 0.5) < _GRID_LINES_APT
    building = pos // _UNITS_PER_BUILDING
    unit = np.where(is_apt, pos % _UNITS_PER_BUILDING + 1, 0)
    number = np.where(is_apt, 100 * (building // 20 + 1) + building % 20 + 1, 0)
    number = np.where(is_apt, number, 100 * (pos // 20 + 1) + pos % 20 + 1)
    horizontal = street % 2 == 0
    jitter = rng.normal(0, 0.002, size=(2, len(household)))
    x = np.clip(np.where(horizontal, along, line) + jitter[0], 0, 0.999999)
    y = np.clip(np.where(horizontal, line, along) + jitter[1], 0, 0.999999)
    px = math.ceil(math.sqrt(geo.n_precincts))
    py = math.ceil(geo.n_precincts / px)
    cell = (y * py).astype(np.int64) * px + (x * px).astype(np.int64)
    precinct = cell * geo.n_precincts // (px * py)
    zip_area = (y * 2).astype(np.int64) * 3 + (x * 3).astype(np.int64)
    in_town = (x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.25**2
    ward = np.where(in_town, (x > 0.5).astype(np.int64) * 2 + (y > 0.5) + 1, 0)
    return Places(street, number, unit, x, y, precinct, zip_area, in_town, ward)


_SIZES_HOUSE = np.array([0.30, 0.40, 0.15, 0.09, 0.04, 0.02])
_SIZES_APT = np.array([0.52, 0.35, 0.09, 0.03, 0.01, 0.0])
_AGE_KNOTS = np.array([18, 25, 35, 45, 55, 65, 75, 85, 96])
_AGE_DENSITY_HOUSE = np.array([0.5, 0.8, 1.0, 1.05, 1.1, 1.05, 0.8, 0.4, 0.05])
_AGE_DENSITY_APT = np.array([1.6, 1.8, 1.2, 0.8, 0.6, 0.5, 0.4, 0.25, 0.03])


@dataclass
class Population:
    """One chunk of voters; integer codes index the code arrays above."""

    index: np.ndarray  # global voter index (ids are derived from it)
    household: np.ndarray  # global household index
    households: int
    places: Places  # per voter
    age_days: np.ndarray  # at as_of
    birth: np.ndarray  # days since 1970-01-01
    registration: np.ndarray  # days since 1970-01-01
    gender: np.ndarray
    race: np.ndarray
    ethnicity: np.ndarray
    party: np.ndarray
    status: np.ndarray
    first: pl.Series
    middle: pl.Series
    last: pl.Series
    suffix: np.ndarray
    propensity: np.ndarray  # the persistent latent turnout propensity (logit scale)

    def __len__(self) -> int:
        return len(self.index)


def _sample_age(rng: np.random.Generator, density: np.ndarray, n: int) -> np.ndarray:
    ages = np.arange(18, 96)
    weights = np.interp(ages, _AGE_KNOTS, density)
    return rng.choice(ages, size=n, p=weights / weights.sum()) + rng.random(n)


def _household_sizes(rng: np.random.Generator, is_apt: np.ndarray, n_voters: int) -> np.ndarray:
    u = rng.random(len(is_apt))
    sizes = np.where(
        is_apt,
        np.searchsorted(np.cumsum(_SIZES_APT), u, side="right") + 1,
        np.searchsorted(np.cumsum(_SIZES_HOUSE), u, side="right") + 1,
    ).clip(1, 6)
    ends = np.cumsum(sizes)
    keep = int(np.searchsorted(ends, n_voters)) + 1
    sizes = sizes[:keep]
    sizes[-1] -= int(sizes.sum()) - n_voters  # the last household of a chunk is cut to fit
    return sizes


def _gather_names(rng, pools: Pools, gender: np.ndarray) -> pl.Series:
    n = len(gender)
    female = rng.choice(len(pools.first_p[0]), size=n, p=pools.first_p[0])
    male = rng.choice(len(pools.first_p[1]), size=n, p=pools.first_p[1])
    coin = rng.random(n) < 0.5  # unknown gender: either pool
    use_female = (gender == 0) | ((gender == 2) & coin)
    return pl.select(
        pl.when(pl.Series(use_female))
        .then(pools.first[0].gather(female))
        .otherwise(pools.first[1].gather(male))
    ).to_series()


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of an (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return (u > cum).sum(axis=1)


@dataclass(frozen=True)
class _Households:
    """One chunk's households, and for each voter the household they live in and their role."""

    ids: np.ndarray  # global household index, per household
    places: Places  # per household
    local: np.ndarray  # per voter: position of their household in `ids`
    role: np.ndarray  # per voter: 0 the head, 1 a partner, 2+ grown children or roommates


def _select_places(places: Places, rows: np.ndarray | slice) -> Places:
    return Places(*(getattr(places, f)[rows] for f in Places.__dataclass_fields__))


def _draw_households(
    rng: np.random.Generator, geo: Geography, first_household: int, n: int
) -> _Households:
    # Locate more households than needed: apartment households are smaller, so size needs place.
    candidates = _locate(geo, np.arange(first_household, first_household + n + 1), rng)
    sizes = _household_sizes(rng, candidates.is_apartment, n)
    n_h = len(sizes)
    local = np.repeat(np.arange(n_h), sizes)
    role = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    places = _select_places(candidates, slice(None, n_h))
    return _Households(first_household + np.arange(n_h), places, local, role)


def _draw_ages(rng: np.random.Generator, hh: _Households) -> tuple[np.ndarray, np.ndarray]:
    """Ages in years, and who is a roommate: a 'child' who would be under 18 is not one."""
    # A head per household, a partner near their age, then grown children or roommates.
    n_h, n = len(hh.ids), len(hh.local)
    apt = hh.places.is_apartment
    head_age = np.where(
        apt, _sample_age(rng, _AGE_DENSITY_APT, n_h), _sample_age(rng, _AGE_DENSITY_HOUSE, n_h)
    )
    head = head_age[hh.local]
    child = head - rng.uniform(20, 36, n)
    roommate = child < 18
    age = np.select(
        [hh.role == 0, hh.role == 1, ~roommate], [head, head + rng.normal(0, 4, n), child],
        18 + rng.random(n) * 17,
    )  # fmt: skip
    return np.clip(age, 18.0, 95.99), roommate


def _draw_registration(
    rng: np.random.Generator, hh: _Households, birth: np.ndarray, as_of_days: int
) -> np.ndarray:
    # Members moved in together (shared date), nobody registers before their 18th birthday.
    n = len(hh.local)
    moved_years = rng.exponential(np.where(hh.places.is_apartment, 3.5, 13.0))[hh.local]
    own = rng.random(n) < 0.2
    moved_years = np.where(own, rng.exponential(10.0, n), moved_years)
    adult = birth + int(18 * 365.2425) + 1
    registration = np.maximum(as_of_days - 1 - (moved_years * 365.25).astype(np.int64), adult)
    return np.minimum(registration, as_of_days - 1)


def _draw_gender(rng: np.random.Generator, hh: _Households) -> np.ndarray:
    # Codes 0 F, 1 M, 2 U. The head has the household's draw, a partner is mostly the opposite,
    # anyone else takes it half the time.
    n = len(hh.local)
    gender_h = rng.choice(3, size=len(hh.ids), p=[0.52, 0.46, 0.02])[hh.local]
    flip = (hh.role == 1) & (rng.random(n) < 0.9)
    gender = np.where(rng.random(n) < 0.5, gender_h, rng.choice(3, n, p=[0.52, 0.46, 0.02]))
    gender = np.where(hh.role == 0, gender_h, gender)
    return np.where(flip & (gender_h < 2), 1 - gender_h, gender)


def _race_shares(places: Places) -> np.ndarray:
    """Per household, the probabilities of the eight race codes (RACE_NC order)."""
    # The shares shift across the county: the east and south are more Black.
    n_h = len(places.x)
    east = places.x * (1 - 0.5 * places.y)
    p_black = 0.08 + 0.35 * east
    return np.column_stack(
        [0.70 - p_black, p_black, np.full(n_h, 0.05), np.full(n_h, 0.01), np.full(n_h, 0.04),
         np.full(n_h, 0.02), np.full(n_h, 0.003), np.full(n_h, 0.05)]
    )  # fmt: skip


def _draw_race(rng: np.random.Generator, hh: _Households) -> np.ndarray:
    # Shared within a household, with a few exceptions drawn from the first household's shares.
    p_race = _race_shares(hh.places)
    race_h = _categorical(rng, p_race)
    n = len(hh.local)
    return np.where(
        rng.random(n) < 0.92, race_h[hh.local], rng.choice(8, n, p=p_race[0] / p_race[0].sum())
    )


def _draw_ethnicity(rng: np.random.Generator, n: int) -> np.ndarray:
    # Codes 0 Hispanic/Latino, 1 not, 2 unknown.
    return np.where(rng.random(n) < 0.07, 0, np.where(rng.random(n) < 0.85, 1, 2))


def _draw_party(
    rng: np.random.Generator,
    hh: _Households,
    places: Places,
    *,
    age: np.ndarray,
    gender: np.ndarray,
    race: np.ndarray,
    ethnicity: np.ndarray,
) -> np.ndarray:
    # Softmax over scores by age, race, area, plus a household tendency (couples agree).
    n = len(hh.local)
    years = age - 45
    town = places.in_town | places.is_apartment
    scores = np.column_stack(
        [-0.45 + 1.6 * (race == 1) + 0.5 * town - 0.006 * years + 0.4 * (gender == 0),
         -0.2 + 0.7 * (race == 0) - 0.5 * town + 0.012 * years,
         0.35 - 0.018 * years + 0.4 * (ethnicity == 0) + 0.3 * (race == 2),
         np.full(n, -3.6) - 0.02 * years, np.full(n, -4.4) + 0.5 * town]
    )  # fmt: skip
    scores += rng.normal(0, 0.7, (len(hh.ids), 5))[hh.local] + rng.gumbel(size=(n, 5))
    return scores.argmax(axis=1)


_PARTY_EFFECT = np.array([0.25, 0.30, -0.35, -0.30, -0.20])
_RACE_EFFECT = np.array([0.10, 0.0, -0.30, -0.20, -0.15, -0.10, -0.20, -0.15])


def _draw_propensity(
    rng: np.random.Generator,
    hh: _Households,
    places: Places,
    *,
    party: np.ndarray,
    race: np.ndarray,
    ethnicity: np.ndarray,
) -> np.ndarray:
    # The persistent part only: age and tenure move with each election, so turnout adds them.
    return (
        _PARTY_EFFECT[party]
        + _RACE_EFFECT[race]
        - 0.25 * (ethnicity == 0)
        + 0.1 * places.in_town
        + rng.normal(0, 0.6, len(hh.ids))[hh.local]
        + rng.normal(0, 0.9, len(hh.local))
    )


def _draw_status(rng: np.random.Generator, propensity: np.ndarray) -> np.ndarray:
    # Decided before history (a pre-treatment fact): people who drift away go inactive.
    # Codes 0 active, 1 inactive, 2 removed.
    n = len(propensity)
    p_inactive = 1 / (1 + np.exp(2.6 + 0.9 * propensity))
    status = np.where(rng.random(n) < p_inactive, 1, 0)
    return np.where(rng.random(n) < 0.015, 2, status)


def _draw_last_names(
    rng: np.random.Generator, pools: Pools, hh: _Households, roommate: np.ndarray
) -> pl.Series:
    # Partners and children mostly take the head's last name; roommates rarely share it.
    n = len(hh.local)
    last_idx_h = rng.choice(len(pools.last_p), size=len(hh.ids), p=pools.last_p)
    own_last = rng.choice(len(pools.last_p), size=n, p=pools.last_p)
    share = np.select([hh.role == 0, hh.role == 1, roommate], [1.0, 0.85, 0.05], 0.95)
    last_idx = np.where(rng.random(n) < share, last_idx_h[hh.local], own_last)
    return pools.last.gather(last_idx)


def _draw_middle_names(rng: np.random.Generator, pools: Pools, gender: np.ndarray) -> pl.Series:
    middle = _gather_names(rng, pools, gender)
    # Three in ten have none: null, not an empty string.
    return pl.select(pl.when(pl.Series(rng.random(len(gender)) < 0.7)).then(middle)).to_series()


def _draw_suffixes(rng: np.random.Generator, gender: np.ndarray) -> np.ndarray:
    n = len(gender)
    suffix_draw = rng.random(n)
    return np.where(
        (gender == 1) & (suffix_draw < 0.035),
        np.array(["JR", "SR", "II", "III"])[rng.choice(4, n, p=[0.6, 0.2, 0.1, 0.1])],
        "",
    )


def draw_population(
    rng: np.random.Generator,
    geo: Geography,
    pools: Pools,
    *,
    first_voter: int,
    first_household: int,
    n: int,
    as_of_days: int,
) -> Population:
    """Draw `n` voters in whole households (the last one cut to fit) from `first_household` on."""
    # Every step draws from `rng`: their order is part of the output, reordering changes the files.
    hh = _draw_households(rng, geo, first_household, n)
    age, roommate = _draw_ages(rng, hh)
    age_days = (age * 365.2425).astype(np.int64)
    birth = as_of_days - age_days
    registration = _draw_registration(rng, hh, birth, as_of_days)
    gender = _draw_gender(rng, hh)
    race = _draw_race(rng, hh)
    ethnicity = _draw_ethnicity(rng, n)
    places = _select_places(hh.places, hh.local)
    party = _draw_party(rng, hh, places, age=age, gender=gender, race=race, ethnicity=ethnicity)
    propensity = _draw_propensity(rng, hh, places, party=party, race=race, ethnicity=ethnicity)
    status = _draw_status(rng, propensity)
    last = _draw_last_names(rng, pools, hh, roommate)
    middle = _draw_middle_names(rng, pools, gender)
    suffix = _draw_suffixes(rng, gender)
    first = _gather_names(rng, pools, gender)  # drawn last, after the suffixes
    return Population(
        index=first_voter + np.arange(n), household=hh.ids[hh.local], households=len(hh.ids),
        places=places, age_days=age_days, birth=birth, registration=registration,
        gender=gender, race=race, ethnicity=ethnicity, party=party, status=status,
        first=first, middle=middle, last=last, suffix=suffix, propensity=propensity,
    )  # fmt: skip
