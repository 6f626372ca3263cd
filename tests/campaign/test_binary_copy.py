"""Binary COPY rows built column by column equal the format written one field at a time."""

from __future__ import annotations

import datetime as dt
import struct

import numpy as np

from campaign.lib import binary_copy


def field(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def row_by_hand(number: int, share: float, at: int, doc: bytes, text: bytes) -> bytes:
    return (
        struct.pack(">h", 5)
        + field(struct.pack(">q", number))
        + field(struct.pack(">d", share))
        + field(struct.pack(">q", at))
        + field(doc)
        + field(text)
    )


def test_rows_equal_the_format_written_field_by_field():
    docs = binary_copy.jsonb_values([{"control": 0.1, "a": 0.9}, {"control": 0.5}])
    texts = [t.encode() for t in ("household:12", "", "zoë@example.org")]
    at = binary_copy.timestamptz(dt.datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC))
    numbers = np.array([7, -1, 2**40, 0])
    shares = np.array([0.25, 1.0, 1e-9, 0.5])
    doc_index, text_index = np.array([1, 0, 0, 1]), np.array([2, 1, 0, 2])

    encoded = binary_copy.encode_rows(
        [numbers, shares, np.full(4, at)],
        [
            (binary_copy.encode_values(docs), doc_index),
            (binary_copy.encode_values(texts), text_index),
        ],
    )

    expected = b"".join(
        row_by_hand(int(n), float(s), at, docs[d], texts[t])
        for n, s, d, t in zip(numbers, shares, doc_index, text_index, strict=True)
    )
    assert encoded.tobytes() == expected


def test_packed_values_equal_values_given_one_by_one():
    texts = [t.encode() for t in ("voter:1", "", "zoë@example.org")]
    packed = binary_copy.encode_packed(np.array([len(t) for t in texts]), b"".join(texts))
    one_by_one = binary_copy.encode_values(texts)

    assert packed.blob.tobytes() == one_by_one.blob.tobytes()
    assert packed.starts.tolist() == one_by_one.starts.tolist() == [0, 11, 15]
    assert packed.sizes.tolist() == one_by_one.sizes.tolist() == [11, 4, 20]


def test_timestamps_count_microseconds_from_postgresql_epoch():
    assert binary_copy.timestamptz(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == 0
    assert binary_copy.timestamptz(dt.datetime(2000, 1, 1, 0, 0, 1, 5, tzinfo=dt.UTC)) == 1_000_005


def test_jsonb_values_are_a_version_byte_then_the_json_text():
    assert binary_copy.jsonb_values([{"control": 0.1}]) == [b'\x01{"control": 0.1}']


def test_no_rows_encode_to_nothing():
    values = binary_copy.encode_values([b"x"])
    empty = np.array([], dtype=np.int64)

    assert binary_copy.encode_rows([empty], [(values, empty)]).tobytes() == b""
