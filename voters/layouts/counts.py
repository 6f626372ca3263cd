"""How many parsed rows had a value for each mapped field, and how many of those values were usable:
so that a column the parser could not read (every zip written `27517.0`, say) is reported, not
silently imported as blanks.

A builder adds `given_flags` to the expressions it selects, then calls `count_fields` on its good
rows; a batch's counts are added up into the import's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

_GIVEN = "__given:"


def given_flags(sources: Mapping[str, str | Sequence[str]]) -> list[pl.Expr]:
    """Per field, whether the row's source cells (after trimming and placeholders) hold a value."""
    flags = []
    for name, columns in sources.items():
        columns = [columns] if isinstance(columns, str) else list(columns)
        if columns:
            given = pl.any_horizontal(pl.col(c).is_not_null() for c in columns)
            flags.append(given.alias(_GIVEN + name))
    return flags


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


def count_fields(good: pl.DataFrame, outputs: Mapping[str, str]) -> FieldCounts:
    """Counts over `good` (rows carrying `given_flags`); `outputs` maps each field to the column
    holding its parsed value. Fields without a flag (no source column) are not counted."""
    names = [n for n in outputs if _GIVEN + n in good.columns]
    if not names:
        return FieldCounts(rows=good.height)
    sums = good.select(
        *[pl.col(_GIVEN + n).sum().alias(f"g{i}") for i, n in enumerate(names)],
        *[pl.col(outputs[n]).is_not_null().sum().alias(f"u{i}") for i, n in enumerate(names)],
    ).row(0)
    count = len(names)
    return FieldCounts(
        rows=good.height,
        given={n: int(sums[i] or 0) for i, n in enumerate(names)},
        usable={n: int(sums[count + i] or 0) for i, n in enumerate(names)},
    )
