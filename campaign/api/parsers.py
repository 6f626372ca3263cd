"""The API's JSON parser: DRF's, with bounds a hostile body cannot get past into a 500."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Our deepest request (vendor opt-outs: body → events → event → field) nests 3 levels.
MAX_JSON_DEPTH = 32


class BoundedJSONParser(JSONParser):
    """JSON nested at most MAX_JSON_DEPTH levels, holding no NUL character.

    Python's parser recurses once per level, so a body of 100,000 `[` ran out of stack (a 500);
    PostgreSQL cannot store a NUL in text, so one in a string became a database error (a 500).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        _check(data)
        return data


def _check(data: object) -> None:
    """Walks the parsed body without recursion (its depth is what is being checked)."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ParseError("JSON strings may not contain NUL characters")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        pending.extend((item, depth + 1) for item in items)
