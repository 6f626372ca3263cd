"""Encoding and segments of a text against known strings (pure: no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messaging.sms_encoding import (
    GSM7,
    GSM7_SINGLE,
    UCS2,
    UCS2_SINGLE,
    SmsSize,
    encoding_of,
    has_opt_out_language,
    non_gsm7_characters,
    sms_size,
)

EXTENSION = "€[]{}^~\\|"
CURLY = "\u2019"  # a right single quotation mark, as phones type an apostrophe


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsSize(GSM7, 0, 0, 0)),
        ("a" * 160, SmsSize(GSM7, 160, 160, 1)),
        ("a" * 161, SmsSize(GSM7, 161, 161, 2)),
        ("a" * 306, SmsSize(GSM7, 306, 306, 2)),
        ("a" * 307, SmsSize(GSM7, 307, 307, 3)),
        # Each extension character is an escape and the character: two septets.
        (EXTENSION, SmsSize(GSM7, 9, 18, 1)),
        ("€" * 80, SmsSize(GSM7, 80, 160, 1)),
        ("€" * 81, SmsSize(GSM7, 81, 162, 2)),
        # 306 septets fit two parts of 153 only if the euro straddled them; it may not.
        ("a" * 152 + "€" + "a" * 152, SmsSize(GSM7, 305, 306, 3)),
        # The basic set's accents and Greek capitals stay GSM-7.
        ("Ça été où? ΔΩ ¿ñ §", SmsSize(GSM7, 18, 18, 1)),
        ("ж" * 70, SmsSize(UCS2, 70, 70, 1)),
        ("ж" * 71, SmsSize(UCS2, 71, 71, 2)),
        ("ж" * 134, SmsSize(UCS2, 134, 134, 2)),
        ("ж" * 135, SmsSize(UCS2, 135, 135, 3)),
        # An emoji is a surrogate pair: two UTF-16 units, never split.
        ("😀", SmsSize(UCS2, 1, 2, 1)),
        ("😀" * 35, SmsSize(UCS2, 35, 70, 1)),
        ("😀" * 36, SmsSize(UCS2, 36, 72, 2)),
        ("a" * 66 + "😀" + "a" * 66, SmsSize(UCS2, 133, 134, 3)),
        # One curly apostrophe turns a GSM-7 text into UCS-2: 70 a segment, not 160.
        ("It" + CURLY + "s " + "a" * 70, SmsSize(UCS2, 75, 75, 2)),
    ],
)
def test_sms_size_of_known_strings(text, expected):
    assert sms_size(text) == expected


def test_per_segment_capacity_depends_on_the_segment_count():
    assert [sms_size(t).per_segment for t in ("a", "a" * 161, "ж", "ж" * 71)] == [
        160,
        153,
        70,
        67,
    ]


def test_every_extension_character_is_gsm7_and_nothing_else_outside_the_alphabet():
    assert encoding_of(EXTENSION) == GSM7
    assert encoding_of("ê") == UCS2  # é and è are in the basic set, ê is not
    assert non_gsm7_characters(f"Don{CURLY}t wait 😀 don{CURLY}t") == [CURLY, "😀"]
    assert non_gsm7_characters(EXTENSION + "Hello") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reply STOP to opt out", True),
        ("Text STOP to end", True),
        ("Reply STOPALL to stop texts", True),
        ("To opt-out, reply stop", True),
        ("Opt out anytime", True),
        ("Don't stop now, vote!", False),
        ("STOPPED by to say hi", False),
        ("", False),
    ],
)
def test_opt_out_language(text, expected):
    assert has_opt_out_language(text) is expected


_MIXED = st.text(alphabet=st.sampled_from("aZ0 @€[|~ΔéжЯ😀🗳\n"), max_size=400)


@given(_MIXED)
def test_units_and_segments_hold_for_any_text(text):
    size = sms_size(text)
    if size.encoding == UCS2:
        units = len(text.encode("utf-16-be")) // 2
    else:
        units = len(text) + sum(ch in EXTENSION for ch in text)
    single = GSM7_SINGLE if size.encoding == GSM7 else UCS2_SINGLE
    part = size.per_segment

    assert size.units == units
    if units == 0:
        assert size.segments == 0
    elif units <= single:
        assert size.segments == 1
    else:
        # No character is split, so a part may end one unit short, never more.
        assert -(-units // part) <= size.segments <= -(-units // (part - 1))
