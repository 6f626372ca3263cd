"""Writing a whole county (or a bare NC voter file) chunk by chunk with bounded memory."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from voters.phones import normalize_phones
from voters.synthetic.calendar import Election, days_since_epoch, election_calendar, program_dates
from voters.synthetic.codes import (
    ARMS,
    CONTROL,
    CONTROL_SHARE,
    DEFAULT_AS_OF,
    DEFAULT_SEED,
    PROGRAM_NAME,
)
from voters.synthetic.contacts import (
    CHANNELS,
    DOOR,
    RESULTS,
    Contacts,
    Drive,
    campaign_drives,
    canvasser_names,
    orphan_contacts,
    simulate_contacts,
)
from voters.synthetic.population import (
    Geography,
    Population,
    build_geography,
    build_pools,
    draw_population,
)
from voters.synthetic.render import (
    Columns,
    contacts_frame,
    generic_voter_frame,
    history_frames,
    nc_voter_frame,
    orphan_frames,
    program_frames,
    shared_columns,
    voter_ids,
)
from voters.synthetic.support import draw_support, precinct_leans
from voters.synthetic.turnout import History, simulate_history
from voters.synthetic.van import contact_names, van_contact_frame, van_ids, van_response_frame


@dataclass
class ContactTotals:
    """What the contact files hold. Rows and answers count voters in the file only."""

    rows: int = 0  # contacts.csv
    orphan_rows: int = 0  # contacts.csv rows whose voter id is not in the voter file
    answers: int = 0  # support answers in contacts.csv
    program_rows: int = 0  # door attempts of the past program (all in contacts.csv)
    van_rows: int = 0  # Contact History report
    van_orphan_rows: int = 0  # its rows whose VANID is not in the voter file
    van_answers: int = 0  # Survey Response report (every row is a support answer)
    by_result: dict[str, int] = field(default_factory=dict)  # "sms:opted_out": rows, both files

    def opt_outs(self, channel: str) -> int:
        return self.by_result.get(f"{channel}:opted_out", 0)

    def add(self, contacts: Contacts) -> None:
        van = contacts.van
        self.rows += int((~van).sum())
        self.van_rows += int(van.sum())
        self.answers += int(((contacts.answer > 0) & ~van).sum())
        self.van_answers += int(((contacts.answer > 0) & van).sum())
        self.program_rows += int((contacts.arm >= 0).sum())
        keys, counts = np.unique(contacts.channel * 100 + contacts.result, return_counts=True)
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            name = f"{CHANNELS[key // 100]}:{RESULTS[key % 100]}"
            self.by_result[name] = self.by_result.get(name, 0) + count


@dataclass(frozen=True)
class CountyFiles:
    out_dir: Path
    voters_csv: Path
    history_csv: Path
    nc_voter_txt: Path
    nc_history_txt: Path
    assignments_csv: Path
    program_json: Path
    ground_truth_csv: Path
    voters: int
    households: int
    history_rows: int  # votes of voters in the file
    orphan_history_rows: int  # extra rows whose voter id is not in the voter file
    elections: tuple[Election, ...]  # past elections, oldest first; all appear in history
    target_election: Election  # the upcoming general, never in history
    program_name: str
    program_arms: tuple[str, ...]
    program_assigned_on: date
    program_election: Election
    as_of: date
    assigned_voters: int = 0
    arm_counts: dict[str, int] = field(default_factory=dict)
    contacts_csv: Path | None = None
    van_contacts_xls: Path | None = None
    van_responses_xls: Path | None = None
    contacts: ContactTotals = field(default_factory=ContactTotals)


class _Appender:
    """Streams frames into one file: header once, then rows, chunk after chunk.

    With `utf16`, the file is VAN's: UTF-16 little-endian with a byte-order mark, CRLF lines.
    """

    def __init__(self, path: Path, *, separator: str, quote_style: str, utf16: bool = False):
        self.path = path
        self.handle: BinaryIO = path.open("wb")
        self.options = {"separator": separator, "quote_style": quote_style}
        self.utf16 = utf16
        self.header_written = False
        self.rows = 0
        if utf16:
            self.handle.write(codecs.BOM_UTF16_LE)

    def write(self, frame: pl.DataFrame) -> None:
        # A first chunk with no rows still writes the header.
        header = not self.header_written
        if self.utf16:
            text = frame.write_csv(include_header=header, line_terminator="\r\n", **self.options)
            self.handle.write(text.encode("utf-16-le"))
        else:
            frame.write_csv(self.handle, include_header=header, float_precision=6, **self.options)
        self.header_written = True
        self.rows += len(frame)

    def close(self) -> None:
        self.handle.close()


def _chunk_rng(seed: int, chunk: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, chunk, stream]))


def _population_chunks(voters: int, seed: int, as_of: date, chunk_rows: int):
    """Yield (chunk number, geography, population) covering `voters` voters in order."""
    geo = build_geography(voters, seed)
    pools = build_pools()
    households = 0
    for chunk, start in enumerate(range(0, voters, chunk_rows)):
        n = min(chunk_rows, voters - start)
        rng = _chunk_rng(seed, chunk, 0)
        pop = draw_population(
            rng, geo, pools, first_voter=start, first_household=households, n=n,
            as_of_days=days_since_epoch(as_of),
        )  # fmt: skip
        households += pop.households
        yield chunk, geo, pop


def write_nc_voter_file(
    path: str | Path,
    *,
    rows: int,
    seed: int = DEFAULT_SEED,
    chunk_rows: int = 200_000,
    as_of: date = DEFAULT_AS_OF,
) -> int:
    """Stream an NC current-layout ncvoter file of `rows` voters; returns the rows written.

    Memory is bounded by `chunk_rows`. Output is a function of (rows, seed, chunk_rows, as_of).
    """
    out = _Appender(Path(path), separator="\t", quote_style="never")
    try:
        for chunk, geo, pop in _population_chunks(rows, seed, as_of, chunk_rows):
            rng = _chunk_rng(seed, chunk, 2)
            out.write(nc_voter_frame(rng, pop, shared_columns(rng, geo, pop, seed), as_of))
    finally:
        out.close()
    return out.rows


# key: (file name, separator, quote style). The NC files are tab-separated and never quoted;
# the VAN reports (_UTF16_FILES) are tab-separated UTF-16.
_STREAMED_FILES = {
    "voters": ("voters.csv", ",", "necessary"),
    "history": ("history.csv", ",", "necessary"),
    "nc_voters": ("ncvoter.txt", "\t", "never"),
    "nc_history": ("ncvhis.txt", "\t", "never"),
    "assignments": (f"assignments_{PROGRAM_NAME}.csv", ",", "necessary"),
    "truth": ("ground_truth.csv", ",", "necessary"),
    "contacts": ("contacts.csv", ",", "necessary"),
    "van_contacts": ("van_contact_history.xls", "\t", "never"),
    "van_responses": ("van_survey_responses.xls", "\t", "never"),
}
_UTF16_FILES = frozenset({"van_contacts", "van_responses"})


@dataclass(frozen=True)
class _Streamed:
    """What the streamed files of a county hold, for its CountyFiles summary."""

    paths: dict[str, Path]  # keyed as _STREAMED_FILES
    households: int
    history_rows: int
    orphan_history_rows: int
    arm_counts: dict[str, int]
    contacts: ContactTotals


@dataclass(frozen=True)
class _County:
    """What every chunk of one county shares."""

    seed: int
    as_of: date
    elections: tuple[Election, ...]
    assigned_on: date
    drives: tuple[Drive, ...]
    leans: np.ndarray  # support lean per precinct
    canvassers: pl.Series


def _open_streamed_files(out: Path) -> dict[str, _Appender]:
    return {
        key: _Appender(out / name, separator=sep, quote_style=quote, utf16=key in _UTF16_FILES)
        for key, (name, sep, quote) in _STREAMED_FILES.items()
    }


def _write_chunk(
    files: dict[str, _Appender], chunk: int, geo: Geography, pop: Population, county: _County
) -> tuple[History, Contacts]:
    """Write one chunk of voters to every streamed file; returns its history and contacts."""
    seed, as_of = county.seed, county.as_of
    hist = simulate_history(
        _chunk_rng(seed, chunk, 1), pop, county.elections, as_of_days=days_since_epoch(as_of)
    )
    # Both layouts render the same shared columns (ids, addresses, phones), so they show the same
    # people; the NC layout's own mess continues the same random stream.
    rng = _chunk_rng(seed, chunk, 2)
    cols = shared_columns(rng, geo, pop, seed)
    files["voters"].write(generic_voter_frame(pop, cols))
    files["nc_voters"].write(nc_voter_frame(rng, pop, cols, as_of))
    _write_history(files, county.elections, pop, cols, hist)
    # Streams 4 and 5 are new with the contact history, so the files above are unchanged by it.
    support = draw_support(_chunk_rng(seed, chunk, 4), pop, county.leans)
    contacts = simulate_contacts(
        _chunk_rng(seed, chunk, 5), pop, drives=county.drives, support=support, arm=hist.arm,
        has_phone=normalize_phones(cols.phone).is_not_null().to_numpy(),
        has_email=cols.email.is_not_null().to_numpy(), as_of_days=days_since_epoch(as_of),
    )  # fmt: skip
    _write_contacts(files, _chunk_rng(seed, chunk, 6), pop, cols, contacts, county.canvassers)
    assignments, truth = program_frames(cols, pop, hist, support, county.assigned_on)
    files["assignments"].write(assignments)
    files["truth"].write(truth)
    return hist, contacts


def _write_contacts(
    files: dict[str, _Appender],
    rng: np.random.Generator,
    pop: Population,
    cols: Columns,
    contacts: Contacts,
    canvassers: pl.Series,
) -> None:
    generic = contacts.take(np.flatnonzero(~contacts.van))
    files["contacts"].write(contacts_frame(generic, cols.ids.gather(generic.voter), canvassers))
    van = contacts.take(np.flatnonzero(contacts.van))
    vanids, names = cols.vanid.to_numpy()[van.voter], contact_names(pop, van.voter)
    files["van_contacts"].write(
        van_contact_frame(rng, van, vanids=vanids, names=names, canvassers=canvassers)
    )
    files["van_responses"].write(
        van_response_frame(van, vanids=vanids, names=names, canvassers=canvassers)
    )


def _write_history(
    files: dict[str, _Appender],
    elections: tuple[Election, ...],
    pop: Population,
    cols: Columns,
    hist: History,
) -> None:
    generic, nc = history_frames(
        elections,
        index=pop.index,
        ids=cols.ids,
        precinct=cols.precinct,
        voted=hist.voted,
        method=hist.method,
        ballot=hist.ballot,
    )
    files["history"].write(generic)
    files["nc_history"].write(nc)


def _count_arms(arm_counts: dict[str, int], arm: np.ndarray) -> None:
    """Add a chunk's voters per experiment arm; -1 marks voters outside the experiment."""
    for index, count in zip(*np.unique(arm[arm >= 0], return_counts=True), strict=True):
        arm_counts[ARMS[index]] += int(count)


def _write_orphans(
    files: dict[str, _Appender], *, voters: int, seed: int, elections: tuple[Election, ...]
) -> None:
    # Indexes from `voters` on belong to nobody in the file. Stream 3 is used by nothing else, so
    # the orphans' draws never overlap a chunk's.
    rng = _chunk_rng(seed, 1_000_000, 3)
    generic, nc = orphan_frames(rng, voters, max(3, voters // 200), elections, seed)
    files["history"].write(generic)
    files["nc_history"].write(nc)


def _write_contact_orphans(
    files: dict[str, _Appender], *, voters: int, county: _County
) -> tuple[int, int]:
    """Door knocks of people no longer in the file, in both layouts; returns (generic, VAN)."""
    rng = _chunk_rng(county.seed, 1_000_000, 7)  # a stream nothing else uses
    written = [0, 0]
    for van in (False, True):
        drive = next((d for d in county.drives if d.van == van and d.channel == DOOR), None)
        if drive is None:
            continue
        k = max(3, voters // 2_000)
        # Distinct people, one knock each, so no two orphan rows are the same attempt.
        index = voters + rng.choice(4 * k, k, replace=False)
        contacts = orphan_contacts(rng, drive, k)
        if van:
            people = county.canvassers.gather(rng.integers(0, len(county.canvassers), k))
            names = people.str.replace(r"^(\S+) (.+)$", "$2, $1")  # VAN's "Last, First"
            frame = van_contact_frame(
                rng, contacts, vanids=van_ids(index, county.seed), names=names,
                canvassers=county.canvassers,
            )  # fmt: skip
            files["van_contacts"].write(frame)
        else:
            frame = contacts_frame(contacts, voter_ids(index, county.seed), county.canvassers)
            files["contacts"].write(frame)
        written[van] = k
    return written[0], written[1]


def _write_streamed_files(out: Path, *, voters: int, chunk_rows: int, county: _County) -> _Streamed:
    files = _open_streamed_files(out)
    households, arm_counts = 0, dict.fromkeys(ARMS, 0)
    totals = ContactTotals()
    try:
        for chunk, geo, pop in _population_chunks(voters, county.seed, county.as_of, chunk_rows):
            hist, contacts = _write_chunk(files, chunk, geo, pop, county)
            households += pop.households
            _count_arms(arm_counts, hist.arm)
            totals.add(contacts)
        # Counted before the orphans are appended: history_rows is the votes of voters in the file.
        history_rows = files["history"].rows
        _write_orphans(files, voters=voters, seed=county.seed, elections=county.elections)
        totals.orphan_rows, totals.van_orphan_rows = _write_contact_orphans(
            files, voters=voters, county=county
        )
    finally:
        for appender in files.values():
            appender.close()
    return _Streamed(
        paths={key: appender.path for key, appender in files.items()},
        households=households,
        history_rows=history_rows,
        orphan_history_rows=files["history"].rows - history_rows,
        arm_counts=arm_counts,
        contacts=totals,
    )


def _write_program_json(path: Path, assigned_on: date, election: Election) -> Path:
    program = {
        "name": PROGRAM_NAME,
        "assigned_on": assigned_on.isoformat(),
        "arms": list(ARMS),
        "control_arm": CONTROL,
        "control_share": CONTROL_SHARE,
        "election_date": election.on.isoformat(),
        "household_randomized": True,
    }
    path.write_text(json.dumps(program, indent=2) + "\n")
    return path


def generate_county(
    out_dir: str | Path,
    *,
    voters: int = 50_000,
    seed: int = DEFAULT_SEED,
    as_of: date = DEFAULT_AS_OF,
    chunk_rows: int = 200_000,
) -> CountyFiles:
    """Generate a county of `voters` voters with eight years of history into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    elections, target = election_calendar(as_of)
    program_index, assigned_on = program_dates(elections)
    county = _County(
        seed=seed, as_of=as_of, elections=elections, assigned_on=assigned_on,
        drives=campaign_drives(elections),
        leans=precinct_leans(seed, build_geography(voters, seed).n_precincts),
        canvassers=canvasser_names(seed),
    )  # fmt: skip
    streamed = _write_streamed_files(out, voters=voters, chunk_rows=chunk_rows, county=county)
    program = elections[program_index]
    program_json = _write_program_json(out / "program.json", assigned_on, program)
    paths = streamed.paths
    return CountyFiles(
        out_dir=out, voters_csv=paths["voters"], history_csv=paths["history"],
        nc_voter_txt=paths["nc_voters"], nc_history_txt=paths["nc_history"],
        assignments_csv=paths["assignments"], ground_truth_csv=paths["truth"],
        program_json=program_json,
        voters=voters, households=streamed.households, history_rows=streamed.history_rows,
        orphan_history_rows=streamed.orphan_history_rows,
        elections=elections, target_election=target,
        program_name=PROGRAM_NAME, program_arms=ARMS, program_assigned_on=assigned_on,
        program_election=program, as_of=as_of,
        assigned_voters=sum(streamed.arm_counts.values()), arm_counts=streamed.arm_counts,
        contacts_csv=paths["contacts"], van_contacts_xls=paths["van_contacts"],
        van_responses_xls=paths["van_responses"], contacts=streamed.contacts,
    )  # fmt: skip
