"""Look-ups shared by the program commands: a command-line value to a row, or a CommandError."""

from __future__ import annotations

from django.core.management.base import CommandError

from messaging.models import ProgramDesign
from scoring.management.arguments import campaign_of


def design_of(campaign_slug: str, name: str) -> ProgramDesign:
    campaign = campaign_of(campaign_slug)
    design = (
        ProgramDesign.objects.select_related("program", "campaign")
        .filter(campaign=campaign, program__name=name)
        .first()
    )
    if design is None:
        raise CommandError(f"no program {name!r} made with create_program in {campaign.slug}")
    return design


def summary_lines(summary: dict) -> list[str]:
    """A preview or a committed draw in a few lines: the universe, the arms, what was left out."""
    universe = summary["universe"]
    left = summary["left_out"]
    lines = [
        "universe: {voters:,} voters, {households:,} households, {phones:,} phones, "
        "{emails:,} emails; {units:,} units".format(**universe),
        "left out: {backlash_voters:,} backlash voters, {left_alone_units:,} units every "
        "message is predicted to hurt, {over_budget_units:,} units beyond the budget".format(
            **left
        ),
    ]
    lines += [
        f"  {arm['arm']:<24} {arm['units']:>10,} units {arm['voters']:>10,} voters"
        for arm in summary["arms"]
    ]
    votes = summary.get("expected_net_votes")
    known = "unknown (no persuasion scores)" if votes is None else f"{votes:,.1f}"
    lines.append(f"expected net votes: {known}")
    return lines


def turf_lines(turfs) -> list[str]:
    """One line per turf, by rank: doors, voters, metres and expected net votes per door."""
    lines = [
        f"{'rank':>4} {'turf':<16} {'precinct':<10} {'doors':>6} {'voters':>7} {'metres':>8} "
        f"{'net/door':>9}"
    ]
    for t in turfs:
        metres = "—" if t.walking_m is None else f"{t.walking_m:,.0f}"
        per_door = "—" if t.net_votes_per_door is None else f"{t.net_votes_per_door:.4f}"
        lines.append(
            f"{t.rank:>4} {t.name:<16} {t.precinct:<10} {t.doors:>6,} {t.voters:>7,} "
            f"{metres:>8} {per_door:>9}"
        )
    return lines
