"""The admin's charts as PNG bytes (no Django): a model's reliability, an experiment's lifts.

Figures are built on matplotlib's object API with an Agg canvas, never through `pyplot`: pyplot
keeps global figure state that concurrent requests in one web process would share, and its default
backend may look for a display the server does not have.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

# matplotlib is imported where a chart is drawn: the admin imports this module, and with it every
# command and worker would pay for matplotlib at start.
if TYPE_CHECKING:
    from matplotlib.figure import Figure

SIZE_INCHES = (5.0, 4.0)
DPI = 100
THIS_COLOUR = "#1f6fb2"
OTHER_COLOUR = "#999999"
BACKLASH_COLOUR = "#c62828"
CONTROL = "control"


def reliability_png(
    bins: Sequence[dict],
    *,
    title: str,
    compare: Sequence[dict] | None = None,
    compare_label: str = "approved",
) -> bytes:
    """Mean predicted vs observed rate per probability bin; the diagonal is perfect calibration.

    `bins` are the model's held-out reliability rows `{bin, predicted, observed, n}`; marker areas
    grow with n so a bin of five voters does not look as certain as one of five thousand.
    """
    figure = _figure(figsize=SIZE_INCHES, dpi=DPI)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#bbbbbb", linewidth=1, label="perfect")
    if compare:
        _reliability_line(axes, compare, OTHER_COLOUR, compare_label)
    _reliability_line(axes, bins, THIS_COLOUR, "this version")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("predicted probability (mean in bin)")
    axes.set_ylabel("observed rate")
    axes.set_title(title, fontsize=10)
    axes.grid(True, linewidth=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return _png(figure)


def _reliability_line(axes, bins: Sequence[dict], colour: str, label: str) -> None:
    if not bins:
        return
    largest = max(b["n"] for b in bins) or 1
    predicted = [b["predicted"] for b in bins]
    observed = [b["observed"] for b in bins]
    axes.plot(predicted, observed, color=colour, linewidth=1.2, label=label)
    axes.scatter(
        predicted, observed, s=[12 + 120 * b["n"] / largest for b in bins], color=colour, zorder=3
    )


def experiment_png(arms: Sequence[dict], *, title: str) -> bytes:
    """Lift of each treated arm over control, in percentage points, with its 95% CI as error bars.

    `arms` are the report's rows `{arm, n, rate, lift, ci_low, ci_high, ...}`; the control arm
    (lift 0 by definition) is the zero line rather than a bar.
    """
    treated = [a for a in arms if a["arm"] != CONTROL]
    figure = _figure(figsize=(max(4.0, 1.2 * len(treated) + 2), 4.0), dpi=DPI)
    axes = figure.add_subplot()
    names = [a["arm"] for a in treated]
    lifts = [100 * a["lift"] for a in treated]
    below = [100 * (a["lift"] - a["ci_low"]) for a in treated]
    above = [100 * (a["ci_high"] - a["lift"]) for a in treated]
    colours = [_lift_colour(a) for a in treated]
    positions = list(range(len(treated)))
    axes.bar(positions, lifts, color=colours, yerr=[below, above], capsize=6, width=0.6)
    axes.axhline(0, color="#333333", linewidth=0.8)
    axes.set_xticks(positions, names, rotation=20 if len(names) > 4 else 0, fontsize=8)
    axes.set_ylabel("lift vs control (percentage points)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, axis="y", linewidth=0.3)
    figure.tight_layout()
    return _png(figure)


def _lift_colour(arm: dict) -> str:
    """Blue when the CI is above zero, red when below (backlash), grey when it spans zero."""
    if arm["ci_low"] > 0:
        return THIS_COLOUR
    return BACKLASH_COLOUR if arm["ci_high"] < 0 else OTHER_COLOUR


def _figure(**kwargs) -> Figure:
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
