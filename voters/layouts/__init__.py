"""Voter and vote-history files in, canonical polars batches out (no Django here).

`read_voter_batches` / `read_history_batches` stream a file in batches of at most `batch_rows`
physical lines, so memory stays flat however big the file. Each batch is parsed and normalized with
polars expressions (no Python per row): good lines become rows of `VOTER_COLUMNS` /
`HISTORY_COLUMNS` plus `line_number`; bad lines become `RejectedLine`s with reasons.

Reading rules worth knowing:
- Lines split on "\\n" (a trailing "\\r" dropped); blank lines are skipped and not counted.
- A batch decodes as UTF-8; a line that is not UTF-8 decodes as cp1252, else Latin-1.
- TSV and pipe files get no quote processing except that one pair of quotes around a whole field
  is removed. CSV honours standard quoting on one line; a quoted field that spans lines is not
  supported: its first line is rejected ("unterminated or malformed quoted field") and the
  continuation usually has the wrong field count.
- Line-level problems are reported with `FieldError(field="line", ...)`.
- Error reasons never echo names, addresses or phones; bad date strings are echoed.

Where things live, in the order a file goes through them:
- `schema`: the canonical columns, the layouts, `ParsedBatch`, `RejectedLine`, `LayoutError`.
- `batches`: the loop shared by both kinds of file (open, header, batches, split, build).
- `reading`: bytes to lines (encodings, header row, batches of lines).
- `fast_path`: lines to fields for a whole tab/pipe batch at once, when it can be done exactly.
- `splitting`: lines to fields line by line (CSV quoting, bad field counts), the fallback.
- `values`: trimming, placeholders, dates and numbers and their errors.
- `codes`: the code tables (gender, race, party, status, election types, methods...).
- `specs`: each layout's column map, the generic header aliases, required columns.
- `voters`, `history`: building canonical voter and history rows; `extra`: the `extra` JSON.
- `counts`: per mapped field, rows with a value and rows where it was usable (the import's summary).
- `digests`: raw-line digests, so a re-import skips the lines an earlier import stored.
- `rows`: good rows and rejected lines from the built expressions.
"""

from voters.layouts.codes import ELECTION_TYPES
from voters.layouts.contacts import (
    ASSIGNMENT_COLUMNS,
    CONTACT_COLUMNS,
    CONTACT_LAYOUTS,
    ContactCodes,
    read_assignment_batches,
    read_contact_batches,
    read_raw_lines,
)
from voters.layouts.counts import FieldCounts
from voters.layouts.digests import KnownDigests
from voters.layouts.history import read_history_batches
from voters.layouts.reading import file_size
from voters.layouts.schema import (
    HISTORY_COLUMNS,
    LAYOUTS,
    VOTER_COLUMNS,
    FieldError,
    LayoutError,
    ParsedBatch,
    RejectedLine,
)
from voters.layouts.specs import FL_HISTORY_FIELDS, FL_VOTER_FIELDS
from voters.layouts.voters import read_voter_batches

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "CONTACT_COLUMNS",
    "CONTACT_LAYOUTS",
    "ELECTION_TYPES",
    "FL_HISTORY_FIELDS",
    "FL_VOTER_FIELDS",
    "HISTORY_COLUMNS",
    "LAYOUTS",
    "VOTER_COLUMNS",
    "ContactCodes",
    "FieldCounts",
    "FieldError",
    "KnownDigests",
    "LayoutError",
    "ParsedBatch",
    "RejectedLine",
    "file_size",
    "read_assignment_batches",
    "read_contact_batches",
    "read_history_batches",
    "read_raw_lines",
    "read_voter_batches",
]
