"""Contact-history and program-assignment files in, canonical polars batches out (no Django here).

Contact layouts:
- `generic` (DESIGN §4.2): voter_id, occurred_at, channel, result, program, arm, variant, question,
  answer, canvasser, note. CSV or TSV, UTF-8 or Latin-1, headers case-insensitive with aliases.
- `van`: VAN's Contact History and Survey Response reports, tab-separated UTF-16 text with a BOM in
  files named `.xls` (UTF-8 and BOM-less UTF-16 are read too); the report is told by its header.
  `Contact Name` never reaches a row, and is blanked in the raw text of a rejected line.

Names become codes here, through tables the caller loads (`ContactCodes`: the campaign's code
mappings and survey questions), so every bad row is a `RejectedLine` with its line number and the
parser never raises on a row. A row with a result is a contact attempt; a row with a question and
an answer is a survey response (both when it has both).

Times: ISO datetimes (with or without an offset), `YYYY-MM-DD` or `MM/DD/YYYY` dates with or without
a time (12- or 24-hour); naive times are in the campaign's time zone, a bare date is its midnight.
Rows carry UTC times as text, `YYYY-MM-DD HH:MM:SS[.ffffff]`: what SQLite keeps (Django's format)
and what PostgreSQL casts; `day_start`/`day_end` bound the row's local day, in UTC.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

from campaign.lib.timestamps import EARLIEST_YEAR, LATEST_YEAR, OUT_OF_RANGE
from voters.layouts.batches import Source, parse_batches
from voters.layouts.counts import count_fields
from voters.layouts.reading import _decode_line, line_batches, read_header, refuse_binary
from voters.layouts.rows import Built, carried, col_or_null, final_rows, rejected_mask, separate
from voters.layouts.schema import LayoutError, ParsedBatch, RejectedLine
from voters.layouts.specs import match_aliases
from voters.layouts.splitting import Split
from voters.layouts.values import clean_columns, whole_number

CONTACT_LAYOUTS = ("generic", "van")

CONTACT_COLUMNS: dict[str, pl.DataType] = {
    "voter_key": pl.Utf8(),  # the state voter id (generic) or the VANID (van)
    "channel": pl.Utf8(),
    "result": pl.Utf8(),  # null on a survey-response-only row
    "result_raw": pl.Utf8(),
    "occurred_at": pl.Utf8(),  # UTC, YYYY-MM-DD HH:MM:SS[.ffffff]
    "day_start": pl.Utf8(),  # the local day of occurred_at, as a UTC range
    "day_end": pl.Utf8(),
    "program": pl.Utf8(),
    "arm": pl.Utf8(),
    "variant": pl.Utf8(),
    "question": pl.Utf8(),  # the survey question's slug
    "answer": pl.Utf8(),  # the option's code
    "canvasser": pl.Utf8(),
    "note": pl.Utf8(),
}

ASSIGNMENT_COLUMNS: dict[str, pl.DataType] = {
    "voter_id": pl.Utf8(),
    "arm": pl.Utf8(),
    "assigned_at": pl.Utf8(),  # UTC text like occurred_at; null when the file gives none
}

CONTROL_ARM = "control"

# Spellings a generic file may use for a channel or a result (keys lower-cased).
_CHANNEL_ALIASES = {
    "canvass": "door", "walk": "door", "knock": "door", "door knock": "door",
    "call": "phone", "phone call": "phone", "text": "sms", "text message": "sms",
    "e-mail": "email", "mail piece": "mail", "postcard": "mail",
}  # fmt: skip
_RESULT_ALIASES = {
    "no_answer": "not_home", "dnc": "opted_out", "do_not_contact": "opted_out",
    "opt_out": "opted_out", "optout": "opted_out", "unsubscribed": "opted_out",
}  # fmt: skip

_GENERIC_ALIASES: dict[str, tuple[str, ...]] = {
    "voter_id": ("voter_id", "voterid", "id", "state_voter_id", "voter_number", "sos_voterid"),
    "occurred_at": (
        "occurred_at", "contacted_at", "date", "datetime", "contact_date", "timestamp", "time",
        "date_canvassed",
    ),
    "channel": ("channel", "contact_type", "type", "method", "mode"),
    "result": ("result", "outcome", "disposition", "result_code"),
    "program": ("program", "program_name"),
    "arm": ("arm", "program_arm", "group"),
    "variant": ("variant", "message_variant", "message", "script"),
    "question": ("question", "survey_question", "question_slug"),
    "answer": ("answer", "response", "survey_answer", "survey_response"),
    "canvasser": ("canvasser", "canvassed_by", "volunteer", "caller", "contacted_by"),
    "note": ("note", "notes", "comment", "comments"),
}  # fmt: skip
_VAN_ALIASES: dict[str, tuple[str, ...]] = {
    "voter_id": ("voter_file_vanid", "vanid", "van_id", "voter_vanid"),
    "occurred_at": ("date_canvassed",),
    "channel": ("contact_type",),
    "result": ("result",),
    "question": ("survey_question_name", "survey_question"),
    "answer": ("survey_response", "survey_response_name"),
    "canvasser": ("canvassed_by",),
}
_ASSIGNMENT_ALIASES: dict[str, tuple[str, ...]] = {
    "voter_id": _GENERIC_ALIASES["voter_id"],
    "arm": ("arm", "variant", "group", "treatment", "program_arm"),
    "assigned_at": ("assigned_at", "assigned_on", "assigned", "date", "randomized_at"),
}
# How errors name a field: the column as the VAN report spells it.
_VAN_LABELS = {
    "voter_id": "Voter File VANID", "occurred_at": "Date Canvassed", "channel": "Contact Type",
    "result": "Result", "question": "Survey Question Name", "answer": "Survey Response",
}  # fmt: skip
_VAN_CONTACT_NAME = "contact name"
_WITHHELD = "(line withheld: it may hold a contact name)"


@dataclass(frozen=True)
class ContactCodes:
    """What names mean in one campaign, loaded by the importer (keys lower-cased and trimmed)."""

    results_by_channel: Mapping[str, frozenset[str]]  # channel -> results allowed on it
    van_results: Mapping[str, str] = field(default_factory=dict)  # VAN Result -> result code
    van_contact_types: Mapping[str, str] = field(default_factory=dict)  # -> channel
    van_questions: Mapping[str, str] = field(default_factory=dict)  # -> question slug
    questions: Mapping[str, str] = field(default_factory=dict)  # slug or text -> slug (generic)
    # Per question slug: its option codes and labels (lower-cased) -> the option's code.
    answers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    option_codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Plain strings: polars reads a str-subclass enum (Django's TextChoices) as an Enum dtype.
        plain = {str(c): frozenset(str(r) for r in rs) for c, rs in self.results_by_channel.items()}
        object.__setattr__(self, "results_by_channel", plain)

    @property
    def results(self) -> frozenset[str]:
        return frozenset().union(*self.results_by_channel.values())


# --------------------------------------------------------------------------------------------
# Opening: UTF-8/Latin-1 as the voter files, UTF-16 (VAN) re-encoded to UTF-8 on the fly.
# --------------------------------------------------------------------------------------------


class Utf16AsUtf8(io.IOBase):
    """A UTF-16 file read as UTF-8 bytes, so the line machinery (which cuts on b"\\n") applies."""

    def __init__(self, handle: BinaryIO, encoding: str):
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._buffer = bytearray()
        self._eof = False
        self._position = 0

    def readable(self) -> bool:
        return True

    def _fill(self, wanted: int | None, until_newline: bool = False) -> None:
        while not self._eof:
            if until_newline and b"\n" in self._buffer:
                return
            if not until_newline and wanted is not None and len(self._buffer) >= wanted:
                return
            chunk = self._handle.read(1 << 20)
            self._eof = not chunk
            self._buffer += self._decoder.decode(chunk, final=self._eof).encode("utf-8")

    def _take(self, size: int) -> bytes:
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._position += len(out)
        return out

    def read(self, size: int | None = -1) -> bytes:
        wanted = None if size is None or size < 0 else size
        self._fill(wanted)
        return self._take(len(self._buffer) if wanted is None else wanted)

    def readline(self, size: int | None = -1) -> bytes:
        self._fill(None, until_newline=True)
        end = self._buffer.find(b"\n")
        return self._take(len(self._buffer) if end < 0 else end + 1)

    def tell(self) -> int:
        return self._position

    @property
    def source_position(self) -> int:
        """Bytes of the UTF-16 file consumed so far (for progress against its size)."""
        return self._handle.tell()

    def close(self) -> None:
        self._handle.close()
        super().close()


def _utf16_encoding(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the BOM for the byte order and drops it
    sample = head[: len(head) // 2 * 2]
    half = len(sample) // 2
    if half < 4:
        return None
    # Mostly-ASCII UTF-16 without a BOM: every other byte is zero.
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if odd >= 0.6 * half and even <= 0.1 * half:
        return "utf-16-le"
    if even >= 0.6 * half and odd <= 0.1 * half:
        return "utf-16-be"
    return None


def open_text(path: str | Path, file_name: str | None = None) -> BinaryIO:
    """The file as UTF-8-or-Latin-1 bytes positioned after any BOM (UTF-16 re-encoded).

    With `file_name`, raises LayoutError (naming it) when the file is not text at all."""
    handle = open(path, "rb")  # noqa: SIM115 - closed by the generator that owns it
    head = handle.read(65_536)
    encoding = _utf16_encoding(head)
    if encoding:
        handle.seek(0)
        return Utf16AsUtf8(handle, encoding)
    if file_name is not None:
        try:
            refuse_binary(head, file_name)
        except LayoutError:
            handle.close()
            raise
    handle.seek(len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0)
    return handle


def read_raw_lines(path: str | Path, wanted: set[int]) -> dict[int, str]:
    """The text of a few lines by 1-based physical number (for rows rejected after staging)."""
    found: dict[int, str] = {}
    if not wanted:
        return found
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                found[number] = _decode_line(line.rstrip(b"\n")).removesuffix("\r")
                if len(found) == len(wanted):
                    break
    return found


# --------------------------------------------------------------------------------------------
# Values: times, names to codes
# --------------------------------------------------------------------------------------------

_ISO = (
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_US = (
    r"^(\d{1,2})/(\d{1,2})/(\d{4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?)?$"
)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"
_EXPECTED_TIME = "expected YYYY-MM-DD or MM/DD/YYYY, optionally with a time"


@dataclass
class When:
    utc: pl.Expr  # naive datetime in UTC
    day: pl.Expr  # the local date
    error: pl.Expr  # a reason, or null


def _utc_of_local(naive: pl.Expr, time_zone: str) -> pl.Expr:
    # A time in the autumn's repeated hour is taken as its first occurrence; one in the spring's
    # skipped hour does not exist and comes out null.
    return (
        naive.dt.replace_time_zone(time_zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )


def parse_when(value: pl.Expr, time_zone: str) -> When:
    iso = value.str.extract_groups(_ISO)
    us = value.str.extract_groups(_US)

    def part(i: int, j: int | None) -> pl.Expr:
        left = iso.struct.field(str(i))
        return left if j is None else pl.coalesce(left, us.struct.field(str(j)))

    year, month, day = part(1, 3), part(2, 1), part(3, 2)
    hour = part(4, 4).cast(pl.Int32).fill_null(0)
    ampm = us.struct.field("7").str.to_lowercase()
    hour = (
        pl.when(ampm.is_null())
        .then(hour)
        .when((hour == 0) | (hour > 12))
        .then(pl.lit(99))  # "13:00 PM": impossible, so the parse below fails
        .when(ampm == "a")
        .then(hour % 12)
        .otherwise(hour % 12 + 12)
    )
    text = pl.format(
        "{}-{}-{} {}:{}:{}",
        year,
        month.str.zfill(2),
        day.str.zfill(2),
        hour.cast(pl.Utf8).str.zfill(2),
        part(5, 5).fill_null("00"),
        part(6, 6).fill_null("00"),
    )
    micros = iso.struct.field("7").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    naive = text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
    naive = naive + pl.duration(microseconds=micros)
    offset = iso.struct.field("8").str.replace(":", "", literal=True)
    minutes = offset.str.slice(1, 2).cast(pl.Int32) * 60 + offset.str.slice(3, 2).cast(
        pl.Int32
    ).fill_null(0)
    minutes = pl.when(offset.str.to_uppercase() == "Z").then(0).otherwise(minutes)
    minutes = pl.when(offset.str.starts_with("-")).then(-minutes).otherwise(minutes)
    utc = (
        pl.when(offset.is_null())
        .then(_utc_of_local(naive, time_zone))
        .otherwise(naive - pl.duration(minutes=minutes))
    )
    local_day = (
        pl.when(offset.is_null())
        .then(naive.dt.date())
        .otherwise(utc.dt.replace_time_zone("UTC").dt.convert_time_zone(time_zone).dt.date())
    )
    error = (
        pl.when(value.is_null())
        .then(pl.lit("required"))
        .when(year.is_null())
        .then(pl.format(f"unrecognized date or time '{{}}' ({_EXPECTED_TIME})", value))
        .when(naive.is_null())
        .then(pl.format("impossible date or time '{}'", value))
        .when(~year.cast(pl.Int32, strict=False).is_between(EARLIEST_YEAR, LATEST_YEAR))
        .then(pl.format(f"date or time '{{}}' is {OUT_OF_RANGE}", value))
        .when(utc.is_null())
        .then(pl.format(f"'{{}}' does not exist in {time_zone} (the clocks went forward)", value))
    )
    return When(utc=utc, day=local_day, error=error)


def _as_text(utc: pl.Expr) -> pl.Expr:
    return utc.dt.strftime(_TIME_FORMAT).str.strip_suffix(".000000")


def _day_bound(day: pl.Expr, time_zone: str, days_after: int) -> pl.Expr:
    midnight = day.cast(pl.Datetime("us")) + pl.duration(days=days_after)
    return _as_text(_utc_of_local(midnight, time_zone))


def _key(value: pl.Expr) -> pl.Expr:
    return value.str.strip_chars().str.to_lowercase()


def _lookup(key: pl.Expr, table: Mapping[str, str]) -> pl.Expr:
    if not table:
        return pl.lit(None, dtype=pl.Utf8)
    plain = {str(k): str(v) for k, v in table.items()}
    return key.replace_strict(plain, default=None, return_dtype=pl.Utf8)


def _arm(value: pl.Expr) -> pl.Expr:
    return pl.when(_key(value) == CONTROL_ARM).then(pl.lit(CONTROL_ARM)).otherwise(value)


def _by_question(tables: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    return {f"{q}\x1f{k}": code for q, table in tables.items() for k, code in table.items()}


def _answer_code(question: pl.Expr, answer: pl.Expr, codes: ContactCodes) -> pl.Expr:
    """The option's code: the answer as a code, as a label, or its leading code ("1 - Strong")."""
    exact = _by_question(codes.answers)
    by_code = _by_question(codes.option_codes)
    leading = answer.str.extract(r"^\s*([0-9A-Za-z_]+)\s*(?:-|\x{2013}|:|\.|\))", 1)
    return pl.coalesce(
        _lookup(question + "\x1f" + _key(answer), exact),
        _lookup(question + "\x1f" + _key(leading), by_code),
    )


# --------------------------------------------------------------------------------------------
# Contact rows
# --------------------------------------------------------------------------------------------


@dataclass
class _Mapped:
    channel: pl.Expr
    channel_error: pl.Expr
    result: pl.Expr
    result_error: pl.Expr
    question: pl.Expr
    question_error: pl.Expr


def _generic_names(raw_channel, raw_result, raw_question, codes: ContactCodes) -> _Mapped:
    channels = sorted(codes.results_by_channel)
    channel_table = {**{c: c for c in channels}, **_CHANNEL_ALIASES}
    results = sorted(codes.results)
    result_table = {**{r: r for r in results}, **_RESULT_ALIASES}
    channel = _lookup(_key(raw_channel), channel_table)
    result = _lookup(_key(raw_result).str.replace_all(r"[\s\-]+", "_"), result_table)
    question = _lookup(_key(raw_question), codes.questions)
    return _Mapped(
        channel=channel,
        channel_error=pl.when(raw_channel.is_not_null() & channel.is_null()).then(
            pl.format(f"unknown channel '{{}}'; expected one of {', '.join(channels)}", raw_channel)
        ),
        result=result,
        result_error=pl.when(raw_result.is_not_null() & result.is_null()).then(
            pl.format(f"unknown result '{{}}'; expected one of {', '.join(results)}", raw_result)
        ),
        question=question,
        question_error=pl.when(raw_question.is_not_null() & question.is_null()).then(
            pl.format("unknown survey question '{}'", raw_question)
        ),
    )


def _van_name(raw: pl.Expr, table: Mapping[str, str], allowed: list[str] | None, what: str):
    """A VAN name through the campaign's code mappings: (code, error)."""
    mapped = _lookup(_key(raw), table)
    label = _VAN_LABELS[what]
    kind = {"channel": "contact type", "result": "result", "question": "survey question"}[what]
    error = pl.when(raw.is_not_null() & mapped.is_null()).then(
        pl.format(
            f"unknown {label} '{{}}'; add it under code mappings (VAN, {kind}) in the admin", raw
        )
    )
    if allowed is not None:
        error = error.when(raw.is_not_null() & ~mapped.is_in(allowed)).then(
            pl.format(f"{label} '{{}}' maps to '{{}}', which is not a {what} code", raw, mapped)
        )
    return mapped, error


def _van_names(raw_channel, raw_result, raw_question, codes: ContactCodes) -> _Mapped:
    channel, channel_error = _van_name(
        raw_channel, codes.van_contact_types, sorted(codes.results_by_channel), "channel"
    )
    result, result_error = _van_name(raw_result, codes.van_results, sorted(codes.results), "result")
    question, question_error = _van_name(raw_question, codes.van_questions, None, "question")
    # A mapping to a question the campaign no longer has is as good as no mapping.
    known = sorted(codes.answers)
    question_error = question_error.when(raw_question.is_not_null() & ~question.is_in(known)).then(
        pl.format(
            "Survey Question Name '{}' maps to '{}', which is not a survey question",
            raw_question,
            question,
        )
    )
    return _Mapped(channel, channel_error, result, result_error, question, question_error)


def _allowed_pairs(codes: ContactCodes) -> list[str]:
    return [f"{c}|{r}" for c, results in codes.results_by_channel.items() for r in results]


def _contact_errors(
    c: Callable[[str], pl.Expr], m: _Mapped, when: When, answer: pl.Expr, codes: ContactCodes
) -> list[tuple[str, pl.Expr]]:
    raw_result, raw_question, raw_answer = c("result"), c("question"), c("answer")
    has_survey = raw_question.is_not_null() | raw_answer.is_not_null()
    pair = m.channel + "|" + m.result
    result_error = (
        pl.when(raw_result.is_null() & ~has_survey)
        .then(pl.lit("required (or a survey question and answer)"))
        .when(raw_result.is_not_null() & m.result.is_null())
        .then(m.result_error)
        .when(m.channel.is_not_null() & m.result.is_not_null() & ~pair.is_in(_allowed_pairs(codes)))
        .then(pl.format("result '{}' is not allowed on channel '{}'", m.result, m.channel))
    )
    return [
        ("voter_id", pl.when(c("voter_id").is_null()).then(pl.lit("required"))),
        ("occurred_at", when.error),
        (
            "channel",
            pl.when(c("channel").is_null()).then(pl.lit("required")).otherwise(m.channel_error),
        ),
        ("result", result_error),
        (
            "question",
            pl.when(raw_question.is_null() & raw_answer.is_not_null())
            .then(pl.lit("required with an answer"))
            .otherwise(m.question_error),
        ),
        (
            "answer",
            pl.when(raw_answer.is_null() & raw_question.is_not_null())
            .then(pl.lit("required with a question"))
            .when(m.question.is_not_null() & raw_answer.is_not_null() & answer.is_null())
            .then(
                pl.format("'{}' is not an answer to survey question '{}'", raw_answer, m.question)
            ),
        ),
        (
            "program",
            pl.when(c("arm").is_not_null() & c("program").is_null()).then(
                pl.lit("required with an arm")
            ),
        ),
    ]


def _contact_frame(
    fields: pl.DataFrame,
    file_name: str,
    columns: dict[str, str],
    codes: ContactCodes,
    time_zone: str,
    van: bool,
) -> Built:
    c = lambda key: col_or_null(columns, key)  # noqa: E731
    names = _van_names if van else _generic_names
    m = names(c("channel"), c("result"), c("question"), codes)
    when = parse_when(c("occurred_at"), time_zone)
    answer = _answer_code(m.question, c("answer"), codes)
    errors = _contact_errors(c, m, when, answer, codes)
    labels = [(_VAN_LABELS.get(f, f) if van else f) for f, _ in errors]
    exprs = {
        "voter_key": whole_number(c("voter_id")),
        "channel": m.channel,
        "result": m.result,
        "result_raw": c("result"),
        "__utc": when.utc,
        "__day": when.day,
        "program": c("program"),
        "arm": _arm(c("arm")),
        "variant": c("variant"),
        "question": m.question,
        "answer": answer,
        "canvasser": c("canvasser"),
        "note": c("note"),
    }
    selected = fields.select(
        *[e.alias(k) for k, e in exprs.items()],
        *[e.alias(f"__err{i}") for i, (_, e) in enumerate(errors)],
        *carried(fields),
    )
    rejected = rejected_mask(selected, len(errors))
    good, rejects = separate(selected, labels, file_name)
    good = good.with_columns(
        _as_text(pl.col("__utc")).alias("occurred_at"),
        _day_bound(pl.col("__day"), time_zone, 0).alias("day_start"),
        _day_bound(pl.col("__day"), time_zone, 1).alias("day_end"),
    )
    outputs = {k: "voter_key" if k == "voter_id" else k for k in columns}
    counts = count_fields(fields, good, columns, outputs, rejected)
    return Built(final_rows(good, CONTACT_COLUMNS), rejects, counts=counts)


def _contact_columns(layout: str, names: list[str], file_name: str) -> dict[str, str]:
    if layout == "van":
        columns = match_aliases(names, _VAN_ALIASES, file_name)
        report = "a VAN Contact History or Survey Response report"
        for key in ("voter_id", "occurred_at", "channel"):
            if key not in columns:
                raise LayoutError(
                    file_name, 1, f"required column '{_VAN_LABELS[key]}' is missing ({report}?)"
                )
        if "result" not in columns and not {"question", "answer"} <= columns.keys():
            raise LayoutError(
                file_name, 1, f"no 'Result' or 'Survey Response' column: not {report}"
            )
        return columns
    columns = match_aliases(names, _GENERIC_ALIASES, file_name)
    for key in ("voter_id", "occurred_at", "channel"):
        if key not in columns:
            raise LayoutError(file_name, 1, f"required column '{key}' is missing")
    if "result" not in columns and not {"question", "answer"} <= columns.keys():
        raise LayoutError(file_name, 1, "required column 'result' is missing")
    return columns


# --------------------------------------------------------------------------------------------
# Assignment rows
# --------------------------------------------------------------------------------------------


def _assignment_frame(
    fields: pl.DataFrame, file_name: str, columns: dict[str, str], time_zone: str
) -> Built:
    c = lambda key: col_or_null(columns, key)  # noqa: E731
    raw_at = c("assigned_at")
    when = parse_when(raw_at, time_zone)
    errors = [
        ("voter_id", pl.when(c("voter_id").is_null()).then(pl.lit("required"))),
        ("arm", pl.when(c("arm").is_null()).then(pl.lit("required"))),
        ("assigned_at", pl.when(raw_at.is_not_null()).then(when.error)),
    ]
    selected = fields.select(
        whole_number(c("voter_id")).alias("voter_id"),
        _arm(c("arm")).alias("arm"),
        when.utc.alias("__utc"),
        *[e.alias(f"__err{i}") for i, (_, e) in enumerate(errors)],
        *carried(fields),
    )
    rejected = rejected_mask(selected, len(errors))
    good, rejects = separate(selected, [f for f, _ in errors], file_name)
    good = good.with_columns(_as_text(pl.col("__utc")).alias("assigned_at"))
    counts = count_fields(fields, good, columns, {k: k for k in columns}, rejected)
    return Built(final_rows(good, ASSIGNMENT_COLUMNS), rejects, counts=counts)


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


def _closing(handle: BinaryIO, batches: Iterator) -> Iterator:
    with handle:
        yield from batches


def _read(
    path: Path,
    file_name: str,
    batch_rows: int,
    columns_for: Callable[[list[str]], dict[str, str]],
    build: Callable[[pl.DataFrame, dict[str, str]], Built],
) -> Iterator[ParsedBatch]:
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    handle = open_text(path, file_name)
    try:
        header = read_header(handle, file_name, None)
        columns = columns_for(header.names)
    except BaseException:
        handle.close()
        raise
    names = header.names
    used = set(columns.values())
    source = Source(
        names,
        header.delimiter,
        _closing(handle, line_batches(handle, batch_rows, header.first_data_line, file_name)),
    )

    def run(split: Split) -> Built:
        split.fields = clean_columns(split.fields, names, used, split.plan)
        return build(split.fields, columns)

    redact = names.index(_VAN_CONTACT_NAME) if _VAN_CONTACT_NAME in names else None
    batches = parse_batches(source, file_name, run)
    return _finish_batches(batches, handle, redact, header.delimiter, len(names))


def _finish_batches(
    batches: Iterator[ParsedBatch],
    handle: BinaryIO,
    redact: int | None,
    delimiter: str,
    width: int,
) -> Iterator[ParsedBatch]:
    for batch in batches:
        if redact is not None and batch.rejects:
            batch.rejects = [_redacted(r, redact, delimiter, width) for r in batch.rejects]
        if isinstance(handle, Utf16AsUtf8):
            # Progress is measured against the UTF-16 file's size, not the UTF-8 bytes read.
            batch.bytes_read = handle.source_position
        yield batch


def _redacted(reject: RejectedLine, index: int, delimiter: str, width: int) -> RejectedLine:
    """The rejected line with its Contact Name blanked (or withheld when its fields are off)."""
    cells = reject.raw.split(delimiter) if reject.raw else []
    if len(cells) != width:
        raw = _WITHHELD
    else:
        cells[index] = ""
        raw = delimiter.join(cells)
    return RejectedLine(reject.file_name, reject.line_number, raw, reject.errors)


def read_contact_batches(
    path: str | Path,
    *,
    layout: str,
    codes: ContactCodes,
    time_zone: str,
    batch_rows: int = 100_000,
    display_name: str | None = None,
) -> Iterator[ParsedBatch]:
    """Parse a contact-history file of `layout` (generic or van) into `CONTACT_COLUMNS` rows."""
    path = Path(path)
    file_name = display_name or path.name
    if layout not in CONTACT_LAYOUTS:
        raise LayoutError(
            file_name, 1, f"unknown layout '{layout}'; expected one of {CONTACT_LAYOUTS}"
        )
    van = layout == "van"
    return _read(
        path,
        file_name,
        batch_rows,
        lambda names: _contact_columns(layout, names, file_name),
        lambda fields, columns: _contact_frame(fields, file_name, columns, codes, time_zone, van),
    )


def read_assignment_batches(
    path: str | Path,
    *,
    time_zone: str,
    batch_rows: int = 100_000,
    display_name: str | None = None,
) -> Iterator[ParsedBatch]:
    """Parse a program-assignment file (voter_id, arm, assigned_at) into `ASSIGNMENT_COLUMNS`."""
    path = Path(path)
    file_name = display_name or path.name

    def columns_for(names: list[str]) -> dict[str, str]:
        columns = match_aliases(names, _ASSIGNMENT_ALIASES, file_name)
        for key in ("voter_id", "arm"):
            if key not in columns:
                raise LayoutError(file_name, 1, f"required column '{key}' is missing")
        return columns

    return _read(
        path,
        file_name,
        batch_rows,
        columns_for,
        lambda fields, columns: _assignment_frame(fields, file_name, columns, time_zone),
    )
