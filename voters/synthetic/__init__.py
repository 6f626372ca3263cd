"""A synthetic county, reproducible from a seed: voter file, vote history and a past experiment.

README. Used by the `demo` command, by tests (small counties) and by benchmarks (millions of rows).
`generate_county(out_dir, voters=..., seed=...)` writes, into `out_dir`:

- `voters.csv` and `history.csv`: the generic layout (DESIGN §4.2); history holds one row per vote
  cast, plus a few rows for voter ids that are not in the voter file (the importer counts orphans).
- `ncvoter.txt` and `ncvhis.txt`: the same people in the NC State Board of Elections current
  layout (tab-separated, 67 and 15 columns, see LAYOUTS.md), with some of the state's mess (double
  spaces in addresses, literal quotes in names, placeholder phones).
- `program_assignments.csv` and `program.json`: a household-randomized GOTV experiment assigned a
  few weeks before the most recent past general election.
- `ground_truth.csv`: what no real file has, kept so tests can grade later models: for every voter
  the true probability of voting in the program's general without contact (`base_turnout_prob`), the
  true effect of every variant in percentage points (even arms the voter did not get), the arm and
  the realized outcome. Voters not registered in time for that election have empty values.

Everything is drawn with numpy in chunks of voters, so memory stays bounded; Faker only supplies the
name pools. Same seed and same arguments give byte-identical files.

Modules: `codes` (layouts and codes), `calendar` (elections), `population` (streets, households,
voters), `turnout` (history and the experiment's true effects), `render` (polars frames per layout),
`county` (writing files chunk by chunk).
"""

from voters.synthetic.calendar import Election, election_calendar
from voters.synthetic.codes import (
    AREA_CODES,
    ARMS,
    CONTROL,
    DEFAULT_SEED,
    GENERIC_HISTORY_COLUMNS,
    GENERIC_VOTER_COLUMNS,
    NC_HISTORY_COLUMNS,
    NC_VOTER_COLUMNS,
    PROGRAM_NAME,
    VARIANTS,
)
from voters.synthetic.county import CountyFiles, generate_county, write_nc_voter_file
from voters.synthetic.render import voter_ids
from voters.synthetic.turnout import true_effects

__all__ = [
    "AREA_CODES",
    "ARMS",
    "CONTROL",
    "DEFAULT_SEED",
    "GENERIC_HISTORY_COLUMNS",
    "GENERIC_VOTER_COLUMNS",
    "NC_HISTORY_COLUMNS",
    "NC_VOTER_COLUMNS",
    "PROGRAM_NAME",
    "VARIANTS",
    "CountyFiles",
    "Election",
    "election_calendar",
    "generate_county",
    "true_effects",
    "voter_ids",
    "write_nc_voter_file",
]
