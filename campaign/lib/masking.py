"""Phones and emails hidden in free text (a rejected row's raw line, its reasons) for readers
who may not see them: viewers read the file without the ways to reach a voter (DESIGN §5).

Conservative on purpose: any token holding an `@`, and any run of seven or more digits (with the
separators people write phones with) that is not a date or time, is masked. Over-masking a long
numeric id costs a viewer a little; under-masking leaks a voter's number.
"""

from __future__ import annotations

import re

PHONE_MASK = "[phone]"
EMAIL_MASK = "[email]"
MIN_PHONE_DIGITS = 7

_EMAIL = r"(?P<email>[^\s,;:|'\"<>()\[\]{}]*@[^\s,;:|'\"<>()\[\]{}]*)"
# Tried before the phone alternative at each position, so dates and ZIP+4 codes keep their digits.
_DATE = r"(?P<date>\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)"
_ZIP4 = r"(?P<zip>(?<![\w\-])\d{5}-\d{4}(?![\w\-]))"
_PHONE = r"(?P<phone>(?<![\w+])\+?\(?\d(?:[\s.\-()]{0,2}\d)+(?![\w]))"
_SENSITIVE = re.compile("|".join((_EMAIL, _DATE, _ZIP4, _PHONE)))


def mask_contact_details(text: str) -> str:
    """`text` with every email-like token and phone-like number replaced by a placeholder."""
    return _SENSITIVE.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    if match.group("email") is not None:
        return EMAIL_MASK
    if match.group("date") is not None or match.group("zip") is not None:
        return match.group(0)
    digits = sum(ch.isdigit() for ch in match.group(0))
    return PHONE_MASK if digits >= MIN_PHONE_DIGITS else match.group(0)
