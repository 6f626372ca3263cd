"""Contact history of past cycles: door knocks, calls, texts and emails, with support IDs.

Each cycle is a list of drives (one channel, a window of days, a share of the universe reached,
up to a few attempts). A drive is simulated for a whole chunk at once, one attempt round at a
time, so a million voters take seconds. What carries over between drives lives in `ContactState`:
a door "do not contact", a text STOP or an email unsubscribe holds for every later drive, and a
wrong number, a landline or a dead mailbox stays what it is.

The door drive of the past randomized program knocks exactly the households of its treated arms,
in the window between assignment and election day; control is never knocked then (no other door
drive runs in that window).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import polars as pl

from voters.synthetic.calendar import Election, days_since_epoch, program_dates
from voters.synthetic.population import Population, build_pools
from voters.synthetic.support import Support, draw_answers

CHANNELS: tuple[str, ...] = ("door", "phone", "sms", "email")
DOOR, PHONE, SMS, EMAIL = range(4)
RESULTS: tuple[str, ...] = (
    "contacted", "not_home", "refused", "moved", "deceased", "inaccessible", "wrong_number",
    "delivered", "failed", "replied", "opted_out", "bounced",
)  # fmt: skip
(
    CONTACTED, NOT_HOME, REFUSED, MOVED, DECEASED, INACCESSIBLE, WRONG_NUMBER,
    DELIVERED, FAILED, REPLIED, OPTED_OUT, BOUNCED,
) = range(len(RESULTS))  # fmt: skip
# Who starts each working day's shift, in seconds after midnight, and how long it runs.
_HOURS = {DOOR: (10 * 3600, 9 * 3600), PHONE: (17 * 3600, 4 * 3600),
          SMS: (11 * 3600, 8 * 3600), EMAIL: (7 * 3600, 2 * 3600)}  # fmt: skip
CANVASSER_POOL = 160  # names drawn once per county; each drive uses its own slice


@dataclass(frozen=True)
class Drive:
    """One channel's effort in one cycle."""

    name: str
    channel: int
    start: date
    end: date  # inclusive
    reach: float  # share of the eligible universe (households for doors) targeted
    attempts: int  # at most this many per voter (household for doors)
    ask_support: float  # share of contacted voters asked the support question
    canvassers: tuple[int, int]  # slice of the county's name pool; (0, 0): no canvasser
    van: bool = False  # exported from VAN rather than written in the generic layout
    program: bool = False  # the past randomized program: treated households only


def campaign_drives(elections: tuple[Election, ...]) -> tuple[Drive, ...]:
    """The drives of the two generals before the most recent one's program, and after it.

    The general before the program's is VAN history (doors and calls); the program's general
    and the municipal election after it are in the generic layout (all four channels).
    """
    index, assigned_on = program_dates(elections)
    general = elections[index].on
    before = [e.on for e in elections[:index] if e.kind == "general"]
    after = [e.on for e in elections[index + 1 :]]
    drives: list[Drive] = []
    if before:
        old = before[-1]
        drives += [
            Drive("doors_old", DOOR, old - timedelta(58), old - timedelta(1), 0.2, 3, 0.85,
                  (0, 30), van=True),
            Drive("calls_old", PHONE, old - timedelta(50), old - timedelta(1), 0.25, 3, 0.9,
                  (30, 50), van=True),
        ]  # fmt: skip
    last_day = general - timedelta(1)
    drives += [
        # Persuasion doors stop the day before assignment: the program window is its own.
        Drive("doors", DOOR, general - timedelta(66), assigned_on - timedelta(1), 0.25, 2, 0.85,
              (50, 85)),
        Drive("program_doors", DOOR, assigned_on + timedelta(1), last_day, 1.0, 2, 0.3,
              (85, 115), program=True),
        Drive("calls", PHONE, general - timedelta(60), last_day, 0.2, 3, 0.9, (115, 135)),
        Drive("texts", SMS, general - timedelta(45), last_day, 0.35, 2, 0.0, (135, 150)),
        Drive("emails", EMAIL, general - timedelta(60), last_day, 0.5, 1, 0.0, (0, 0)),
    ]  # fmt: skip
    if after:
        later = after[-1]
        drives += [
            Drive("texts_later", SMS, later - timedelta(30), later - timedelta(1), 0.25, 1, 0.0,
                  (150, 160)),
            Drive("emails_later", EMAIL, later - timedelta(40), later - timedelta(1), 0.4, 1, 0.0,
                  (0, 0)),
        ]  # fmt: skip
    return tuple(drives)


@dataclass
class ContactState:
    """Per voter of one chunk: facts drawn once, and what earlier drives learned."""

    wrong_number: np.ndarray  # the phone on file reaches someone else
    landline: np.ndarray  # texts to it fail
    bad_email: np.ndarray  # mail to it bounces
    door_dnc: np.ndarray  # said "do not contact" at the door
    phone_known_wrong: np.ndarray  # a caller found the wrong number
    sms_off: np.ndarray  # texted STOP, or the number failed
    email_off: np.ndarray  # unsubscribed, or the address bounced


@dataclass(frozen=True)
class Contacts:
    """The attempts of one chunk, one entry per row, ordered by voter then time."""

    voter: np.ndarray  # position in the chunk
    channel: np.ndarray
    day: np.ndarray  # days since 1970-01-01
    second: np.ndarray  # seconds after local midnight
    result: np.ndarray
    answer: np.ndarray  # 1..5, 0 when no support answer was recorded
    canvasser: np.ndarray  # index into the county's name pool, -1 for none
    arm: np.ndarray  # index into ARMS for the program's doors, -1 otherwise
    van: np.ndarray  # bool: part of the VAN export

    def __len__(self) -> int:
        return len(self.voter)

    def take(self, rows: np.ndarray) -> Contacts:
        return Contacts(*(getattr(self, f)[rows] for f in Contacts.__dataclass_fields__))


@dataclass(frozen=True)
class _Voters:
    """What the drives need to know about one chunk's voters."""

    pop: Population
    household: np.ndarray  # position of the voter's household in the chunk
    households: int
    household_size: np.ndarray  # per voter
    has_phone: np.ndarray
    has_email: np.ndarray
    support: Support
    arm: np.ndarray  # index into ARMS, -1 outside the program
    as_of_days: int

    def age_on(self, day: int) -> np.ndarray:
        return (self.pop.age_days - (self.as_of_days - day)) / 365.2425


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def new_state(rng: np.random.Generator, n: int) -> ContactState:
    """Facts about each voter's phone and email, before any drive has learned anything."""

    def nobody() -> np.ndarray:
        return np.zeros(n, dtype=bool)

    return ContactState(
        wrong_number=rng.random(n) < 0.07,
        landline=rng.random(n) < 0.10,
        bad_email=rng.random(n) < 0.05,
        door_dnc=nobody(),
        phone_known_wrong=nobody(),
        sms_off=nobody(),
        email_off=nobody(),
    )


def _schedule(rng: np.random.Generator, units: int, drive: Drive) -> tuple[np.ndarray, np.ndarray]:
    """(days, valid), each (units, attempts): distinct days at least two apart, in the window."""
    start, end = days_since_epoch(drive.start), days_since_epoch(drive.end)
    span = end - start + 1
    wanted = rng.integers(1, drive.attempts + 1, units)
    first = start + rng.integers(0, max(1, span - 3 * (drive.attempts - 1)), units)
    gaps = rng.integers(2, 8, (units, drive.attempts - 1))
    days = first[:, None] + np.column_stack([np.zeros(units, np.int64), gaps]).cumsum(axis=1)
    valid = (np.arange(drive.attempts)[None, :] < wanted[:, None]) & (days <= end)
    return days, valid


class _Rows:
    """Collects attempt rounds; `finish` turns them into one Contacts."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, on: np.ndarray, drive: Drive, **values: np.ndarray) -> None:
        who = np.flatnonzero(on)
        part = {"voter": who}
        for key, value in values.items():
            part[key] = np.broadcast_to(value, on.shape)[who]
        part["channel"] = np.full(len(who), drive.channel)
        part["van"] = np.full(len(who), drive.van)
        self.parts.append(part)

    def finish(self) -> Contacts:
        cols = {
            f: np.concatenate([p[f] for p in self.parts]) for f in Contacts.__dataclass_fields__
        }
        contacts = Contacts(**cols)
        order = np.lexsort((contacts.channel, contacts.second, contacts.day, contacts.voter))
        contacts = contacts.take(order)
        return _one_answer_a_day(contacts)


def _one_answer_a_day(contacts: Contacts) -> Contacts:
    """Keep the first support answer of a voter on a day (VAN dates carry no time)."""
    answered = np.flatnonzero(contacts.answer > 0)
    key = contacts.voter[answered].astype(np.int64) * 100_000 + contacts.day[answered]
    _, first = np.unique(key, return_index=True)
    keep = np.zeros(len(contacts), dtype=bool)
    keep[answered[first]] = True
    answer = np.where(keep, contacts.answer, 0)
    return replace(contacts, answer=answer)


def _canvassers(rng: np.random.Generator, drive: Drive, size: int) -> np.ndarray:
    low, high = drive.canvassers
    return rng.integers(low, high, size) if high > low else np.full(size, -1)


def _seconds(rng: np.random.Generator, channel: int, size: int) -> np.ndarray:
    begin, length = _HOURS[channel]
    return begin + rng.integers(0, length, size)


def _fates(rng: np.random.Generator, v: _Voters, age: np.ndarray) -> tuple[np.ndarray, ...]:
    """(moved, deceased) as found at a first knock: mostly the inactive, removed and very old."""
    status = v.pop.status
    n = len(status)
    moved = rng.random(n) < np.select([status == 1, status == 2], [0.2, 0.35], 0.008)
    p_dead = np.where(status == 2, np.where(age > 70, 0.25, 0.03), np.where(age > 85, 0.01, 5e-4))
    return moved, ~moved & (rng.random(n) < p_dead)


def _door_drive(
    rng: np.random.Generator, v: _Voters, state: ContactState, drive: Drive, rows: _Rows
) -> None:
    start = days_since_epoch(drive.start)
    age = v.age_on(start)
    eligible = (v.pop.registration <= start) & ~state.door_dnc
    if drive.program:
        targeted = eligible & (v.arm > 0)  # treated arms only; control is never knocked
    else:
        chosen = rng.random(v.households) < drive.reach
        targeted = eligible & chosen[v.household]
    days, valid = _schedule(rng, v.households, drive)
    moved, deceased = _fates(rng, v, age)
    # Older people and bigger households are home more often; opponents refuse more often.
    p_home = _sigmoid(-1.05 + 0.03 * (age - 45) + 0.2 * (v.household_size - 1))
    p_refuse = 0.06 + 0.08 * (1 - v.support.p_support)
    p_blocked = np.where(v.pop.places.is_apartment, 0.08, 0.02)
    is_open, tried = targeted.copy(), np.zeros(len(age), dtype=bool)
    for k in range(drive.attempts):
        on = is_open & valid[v.household, k]
        home_draw = rng.random(v.households)[v.household]
        blocked = rng.random(v.households)[v.household] < p_blocked
        second = _seconds(rng, DOOR, v.households)[v.household]
        canvasser = _canvassers(rng, drive, v.households)[v.household]
        first = on & ~tried
        gone, dead = first & moved, first & deceased
        reachable = on & ~gone & ~dead & ~blocked
        home = reachable & (home_draw < p_home)
        r = rng.random(len(age))
        refused = home & (r < p_refuse)
        dnc = home & ~refused & (r < p_refuse + 0.012)
        contacted = home & ~refused & ~dnc
        result = np.select(
            [gone, dead, on & blocked, contacted, refused, dnc],
            [MOVED, DECEASED, INACCESSIBLE, CONTACTED, REFUSED, OPTED_OUT], NOT_HOME,
        )  # fmt: skip
        answer = _answers(rng, v, contacted, drive.ask_support)
        rows.add(
            on, drive, day=days[v.household, k], second=second, result=result, answer=answer,
            canvasser=canvasser, arm=v.arm if drive.program else np.int64(-1),
        )  # fmt: skip
        is_open &= ~(contacted | refused | dnc | gone | dead)
        tried |= on
        state.door_dnc |= dnc


def _answers(rng: np.random.Generator, v: _Voters, contacted: np.ndarray, ask: float) -> np.ndarray:
    """A support answer (1..5) for the contacted who were asked, 0 for everyone else."""
    asked = contacted & (rng.random(len(contacted)) < ask)
    answers = np.zeros(len(contacted), dtype=np.int64)
    answers[asked] = draw_answers(rng, v.support.answer_probs[asked])
    return answers


def _phone_drive(
    rng: np.random.Generator, v: _Voters, state: ContactState, drive: Drive, rows: _Rows
) -> None:
    start = days_since_epoch(drive.start)
    n = len(v.pop)
    age = v.age_on(start)
    eligible = v.has_phone & (v.pop.registration <= start) & ~state.phone_known_wrong
    is_open = eligible & (rng.random(n) < drive.reach)
    days, valid = _schedule(rng, n, drive)
    p_answer = _sigmoid(-1.6 + 0.035 * (age - 45))
    p_refuse = 0.1 + 0.08 * (1 - v.support.p_support)
    for k in range(drive.attempts):
        on = is_open & valid[:, k]
        wrong = on & state.wrong_number
        answered = on & ~wrong & (rng.random(n) < p_answer)
        refused = answered & (rng.random(n) < p_refuse)
        contacted = answered & ~refused
        result = np.select(
            [wrong, contacted, refused], [WRONG_NUMBER, CONTACTED, REFUSED], NOT_HOME
        )
        rows.add(
            on, drive, day=days[:, k], second=_seconds(rng, PHONE, n), result=result,
            answer=_answers(rng, v, contacted, drive.ask_support),
            canvasser=_canvassers(rng, drive, n), arm=np.int64(-1),
        )  # fmt: skip
        is_open &= ~(wrong | answered)
        state.phone_known_wrong |= wrong


def _text_drive(
    rng: np.random.Generator, v: _Voters, state: ContactState, drive: Drive, rows: _Rows
) -> None:
    start = days_since_epoch(drive.start)
    n = len(v.pop)
    age = v.age_on(start)
    eligible = v.has_phone & (v.pop.registration <= start) & ~state.sms_off
    is_open = eligible & (rng.random(n) < drive.reach)
    days, valid = _schedule(rng, n, drive)
    p_reply = _sigmoid(-3.0 - 0.02 * (age - 45))
    for k in range(drive.attempts):
        on = is_open & valid[:, k]
        failed = on & state.landline
        r = rng.random(n)
        stop = on & ~failed & (r < 0.03)
        replied = on & ~failed & ~stop & (r < 0.03 + p_reply)
        result = np.select([failed, stop, replied], [FAILED, OPTED_OUT, REPLIED], DELIVERED)
        rows.add(
            on, drive, day=days[:, k], second=_seconds(rng, SMS, n), result=result,
            answer=np.int64(0), canvasser=_canvassers(rng, drive, n), arm=np.int64(-1),
        )  # fmt: skip
        # Vendors suppress a number after a failure; a STOP holds for every later drive.
        is_open &= ~(failed | stop)
        state.sms_off |= failed | stop


def _email_drive(
    rng: np.random.Generator, v: _Voters, state: ContactState, drive: Drive, rows: _Rows
) -> None:
    start = days_since_epoch(drive.start)
    n = len(v.pop)
    eligible = v.has_email & (v.pop.registration <= start) & ~state.email_off
    is_open = eligible & (rng.random(n) < drive.reach)
    days, valid = _schedule(rng, n, drive)
    for k in range(drive.attempts):
        on = is_open & valid[:, k]
        bounced = on & state.bad_email
        unsubscribed = on & ~bounced & (rng.random(n) < 0.012)
        result = np.select([bounced, unsubscribed], [BOUNCED, OPTED_OUT], DELIVERED)
        rows.add(
            on, drive, day=days[:, k], second=_seconds(rng, EMAIL, n), result=result,
            answer=np.int64(0), canvasser=np.int64(-1), arm=np.int64(-1),
        )  # fmt: skip
        is_open &= ~(bounced | unsubscribed)
        state.email_off |= bounced | unsubscribed


_DRIVES = {DOOR: _door_drive, PHONE: _phone_drive, SMS: _text_drive, EMAIL: _email_drive}


def simulate_contacts(
    rng: np.random.Generator,
    pop: Population,
    *,
    drives: tuple[Drive, ...],
    support: Support,
    arm: np.ndarray,
    has_phone: np.ndarray,
    has_email: np.ndarray,
    as_of_days: int,
) -> Contacts:
    """Every drive's attempts on one chunk of voters, in drive order."""
    _, household = np.unique(pop.household, return_inverse=True)
    sizes = np.bincount(household)
    voters = _Voters(
        pop=pop, household=household, households=len(sizes), household_size=sizes[household],
        has_phone=has_phone, has_email=has_email, support=support, arm=arm, as_of_days=as_of_days,
    )  # fmt: skip
    state = new_state(rng, len(pop))
    rows = _Rows()
    for drive in drives:
        _DRIVES[drive.channel](rng, voters, state, drive, rows)
    return rows.finish()


def canvasser_names(seed: int) -> pl.Series:
    """The county's pool of canvassers, phone bankers and texters ("Maria Lopez")."""
    pools = build_pools()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 9_999_999]))
    female = rng.random(CANVASSER_POOL) < 0.55
    firsts = [pools.first[g].gather(rng.choice(len(p), CANVASSER_POOL, p=p))
              for g, p in enumerate(pools.first_p)]  # fmt: skip
    first = pl.select(pl.when(pl.Series(female)).then(firsts[0]).otherwise(firsts[1])).to_series()
    last = pools.last.gather(rng.choice(len(pools.last_p), CANVASSER_POOL, p=pools.last_p))
    return first + " " + last


def orphan_contacts(rng: np.random.Generator, drive: Drive, k: int) -> Contacts:
    """`k` unanswered knocks of `drive`, for people the caller names (not in the voter file)."""
    start, end = days_since_epoch(drive.start), days_since_epoch(drive.end)
    return Contacts(
        voter=np.arange(k), channel=np.full(k, drive.channel),
        day=start + rng.integers(0, end - start + 1, k), second=_seconds(rng, drive.channel, k),
        result=np.full(k, NOT_HOME), answer=np.zeros(k, dtype=np.int64),
        canvasser=_canvassers(rng, drive, k), arm=np.full(k, -1), van=np.full(k, drive.van),
    )  # fmt: skip
