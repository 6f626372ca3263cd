"""Ids from request parameters (campaign.lib.ids)."""

import pytest

from campaign.lib.ids import as_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", 42), ("007", 7), ("9" * 18, int("9" * 18)), ("9" * 19, None), ("¹", None),
     ("٣", None), ("-1", None), ("1.0", None), (" 1", None), ("", None), (None, None)],
)  # fmt: skip
def test_as_id_reads_ascii_digits_a_bigint_can_hold(value, expected):
    assert as_id(value) == expected
