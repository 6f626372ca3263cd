"""What a text message costs and must say: its encoding, its segments, its opt-out language.

Pure computation, no Django: carriers bill and split by segment, so staff see the count before a
program sends 100,000 of them.

- GSM-7 (3GPP TS 23.038, the GSM 03.38 default alphabet) when every character is in the basic set
  or its extension table. A basic character costs one septet, an extension character two (an
  escape and the character), and the two never straddle a segment boundary. One segment holds 160
  septets; a message of several holds 153 per segment (the rest is the concatenation header).
- UCS-2 otherwise (one emoji or curly quote is enough): one segment holds 70 UTF-16 code units,
  several hold 67 each. A character outside the Basic Multilingual Plane (most emoji) is a
  surrogate pair, two units, and the pair is never split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The basic set, in code order (0x1B, the escape to the extension table, is not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape, so each costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsSize:
    """How a message travels: `units` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: str
    characters: int
    units: int
    segments: int

    @property
    def per_segment(self) -> int:
        """What one segment of a message of this many segments holds, in units."""
        if self.encoding == GSM7:
            return GSM7_SINGLE if self.segments <= 1 else GSM7_PART
        return UCS2_SINGLE if self.segments <= 1 else UCS2_PART


def encoding_of(text: str) -> str:
    """GSM-7 if every character is in the default alphabet or its extension, else UCS-2."""
    alphabet = GSM7_BASIC | GSM7_EXTENSION
    return GSM7 if all(ch in alphabet for ch in text) else UCS2


def non_gsm7_characters(text: str) -> list[str]:
    """The characters that force UCS-2, each once, in order (a curly quote, an emoji...)."""
    alphabet = GSM7_BASIC | GSM7_EXTENSION
    return list(dict.fromkeys(ch for ch in text if ch not in alphabet))


def _unit_costs(text: str, encoding: str) -> list[int]:
    """Each character's cost in units; a character's units always travel in one segment."""
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _parts(costs: list[int], capacity: int) -> int:
    """Segments needed when each holds `capacity` units and no character is split."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts, used = parts + 1, 0
        used += cost
    return parts


def sms_size(text: str) -> SmsSize:
    """Encoding, length and segment count of `text` as sent (an empty text is 0 segments)."""
    encoding = encoding_of(text)
    costs = _unit_costs(text, encoding)
    units = sum(costs)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == GSM7 else (UCS2_SINGLE, UCS2_PART)
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = _parts(costs, part)
    return SmsSize(encoding=encoding, characters=len(text), units=units, segments=segments)


# Carriers' opt-out keywords (CTIA), as a keyword in capitals; or the words "opt out".
_KEYWORD = re.compile(r"\b(?:STOP|STOPALL|UNSUBSCRIBE)\b")
_PHRASE = re.compile(r"\bopt[- ]?out\b", re.IGNORECASE)


def has_opt_out_language(text: str) -> bool:
    """Whether the text tells the recipient how to stop ("Reply STOP to opt out").

    A first message to a number must say so. "STOP" counts only in capitals, as a keyword, so
    "don't stop now" does not pass for it; "opt out" / "opt-out" counts in any case.
    """
    return bool(_KEYWORD.search(text) or _PHRASE.search(text))
