"""Writing a whole county (or a bare NC voter file) chunk by chunk with bounded memory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from voters.synthetic.calendar import Election, days_since_epoch, election_calendar, program_dates
from voters.synthetic.codes import (
    ARMS,
    CONTROL,
    CONTROL_SHARE,
    DEFAULT_AS_OF,
    DEFAULT_SEED,
    PROGRAM_NAME,
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
    generic_voter_frame,
    history_frames,
    nc_voter_frame,
    orphan_frames,
    program_frames,
    shared_columns,
)
from voters.synthetic.turnout import History, simulate_history


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


class _Appender:
    """Streams frames into one file: header once, then rows, chunk after chunk."""

    def __init__(self, path: Path, *, separator: str, quote_style: str) -> None:
        self.path = path
        self.handle: BinaryIO = path.open("wb")
        self.options = {"separator": separator, "quote_style": quote_style}
        self.rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        frame.write_csv(
            # tell(): a first chunk with no rows has still written the header.
            self.handle, include_header=self.rows == 0 and not self.handle.tell(),
            float_precision=6, **self.options,
        )  # fmt: skip
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


# key: (file name, separator, quote style). The NC files are tab-separated and never quoted.
_STREAMED_FILES = {
    "voters": ("voters.csv", ",", "necessary"),
    "history": ("history.csv", ",", "necessary"),
    "nc_voters": ("ncvoter.txt", "\t", "never"),
    "nc_history": ("ncvhis.txt", "\t", "never"),
    "assignments": ("program_assignments.csv", ",", "necessary"),
    "truth": ("ground_truth.csv", ",", "necessary"),
}


@dataclass(frozen=True)
class _Streamed:
    """What the streamed files of a county hold, for its CountyFiles summary."""

    paths: dict[str, Path]  # keyed as _STREAMED_FILES
    households: int
    history_rows: int
    orphan_history_rows: int
    arm_counts: dict[str, int]


def _open_streamed_files(out: Path) -> dict[str, _Appender]:
    return {
        key: _Appender(out / name, separator=sep, quote_style=quote)
        for key, (name, sep, quote) in _STREAMED_FILES.items()
    }


def _write_chunk(
    files: dict[str, _Appender],
    chunk: int,
    geo: Geography,
    pop: Population,
    *,
    seed: int,
    as_of: date,
    elections: tuple[Election, ...],
    assigned_on: date,
) -> History:
    """Write one chunk of voters to every streamed file; returns its simulated history."""
    hist = simulate_history(
        _chunk_rng(seed, chunk, 1), pop, elections, as_of_days=days_since_epoch(as_of)
    )
    # Both layouts render the same shared columns (ids, addresses, phones), so they show the same
    # people; the NC layout's own mess continues the same random stream.
    rng = _chunk_rng(seed, chunk, 2)
    cols = shared_columns(rng, geo, pop, seed)
    files["voters"].write(generic_voter_frame(pop, cols))
    files["nc_voters"].write(nc_voter_frame(rng, pop, cols, as_of))
    _write_history(files, elections, pop, cols, hist)
    assignments, truth = program_frames(cols, pop, hist, assigned_on)
    files["assignments"].write(assignments)
    files["truth"].write(truth)
    return hist


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


def _write_streamed_files(
    out: Path,
    *,
    voters: int,
    seed: int,
    as_of: date,
    chunk_rows: int,
    elections: tuple[Election, ...],
    assigned_on: date,
) -> _Streamed:
    files = _open_streamed_files(out)
    households, arm_counts = 0, dict.fromkeys(ARMS, 0)
    try:
        for chunk, geo, pop in _population_chunks(voters, seed, as_of, chunk_rows):
            hist = _write_chunk(
                files, chunk, geo, pop,
                seed=seed, as_of=as_of, elections=elections, assigned_on=assigned_on,
            )  # fmt: skip
            households += pop.households
            _count_arms(arm_counts, hist.arm)
        # Counted before the orphans are appended: history_rows is the votes of voters in the file.
        history_rows = files["history"].rows
        _write_orphans(files, voters=voters, seed=seed, elections=elections)
    finally:
        for appender in files.values():
            appender.close()
    return _Streamed(
        paths={key: appender.path for key, appender in files.items()},
        households=households,
        history_rows=history_rows,
        orphan_history_rows=files["history"].rows - history_rows,
        arm_counts=arm_counts,
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
    streamed = _write_streamed_files(
        out, voters=voters, seed=seed, as_of=as_of, chunk_rows=chunk_rows,
        elections=elections, assigned_on=assigned_on,
    )  # fmt: skip
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
    )  # fmt: skip
