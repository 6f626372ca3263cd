"""A program's spec: what staff write in YAML or JSON, checked field by field (no Django).

```yaml
name: Persuasion doors
channel: door                # door, phone, sms, email, mail
arms: [healthcare, economy]  # message variants of that channel, by name
policy: personalized         # single, uniform, personalized
control_share: 0.1
exploration_share: 0.1       # personalized only: the share of treated units drawn uniformly
budget: 5000                 # at most this many units get a message (optional)
seed: 42                     # optional: drawn at creation and recorded otherwise
universe:
  status: [active]           # the default
  party: [dem, una]
  age: [18, 35]              # inclusive, in years (this year minus the birth year)
  gender: [female]
  precincts: ["12", "13"]
  congressional_district: ["4"]
  state_senate_district: ["16"]
  state_house_district: ["33"]
  turnout: [0.3, 0.7]        # the latest complete scoring run's scores, inclusive
  support: [0.4, 0.8]
  uplift: {healthcare: [0.01, 1]}
  exclude_backlash: true     # the default
  not_contacted_days: 14
  exclude_running_programs: true   # the default: nobody in another committed program
  voter_ids: ["NC123", ...]  # only these voters (an uploaded list)
```

Every error names the field it is about (`universe.turnout: ...`), so a command, the API and the
admin can all point at it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from messaging.randomization import PERSONALIZED, POLICIES, SINGLE

CHANNELS = ("door", "phone", "sms", "email", "mail")
DISTRICTS = ("congressional_district", "state_senate_district", "state_house_district")
MAX_VOTER_IDS = 2_000_000


class SpecError(ValueError):
    """A spec field is missing or wrong; `field` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Universe:
    status: tuple[str, ...] = ("active",)
    party: tuple[str, ...] = ()
    age: tuple[int, int] | None = None
    gender: tuple[str, ...] = ()
    precincts: tuple[str, ...] = ()
    congressional_district: tuple[str, ...] = ()
    state_senate_district: tuple[str, ...] = ()
    state_house_district: tuple[str, ...] = ()
    turnout: tuple[float, float] | None = None
    support: tuple[float, float] | None = None
    uplift: dict[str, tuple[float, float]] = field(default_factory=dict)
    exclude_backlash: bool = True
    not_contacted_days: int | None = None
    exclude_running_programs: bool = True
    voter_ids: tuple[str, ...] = ()

    def as_json(self) -> dict:
        """What the design stores (lists, not tuples; empty filters left out)."""
        data = asdict(self)
        return {k: _plain(v) for k, v in data.items() if v not in ((), None, {})}

    @property
    def needs_scores(self) -> bool:
        return bool(self.turnout or self.support or self.uplift)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class ProgramSpec:
    name: str
    channel: str
    arms: tuple[str, ...]
    policy: str
    control_share: float
    exploration_share: float = 0.0
    budget: int | None = None
    seed: int | None = None
    description: str = ""
    universe: Universe = field(default_factory=Universe)


def parse_spec_text(text: str) -> ProgramSpec:
    """A spec from YAML or JSON text (JSON is YAML, but its errors read better as JSON's)."""
    stripped = text.lstrip()
    try:
        if stripped.startswith("{"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as exc:
        raise SpecError("spec", f"not valid JSON: {exc}") from None
    except Exception as exc:  # yaml.YAMLError, without importing yaml at module load
        raise SpecError("spec", f"not valid YAML: {exc}") from None
    return parse_spec(data)


def parse_spec(data: Any) -> ProgramSpec:
    if not isinstance(data, dict):
        raise SpecError("spec", "expected a mapping of fields")
    _no_unknown(data, set(ProgramSpec.__dataclass_fields__), "")
    policy = _choice(data, "policy", POLICIES)
    arms = _strings(data, "arms", required=True)
    if len(set(arms)) != len(arms):
        raise SpecError("arms", "an arm is named twice")
    if "control" in (a.lower() for a in arms):
        raise SpecError("arms", "'control' is the control group, not a variant")
    if policy == SINGLE and len(arms) != 1:
        raise SpecError("arms", "a single-variant program has exactly one arm")
    exploration = _number(data, "exploration_share", 0.0, low=0.0, high=1.0)
    if exploration and policy != PERSONALIZED:
        raise SpecError("exploration_share", "only a personalized program explores")
    return ProgramSpec(
        name=_text(data, "name", required=True, limit=200),
        channel=_choice(data, "channel", CHANNELS),
        arms=arms,
        policy=policy,
        control_share=_share(data, "control_share"),
        exploration_share=exploration,
        budget=_integer(data, "budget", low=1),
        seed=_integer(data, "seed", low=0, high=2**63 - 1),
        description=_text(data, "description", limit=5000),
        universe=parse_universe(data.get("universe") or {}, arms),
    )


def parse_universe(data: Any, arms: tuple[str, ...] = ()) -> Universe:
    where = "universe"
    if not isinstance(data, dict):
        raise SpecError(where, "expected a mapping of filters")
    _no_unknown(data, set(Universe.__dataclass_fields__), f"{where}.")
    uplift = data.get("uplift") or {}
    if not isinstance(uplift, dict):
        raise SpecError(f"{where}.uplift", "expected {arm: [low, high]}")
    for arm in uplift:
        if arm not in arms:
            raise SpecError(f"{where}.uplift", f"{arm!r} is not one of the program's arms")
    voter_ids = _strings(data, "voter_ids", where=where)
    if len(voter_ids) > MAX_VOTER_IDS:
        raise SpecError(f"{where}.voter_ids", f"at most {MAX_VOTER_IDS:,} ids")
    return Universe(
        status=_strings(data, "status", where=where) if "status" in data else ("active",),
        party=_strings(data, "party", where=where),
        age=_range(data, "age", where, low=0, high=130, whole=True),
        gender=_strings(data, "gender", where=where),
        precincts=_strings(data, "precincts", where=where),
        **{d: _strings(data, d, where=where) for d in DISTRICTS},
        turnout=_range(data, "turnout", where, low=0, high=1),
        support=_range(data, "support", where, low=0, high=1),
        uplift={
            arm: _range(uplift, arm, f"{where}.uplift", low=-1, high=1) for arm in sorted(uplift)
        },
        exclude_backlash=_boolean(data, "exclude_backlash", True, where),
        not_contacted_days=_integer(data, "not_contacted_days", low=1, high=3650, where=where),
        exclude_running_programs=_boolean(data, "exclude_running_programs", True, where),
        voter_ids=voter_ids,
    )


# -- fields ---------------------------------------------------------------------------------


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _no_unknown(data: dict, known: set[str], prefix: str) -> None:
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise SpecError(f"{prefix}{unknown[0]}", "unknown field")


def _text(data: dict, name: str, *, required: bool = False, limit: int = 200) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise SpecError(name, "required text" if required else "expected text")
    if len(value) > limit:
        raise SpecError(name, f"at most {limit} characters")
    if "\x00" in value:
        raise SpecError(name, "holds a NUL character")
    return value.strip()


def _choice(data: dict, name: str, choices: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in choices:
        raise SpecError(name, f"one of {', '.join(choices)}")
    return value


def _strings(data: dict, name: str, *, required: bool = False, where: str = "") -> tuple[str, ...]:
    value = data.get(name)
    if value is None or value == []:
        if required:
            raise SpecError(_path(where, name), "at least one is needed")
        return ()
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        raise SpecError(_path(where, name), "expected a list of names")
    cleaned = tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
    if any("\x00" in v for v in cleaned):
        raise SpecError(_path(where, name), "a name holds a NUL character")
    if required and not cleaned:
        raise SpecError(_path(where, name), "at least one is needed")
    return cleaned


def _number(data: dict, name: str, default: float, *, low: float, high: float) -> float:
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SpecError(name, f"a number from {low:g} to {high:g}")
    return float(value)


def _share(data: dict, name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise SpecError(name, "a share strictly between 0 and 1 (0.1 is 10 %)")
    return float(value)


def _integer(data: dict, name: str, *, low: int, high: int = 10**9, where: str = "") -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(_path(where, name), f"a whole number from {low} to {high}")
    return value


def _boolean(data: dict, name: str, default: bool, where: str) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise SpecError(_path(where, name), "true or false")
    return value


def _range(
    data: dict, name: str, where: str, *, low: float, high: float, whole: bool = False
) -> Any:
    value = data.get(name)
    if value is None:
        return None
    kinds = int if whole else int | float
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, kinds) and not isinstance(v, bool) for v in value)
        or not low <= value[0] <= value[1] <= high
    ):
        raise SpecError(_path(where, name), f"[low, high] with {low:g} <= low <= high <= {high:g}")
    return (value[0], value[1]) if whole else (float(value[0]), float(value[1]))
