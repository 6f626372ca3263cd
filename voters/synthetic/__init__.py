"""A synthetic county, reproducible from a seed: voter file, vote history, a past experiment and
the campaign's contact history.

README. Used by the `demo` command, by tests (small counties) and by benchmarks (millions of rows).
`generate_county(out_dir, voters=..., seed=...)` writes, into `out_dir`:

- `voters.csv` and `history.csv`: the generic layout (DESIGN §4.2); history holds one row per vote
  cast, plus a few rows for voter ids that are not in the voter file (the importer counts orphans).
  The voter file also has a `vanid` column (kept in `extra`; VAN exports name voters by it).
- `ncvoter.txt` and `ncvhis.txt`: the same people in the NC State Board of Elections current
  layout (tab-separated, 67 and 15 columns, see LAYOUTS.md), with some of the state's mess (double
  spaces in addresses, literal quotes in names, placeholder phones).
- `assignments_gotv_doors_general.csv` and `program.json`: a household-randomized GOTV experiment
  assigned a few weeks before the most recent past general election.
- `contacts.csv` (generic contacts layout): door knocks, calls, texts and emails of that general's
  cycle and the municipal election after it, with canvassers, the program's door knocks (treated
  arms only, between assignment and election day), support answers (`question=support`,
  `answer=1..5`) on a share of conversations, and opt-outs (door "do not contact", text STOP,
  email unsubscribe); a few rows name voters not in the file.
- `van_contact_history.xls` and `van_survey_responses.xls`: the cycle before, as VAN's Contact
  History and Survey Response reports (tab-separated UTF-16 with a BOM, M/D/YYYY dates).
- `ground_truth.csv`: what no real file has, kept so tests can grade later models: for every voter
  the true probability of voting in the program's general without contact (`base_turnout_prob`), the
  true effect of every variant in percentage points (even arms the voter did not get), the arm and
  the realized outcome (empty for voters not registered in time for that election); and the hidden
  support propensity: `support_latent`, the probability of each answer `p_support_1..5`, and
  `p_support` = P(answer 1 or 2), what a support model should predict.

Everything is drawn with numpy in chunks of voters, so memory stays bounded; Faker only supplies the
name pools. Same seed and same arguments give byte-identical files.

`CountyFiles.contacts` counts what the contact files hold, so tests can check an import exactly.

Modules: `codes` (layouts and codes), `calendar` (elections), `population` (streets, households,
voters), `turnout` (history and the experiment's true effects), `support` (the hidden support
propensity), `contacts` (the contact history's drives), `van` (VAN report exports), `render`
(polars frames per layout), `county` (writing files chunk by chunk).
"""

from voters.synthetic.calendar import Election, election_calendar
from voters.synthetic.codes import (
    AREA_CODES,
    ARMS,
    CONTROL,
    DEFAULT_SEED,
    GENERIC_CONTACT_COLUMNS,
    GENERIC_HISTORY_COLUMNS,
    GENERIC_VOTER_COLUMNS,
    NC_HISTORY_COLUMNS,
    NC_VOTER_COLUMNS,
    PROGRAM_NAME,
    VARIANTS,
)
from voters.synthetic.county import ContactTotals, CountyFiles, generate_county, write_nc_voter_file
from voters.synthetic.render import voter_ids
from voters.synthetic.support import answer_probabilities
from voters.synthetic.turnout import true_effects
from voters.synthetic.van import VAN_CONTACT_COLUMNS, VAN_RESPONSE_COLUMNS, van_ids

__all__ = [
    "AREA_CODES",
    "ARMS",
    "CONTROL",
    "DEFAULT_SEED",
    "GENERIC_CONTACT_COLUMNS",
    "GENERIC_HISTORY_COLUMNS",
    "GENERIC_VOTER_COLUMNS",
    "NC_HISTORY_COLUMNS",
    "NC_VOTER_COLUMNS",
    "PROGRAM_NAME",
    "VAN_CONTACT_COLUMNS",
    "VAN_RESPONSE_COLUMNS",
    "VARIANTS",
    "ContactTotals",
    "CountyFiles",
    "Election",
    "answer_probabilities",
    "election_calendar",
    "generate_county",
    "true_effects",
    "van_ids",
    "voter_ids",
    "write_nc_voter_file",
]
