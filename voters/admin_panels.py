"""Sections that later apps add to the voter's admin page, and filters and columns they add to the
voter list.

Imports flow one way (campaign <- voters <- scoring <- messaging), so the voter page cannot ask
scoring for a voter's scores. Scoring registers a panel here instead, from its admin module, and
the voter page (`voters.admin.VoterAdmin`) shows every registered panel, read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.admin import ListFilter
from django.db.models import OrderBy, QuerySet
from django.http import HttpRequest
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


# -- the voter list: later apps' filters and sortable columns ---------------------------------


@dataclass(frozen=True)
class VoterListColumn:
    """A column of the voter list that a later app computes (the latest turnout score).

    `annotate(request, voters)` adds the annotation the column shows and sorts by (`ordering`: a
    name or an expression), scoped to what `request`'s user may see; `display(voter)` renders one
    row from that annotation, so the column costs no query per row.
    """

    name: str
    description: str
    ordering: str | OrderBy
    annotate: Callable[[HttpRequest, QuerySet[Voter]], QuerySet[Voter]]
    display: Callable[[Voter], str]


_list_filters: dict[str, type[ListFilter]] = {}
_list_columns: dict[str, VoterListColumn] = {}


def register_voter_list_filter(name: str, list_filter: type[ListFilter]) -> None:
    """Offer `list_filter` in the voter list's sidebar (before the campaign filter); registering
    `name` again replaces it."""
    _list_filters[name] = list_filter


def register_voter_list_column(column: VoterListColumn) -> None:
    """Show `column` on the voter list, sortable; registering its name again replaces it."""
    _list_columns[column.name] = column


def unregister_voter_list(name: str) -> None:
    _list_filters.pop(name, None)
    _list_columns.pop(name, None)


def voter_list_filters() -> list[type[ListFilter]]:
    return list(_list_filters.values())


def voter_list_columns() -> list[VoterListColumn]:
    return list(_list_columns.values())
