"""Rendering a message variant for one voter, in a sandbox that sees only the message context.

A variant's subject and bodies are Django templates written by staff, so they are parsed by an
engine of their own, not the project's: no template loaders (no `{% include %}` or `{% extends %}`
of files), no tag libraries (no `{% load %}`), and only the tags and filters listed below as
builtins (no `{% debug %}`, `{% csrf_token %}`, `{% url %}`, `{% now %}`...). The context is made
of strings and tuples built for the message, never model instances, so nothing can traverse to
other rows or settings; and every name a template reads is checked against `CONTEXT` when the
variant is saved, so a typo or `{{ settings.SECRET_KEY }}` is an error naming the line, not a
blank in 100,000 texts. A missing value renders as "" (`string_if_invalid`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Node, Variable, VariableNode
from django.template.defaulttags import FirstOfNode, ForNode, IfNode, WithNode

# What a template may read, and what it means. Shown in the admin's help and in the README.
CONTEXT: dict[str, str] = {
    "voter.first_name": "the voter's first name ('' when the file has none)",
    "voter.polling_place": "their polling place, when the voter file gives one (else '')",
    "voter.talking_points": "up to three reasons from their latest scores, in words, largest "
    "first (e.g. 'voted in 1 of the last 4 primaries'); empty when they are not scored",
    "sender.name": "who the message is from (the campaign's name)",
}
# Sequences a template may index (`voter.talking_points.0`) or loop over.
_SEQUENCES = frozenset({"voter.talking_points"})

ALLOWED_TAGS = ("comment", "firstof", "for", "if", "spaceless", "verbatim", "with")
ALLOWED_FILTERS = (
    "add", "capfirst", "cut", "default", "default_if_none", "escape", "first", "join", "last",
    "length", "linebreaks", "linebreaksbr", "lower", "pluralize", "slice", "striptags", "title",
    "truncatechars", "truncatewords", "upper", "wordwrap", "yesno",
)  # fmt: skip


def _library() -> Library:
    library = Library()
    for name in ALLOWED_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name in ALLOWED_FILTERS:
        library.filters[name] = defaultfilters.register.filters[name]
    return library


class _SandboxEngine(Engine):
    """An engine whose builtins are the allow-list alone (Engine adds Django's to any list)."""

    default_builtins: list[str] = []
    _LIBRARY = _library()

    def get_template_builtins(self, builtins):
        return [self._LIBRARY]


def _engine(*, autoescape: bool) -> Engine:
    # debug=True only keeps each node's line, so an error can name it.
    return _SandboxEngine(
        dirs=[],
        loaders=[],
        libraries={},
        string_if_invalid="",
        autoescape=autoescape,
        debug=True,
    )


TEXT_ENGINE = _engine(autoescape=False)  # scripts, texts, plain-text email, subjects
HTML_ENGINE = _engine(autoescape=True)  # the HTML email body


class VariantTemplateError(ValueError):
    """A variant's template that does not parse, reads outside its context, or fails to render."""

    def __init__(self, *, variant: str, field: str, line: int | None, problem: str):
        self.variant, self.field, self.line, self.problem = variant, field, line, problem
        where = f"line {line}" if line else "template"
        super().__init__(f"variant {variant!r}, {field} {where}: {problem}")


# --------------------------------------------------------------------------------------------
# Compiling and checking
# --------------------------------------------------------------------------------------------


def compile_template(source: str, *, html: bool, variant: str, field: str) -> Template:
    """Parse `source` in the sandbox and check every name it reads against `CONTEXT`."""
    engine = HTML_ENGINE if html else TEXT_ENGINE
    try:
        template = engine.from_string(source)
    except TemplateSyntaxError as exc:
        line = getattr(exc, "template_debug", {}).get("line")
        raise VariantTemplateError(
            variant=variant, field=field, line=line, problem=_syntax_problem(exc)
        ) from None
    for line, name in _names_read(template.nodelist, frozenset()):
        if not _in_context(name):
            raise VariantTemplateError(
                variant=variant,
                field=field,
                line=line,
                problem=f"{{{{ {name} }}}} is not in the message context; a template sees "
                f"only {', '.join(CONTEXT)}",
            )
    return template


_QUOTED = re.compile(r"'([^']+)'")


def _syntax_problem(exc: TemplateSyntaxError) -> str:
    text = str(exc)
    tag = _QUOTED.search(text)
    if text.startswith("Invalid block tag") and tag:
        return f"{{% {tag.group(1)} %}} is not an allowed tag (allowed: {', '.join(ALLOWED_TAGS)})"
    if text.startswith("Invalid filter"):
        return f"{text}; allowed filters: {', '.join(ALLOWED_FILTERS)}"
    return text


def _in_context(name: str) -> bool:
    if name in CONTEXT:
        return True
    head, _, index = name.rpartition(".")
    return head in _SEQUENCES and index.isdigit()


def _line(node: Node) -> int | None:
    token = getattr(node, "token", None)
    return getattr(token, "lineno", None)


def _names_read(nodes: Sequence[Node], local: frozenset[str]) -> Iterator[tuple[int | None, str]]:
    """(line, dotted name) of every context variable the nodes read; loop and `with` names,
    which the template itself defines, are not context names and are left out."""
    for node in nodes:
        line = _line(node)
        for expression in _expressions(node):
            for name in _expression_names(expression):
                if name.split(".", 1)[0] not in local:
                    yield line, name
        inner = local | _defined_names(node)
        for attr in node.child_nodelists:  # an {% if %}'s branches come as one `nodelist`
            yield from _names_read(getattr(node, attr, None) or (), inner)


def _defined_names(node: Node) -> frozenset[str]:
    if isinstance(node, ForNode):
        return frozenset((*node.loopvars, "forloop"))
    if isinstance(node, WithNode):
        return frozenset(node.extra_context)
    return frozenset()


def _expressions(node: Node) -> Iterator[FilterExpression]:
    if isinstance(node, VariableNode):
        yield node.filter_expression
    elif isinstance(node, ForNode):
        yield node.sequence
    elif isinstance(node, WithNode):
        yield from node.extra_context.values()
    elif isinstance(node, FirstOfNode):
        yield from node.vars
    elif isinstance(node, IfNode):
        for condition, _ in node.conditions_nodelists:
            yield from _condition_expressions(condition)


def _condition_expressions(condition) -> Iterator[FilterExpression]:
    if condition is None:  # {% else %}
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):  # a leaf of the condition
        yield value
        return
    for side in (getattr(condition, "first", None), getattr(condition, "second", None)):
        yield from _condition_expressions(side)


def _expression_names(expression: FilterExpression) -> Iterator[str]:
    variables = [expression.var] + [arg for _, args in expression.filters for _, arg in args]
    for variable in variables:
        if isinstance(variable, Variable) and variable.lookups is not None:
            yield ".".join(variable.lookups)


# --------------------------------------------------------------------------------------------
# The context and rendering
# --------------------------------------------------------------------------------------------


def message_context(
    *, first_name: str, polling_place: str, talking_points: Sequence[str], sender: str
) -> dict[str, dict[str, object]]:
    """The whole of what a template sees: strings and a tuple (immutable, and no methods that
    reach anything), never a model instance."""
    return {
        "voter": {
            "first_name": first_name,
            "polling_place": polling_place,
            "talking_points": tuple(talking_points),
        },
        "sender": {"name": sender},
    }


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str
    html_body: str


@dataclass(frozen=True)
class CompiledVariant:
    """A variant's templates, parsed and checked once, to render for many voters."""

    name: str
    subject: Template | None
    body: Template
    html_body: Template | None

    def render(self, context: dict) -> RenderedMessage:
        return RenderedMessage(
            subject=self._render("subject", self.subject, context).strip(),
            body=self._render("body", self.body, context),
            html_body=self._render("HTML body", self.html_body, context),
        )

    def _render(self, field: str, template: Template | None, context: dict) -> str:
        if template is None:
            return ""
        try:
            return template.render(Context(context, autoescape=template.engine.autoescape))
        except Exception as exc:  # a template's failure is the variant's, named as such
            line = getattr(exc, "template_debug", {}).get("line")
            raise VariantTemplateError(
                variant=self.name, field=field, line=line, problem=str(exc)
            ) from exc
