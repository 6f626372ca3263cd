"""Twilio's request signature (X-Twilio-Signature), as its RequestValidator computes it (pure).

base64(HMAC-SHA1(auth token, URL + each POST parameter's name and value, by name then value)),
over the full URL Twilio requested (scheme, host, path and query), which is why the endpoint
checks it against the configured public URL and not the one the proxy passed on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping


def twilio_signature(auth_token: str, url: str, params: Mapping[str, Iterable[str]]) -> str:
    """The signature of a form POST: `params` maps each name to its values."""
    signed = url + "".join(
        name + value for name in sorted(params) for value in sorted(set(params[name]))
    )
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid_signature(
    auth_token: str, url: str, params: Mapping[str, Iterable[str]], signature: str
) -> bool:
    """Whether `signature` is Twilio's for this request (False without a token or signature)."""
    if not auth_token or not signature:
        return False
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())
