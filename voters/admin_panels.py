"""Sections that later apps add to the voter's admin page.

Imports flow one way (campaign <- voters <- scoring <- messaging), so the voter page cannot ask
scoring for a voter's scores. Scoring registers a panel here instead, from its admin module, and
the voter page (`voters.admin.VoterAdmin`) shows every registered panel, read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.safestring import SafeString

from voters.models import Voter


@dataclass(frozen=True)
class VoterPanel:
    name: str
    title: str
    after: str
    # The read-only field the admin shows: `render` under the panel's label. One object per
    # panel, since the admin matches a page's read-only fields to its fieldsets by identity.
    field: Callable[[Voter], SafeString]


_panels: dict[str, VoterPanel] = {}


def register_voter_panel(
    *, name: str, title: str, label: str, after: str, render: Callable[[Voter], SafeString]
) -> VoterPanel:
    """Show `render(voter)` on every voter page in a section `title` placed after the page's
    section `after` (last if the page has none of that title), with `label` beside it.

    `name` identifies the panel (the row's CSS class is `field-<name>`); registering a name again
    replaces that panel, so an admin module imported twice adds nothing.
    """

    def field(voter: Voter) -> SafeString:
        return render(voter)

    field.__name__ = name
    field.short_description = label
    panel = VoterPanel(name=name, title=title, after=after, field=field)
    _panels[name] = panel
    return panel


def unregister_voter_panel(name: str) -> None:
    _panels.pop(name, None)


def voter_panels() -> list[VoterPanel]:
    """The registered panels, in the order they were first registered."""
    return list(_panels.values())


def with_panels(fieldsets: list | tuple) -> list:
    """The voter page's fieldsets with each registered panel's section after the one it names
    (two panels after one section keep the order they were registered in)."""
    shown = list(fieldsets)
    added: set[str] = set()
    for panel in voter_panels():
        titles = [title for title, _ in shown]
        at = titles.index(panel.after) + 1 if panel.after in titles else len(shown)
        while at < len(shown) and shown[at][0] in added:
            at += 1
        shown.insert(at, (panel.title, {"fields": (panel.field,)}))
        added.add(panel.title)
    return shown
