"""voters.phones: the vectorized path agrees with phonenumbers exactly."""

from __future__ import annotations

import random

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from voters.phones import normalize_phones


def oracle(value: str) -> str | None:
    """parse(x, "US") -> E.164 if valid, the contract; repeated-digit placeholders excepted."""
    digits = "".join(c for c in value if c.isdigit())
    if digits and len(set(digits)) == 1:
        return None
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if number.country_code == 1 and len(str(number.national_number)) != 10:
        return None  # the metadata's few valid seven-digit numbers (voters.phones says why)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


SEPARATOR = st.sampled_from(["", " ", "-", ".", "  "])
EXTENSION = st.sampled_from(["", " x12", " ext. 123", "x1", " extension 4567", " x1234567"])
PREFIX = st.sampled_from(["", "1", "+1", "+", "1 ", "+1 ", "011 ", "+44 "])


@st.composite
def phone_texts(draw: st.DrawFn) -> str:
    digits = draw(st.text(alphabet="0123456789", min_size=3, max_size=13))
    parts = [digits[:3], digits[3:6], digits[6:]]
    sep = draw(SEPARATOR)
    body = sep.join(p for p in parts if p)
    if draw(st.booleans()) and len(digits) == 10:
        body = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return draw(PREFIX) + body + draw(EXTENSION)


@settings(max_examples=400, deadline=None)
@given(st.lists(phone_texts(), min_size=1, max_size=30))
def test_vectorized_phones_agree_with_phonenumbers(values):
    got = normalize_phones(pl.Series(values, dtype=pl.Utf8)).to_list()
    assert got == [oracle(v) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="0123456789()+-. xXextABC#", max_size=25), max_size=20))
def test_arbitrary_phone_text_agrees_with_phonenumbers(values):
    got = normalize_phones(pl.Series(values, dtype=pl.Utf8)).to_list()
    assert got == [oracle(v) for v in values]


def test_a_seven_digit_number_is_refused_even_where_phonenumbers_takes_it():
    values = ["310-0000", "+1 310 0000", "(310) 555-0100"]
    assert normalize_phones(pl.Series(values)).to_list() == [None, None, "+13105550100"]
    assert [oracle(v) for v in values] == [None, None, "+13105550100"]


def test_every_area_code_agrees_with_phonenumbers():
    rnd = random.Random(7)
    values = [f"{npa}{rnd.randrange(10**7):07d}" for npa in range(200, 1000) for _ in range(3)]
    got = normalize_phones(pl.Series(values)).to_list()
    assert got == [oracle(v) for v in values]


def test_formatted_and_placeholder_values():
    values = [
        "(919) 555-1234",
        "919.555.1234 x12",
        "+1 919 555 1234",
        "9999999999",
        None,
        "555-1234",
    ]
    assert normalize_phones(pl.Series(values, dtype=pl.Utf8)).to_list() == [
        "+19195551234",
        "+19195551234",
        "+19195551234",
        None,
        None,
        None,
    ]
