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
