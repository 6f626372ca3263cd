"""The OpenAPI schema's error answers (drf-spectacular documents only the success by default).

Every operation can answer 400 (bad input: field -> messages, or `detail`), 401 (no or bad
credentials), 403 (credentials that may not do this), 404 (nothing of the caller's campaign
there) and 415 (a body in a media type it does not read); vendor operations also 429. Listing
them keeps the schema true to what clients get back, which schemathesis checks in CI
(tests/campaign/test_api_schemathesis.py).
"""

from __future__ import annotations

ERROR_SCHEMA = "ErrorAnswer"
ERRORS = {
    "400": "Invalid input: each bad field with its messages, or `detail`.",
    "401": "No credentials, or credentials that do not check out (key, token or signature).",
    "403": "These credentials may not do this.",
    "404": "Nothing of the caller's campaign is there.",
    "415": "The body is in a media type this operation does not read.",
}
METHODS = ("get", "put", "patch", "post", "delete")


def document_error_answers(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: adds the error answers an operation lacks."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_SCHEMA] = {
        "type": "object",
        "description": "`detail` (a message), or each invalid field with a list of messages.",
        "additionalProperties": True,
    }
    answer = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(code, {"description": description, "content": answer})
    return result
