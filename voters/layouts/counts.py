"""How many parsed rows had a value for each mapped field, and how many of those values were usable:
so that a column the parser could not read (every zip written `27517.0`, say) is reported, not
silently imported as blanks.

A builder calls `count_fields` with its source fields, the rows without errors, and where each
field comes from and goes to; a batch's counts are added up into the import's. The counts come
from null counts, which polars keeps with each column: they cost next to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

Sources = Mapping[str, str | Sequence[str]]  # field -> the file's column(s) it is read from


@dataclass
class FieldCounts:
    """Parsed good rows, and per field (in header-map order): rows with a value in the file, and
    rows where that value was usable (read into the canonical field)."""

    rows: int = 0
    given: dict[str, int] = field(default_factory=dict)
    usable: dict[str, int] = field(default_factory=dict)

    def add(self, other: FieldCounts) -> None:
        self.rows += other.rows
        for name, count in other.given.items():
            self.given[name] = self.given.get(name, 0) + count
            self.usable[name] = self.usable.get(name, 0) + other.usable[name]

    def as_json(self) -> dict:
        # A list, not an object: jsonb keeps no key order, and the fields read best in map order.
        return {
            "rows": self.rows,
            "fields": [
                {"field": n, "given": g, "usable": self.usable[n]} for n, g in self.given.items()
            ],
        }

    def warnings(self) -> list[str]:
        """A field whose column gave a usable value on fewer than half the rows, and on fewer
        than half the rows that had something in it: values were there and were lost. (A column
        blank on most rows, a suffix or a ward, lost nothing and is not warned about.)"""
        return [
            unreadable_warning(name, usable, self.given[name], self.rows)
            for name, usable in self.usable.items()
            if self.rows and usable * 2 < self.rows and usable * 2 < self.given[name]
        ]


def unreadable_warning(name: str, usable: int, given: int, rows: int) -> str:
    return (
        f"{name}: {usable:,} of {rows:,} rows readable "
        f"({given - usable:,} values in the file could not be read)"
    )


def count_fields(
    fields: pl.DataFrame,
    good: pl.DataFrame,
    sources: Sources,
    outputs: Mapping[str, str],
    rejected: pl.Series | None = None,
) -> FieldCounts:
    """Counts over the rows the import takes: `good`, which are the rows of `fields` (the cleaned
    source columns) that `rejected` (a mask over `fields`, or None) does not mark. `outputs` maps
    each field to the column of `good` holding its parsed value."""
    columns = sorted({c for cs in sources.values() for c in ([cs] if isinstance(cs, str) else cs)})
    taken = fields.select(columns)
    if rejected is not None:
        taken = taken.filter(~rejected)
    given = {}
    for name, cs in sources.items():
        if isinstance(cs, str):
            given[name] = taken.height - taken[cs].null_count()
        else:  # a field read from several columns (an address line in parts) is given by any
            given[name] = int(
                taken.select(pl.any_horizontal(pl.col(cs).is_not_null()).sum()).item()
            )
    usable = {name: good.height - good[outputs[name]].null_count() for name in sources}
    return FieldCounts(rows=good.height, given=given, usable=usable)
