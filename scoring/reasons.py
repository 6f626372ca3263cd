"""Reasons in plain words for a whole chunk of voters at once, rendered as JSON text.

Stored per voter as `{"turnout": [["voted in 1 of the last 4 primaries", -0.12], ...],
"support": [...], "uplift <arm>": [...]}`: each model's top reasons, largest first, as
[words, signed size]. Grouping by model keeps the label once per voter and model instead of once
per reason; at state scale (8 million voters a run) that halves the table.

A chunk holds 20,000 voters with up to nine reasons each (three per model). Describing each with
a Python call and encoding each voter's reasons with `json.dumps` cost more than the exact SHAP
that found them. But a reason's words depend only on the values of the feature(s) it describes
(`features.DESCRIBED_BY`), and a campaign has few distinct values per feature (ages, counts, a
precinct's shares), so each distinct (feature, values) is described once per process and kept as
a JSON fragment; a voter's JSON is then the fragments and the signed sizes joined, which polars
does in bulk. The result equals the per-voter path's (tested against it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import polars as pl

from scoring.features import DESCRIBE, DESCRIBED_BY, FeatureMatrix
from scoring.ml import top_contributions

# NaN never equals itself, so distinct values are found with NaN swapped for a value no feature
# takes, and swapped back before the words are chosen.
_MISSING = np.float32(-3.0e38)
# A long-lived worker scores many runs; the cache is dropped when it grows past this.
_CACHE_LIMIT = 500_000


def by_model(reasons: dict | list) -> dict[str, list[tuple[str, float]]]:
    """A stored `reasons` value as {model: [(words, size), ...]}, largest first.

    Also reads the flat list of {"model", "text", "value"} that runs scored before reasons were
    grouped by model stored."""
    if isinstance(reasons, list):
        grouped: dict[str, list[tuple[str, float]]] = {}
        for r in reasons:
            grouped.setdefault(r["model"], []).append((r["text"], r["value"]))
        return grouped
    return {model: [(text, value) for text, value in items] for model, items in reasons.items()}


@dataclass
class ReasonParts:
    """One model's reasons for some rows: parallel arrays, in row order, largest first."""

    label: str
    rows: np.ndarray  # matrix row of each reason
    slots: np.ndarray  # its rank among the row's reasons of this model (0: largest)
    fragments: np.ndarray  # index into the renderer's fragments
    values: np.ndarray  # signed size


class ReasonRenderer:
    """Finds each voter's top reasons and renders every voter's list as JSON, per process."""

    def __init__(self, per_model: int = 3):
        self.per_model = per_model
        self._index: dict[tuple, int] = {}
        self._fragments: list[str] = []

    def parts(
        self,
        label: str,
        contributions: np.ndarray,
        matrix: FeatureMatrix,
        names: tuple[str, ...],
        *,
        scale: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> ReasonParts:
        """The `per_model` largest non-zero contributions of each row of `contributions`.

        `names` are the model's feature names (its columns); `scale` multiplies each row's
        sizes (log-odds to probability points); `rows` maps contribution rows to matrix rows.
        """
        if len(self._fragments) > _CACHE_LIMIT:
            self._index.clear()
            self._fragments.clear()
        top = top_contributions(contributions, self.per_model)
        picked = np.take_along_axis(contributions, top, axis=1)
        sizes = picked * scale[:, None] if scale is not None else picked
        local, slot = np.nonzero(picked != 0)  # row-major: each row's reasons, largest first
        feature = top[local, slot]
        matrix_rows = rows[local] if rows is not None else local
        fragments = np.empty(len(feature), dtype=np.int64)
        for j in np.unique(feature).tolist():
            chosen = feature == j
            fragments[chosen] = self._describe(names[j], matrix, matrix_rows[chosen])
        return ReasonParts(
            label=label,
            rows=np.asarray(matrix_rows, dtype=np.int64),
            slots=slot.astype(np.int64),
            fragments=fragments,
            values=sizes[local, slot].astype(np.float64),
        )

    def render(self, n: int, parts: list[ReasonParts]) -> list[str]:
        """Each of the `n` rows' reasons as a JSON object of model -> [[words, size], ...], the
        models in the order of `parts`.

        Column-wise, with no grouping: a model's reasons of rank r go into a column of n cells
        (empty where a row has none), the ranks are joined into one entry per row and model, and
        the models' entries into one object per row.
        """
        fragment = pl.Series(self._fragments, dtype=pl.Utf8)
        entries = [self._entries(n, part, fragment) for part in parts if len(part.rows)]
        if not entries:
            return ["{}"] * n
        joined = pl.concat_str(entries, separator=",", ignore_nulls=True)
        return pl.select(pl.concat_str(pl.lit("{"), joined, pl.lit("}"))).to_series().to_list()

    def _entries(self, n: int, part: ReasonParts, fragment: pl.Series) -> pl.Series:
        """`"label": [[words, size], ...]` of each row with reasons from `part`; null elsewhere."""
        items = pl.select(
            pl.concat_str(
                fragment.gather(part.fragments),
                pl.Series(part.values).round(4).cast(pl.Utf8),
                pl.lit("]"),
            )
        ).to_series()
        ranks = []
        for rank in range(self.per_model):
            at = part.slots == rank
            column = pl.repeat(None, n, dtype=pl.Utf8, eager=True)
            if at.any():
                column.scatter(part.rows[at], items.filter(pl.Series(at)))
            ranks.append(column)
        has = np.zeros(n, dtype=bool)
        has[part.rows] = True
        reasons = pl.concat_str(ranks, separator=",", ignore_nulls=True)
        entry = pl.concat_str(pl.lit(f"{json.dumps(part.label)}:["), reasons, pl.lit("]"))
        return pl.select(pl.when(pl.Series(has)).then(entry).otherwise(None)).to_series()

    def _describe(self, name: str, matrix: FeatureMatrix, rows: np.ndarray) -> np.ndarray:
        """Fragment index of each row's reason on `name`; distinct values described once."""
        reads = DESCRIBED_BY[name]
        columns = [matrix.spec.names.index(r) for r in reads]
        values = matrix.values[np.ix_(rows, columns)].astype(np.float32)
        values = np.ascontiguousarray(np.where(np.isnan(values), _MISSING, values))
        # Each row's values as one integer of their bytes (one or two float32s), so a 1-D
        # unique finds the distinct combinations: far quicker than a row-wise unique.
        width = {1: np.int32, 2: np.int64}.get(len(columns))
        if width is None:
            distinct, inverse = np.unique(values, axis=0, return_inverse=True)
        else:
            keys = values.view(width).ravel()
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            distinct = values[first]
        ids = np.empty(len(distinct), dtype=np.int64)
        for u, combination in enumerate(distinct.tolist()):
            key = (name, *combination)
            found = self._index.get(key)
            if found is None:
                found = self._index[key] = len(self._fragments)
                self._fragments.append(self._fragment(name, reads, combination))
            ids[u] = found
        return ids[inverse.ravel()]

    @staticmethod
    def _fragment(name: str, reads: tuple[str, ...], combination: list[float]) -> str:
        view = {
            r: (float("nan") if v == float(_MISSING) else float(v))
            for r, v in zip(reads, combination, strict=True)
        }
        return f"[{json.dumps(DESCRIBE[name](view) or name, ensure_ascii=False)},"
