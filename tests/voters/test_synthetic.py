"""The synthetic county: shapes, invariants and the learnability the scoring tests will rely on.

Plain pytest, no database: `pytest -p no:django tests/voters/test_synthetic.py`.
"""

import csv
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from voters.synthetic import (
    AREA_CODES,
    ARMS,
    GENERIC_HISTORY_COLUMNS,
    GENERIC_VOTER_COLUMNS,
    NC_HISTORY_COLUMNS,
    NC_VOTER_COLUMNS,
    VARIANTS,
    CountyFiles,
    election_calendar,
    generate_county,
    write_nc_voter_file,
)

SMALL = 2_000


def _read(path: Path) -> pl.DataFrame:
    separator = "\t" if path.suffix == ".txt" else ","
    return pl.read_csv(path, separator=separator, infer_schema_length=0, quote_char=None
                       if separator == "\t" else '"')  # fmt: skip


def _auc(score: np.ndarray, outcome: np.ndarray) -> float:
    """Mann-Whitney AUC from ranks (ties are rare with continuous scores)."""
    ranks = score.argsort(kind="stable").argsort() + 1
    positives = outcome.astype(bool)
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _van_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    assert raw[:2] == b"\xff\xfe"  # UTF-16 little-endian byte-order mark
    text = raw[2:].decode("utf-16-le")
    assert text.endswith("\r\n")
    return text.split("\r\n")[:-1]


def _van_rows(path: Path) -> list[dict[str, str]]:
    header, *lines = _van_lines(path)
    names = header.split("\t")
    return [dict(zip(names, line.split("\t"), strict=True)) for line in lines]


def _answers(county: CountyFiles) -> pl.DataFrame:
    """Support answers of voters in the file, from both files, with their hidden propensity."""
    generic = (
        _read(county.contacts_csv)
        .filter(pl.col("question") == "support")
        .select("voter_id", pl.col("answer").cast(pl.Int64))
    )
    vanids = _read(county.voters_csv).select("voter_id", "vanid")
    van = pl.DataFrame(_van_rows(county.van_responses_xls)).select(
        pl.col("Voter File VANID").alias("vanid"),
        pl.col("Survey Response").str.slice(0, 1).cast(pl.Int64).alias("answer"),
    )
    van = van.join(vanids, on="vanid").select("voter_id", "answer")
    truth = _read(county.ground_truth_csv).select(
        "voter_id", pl.col("p_support").cast(pl.Float64), pl.col("support_latent").cast(pl.Float64)
    )
    return pl.concat([generic, van]).join(truth, on="voter_id")


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> CountyFiles:
    return generate_county(tmp_path_factory.mktemp("small"), voters=SMALL, seed=42)


@pytest.fixture(scope="module")
def big_county(tmp_path_factory) -> CountyFiles:
    # Several chunks, so household and id invariants are checked across chunk boundaries too.
    return generate_county(tmp_path_factory.mktemp("big"), voters=20_000, seed=7, chunk_rows=6_000)


def test_election_calendar_has_eight_years_and_a_future_target():
    elections, target = election_calendar(date(2025, 12, 1))

    assert len(elections) == 13
    assert elections[-1].on == date(2025, 11, 4)
    assert [e.on for e in elections if e.kind == "general"] == [
        date(2018, 11, 6), date(2020, 11, 3), date(2022, 11, 8), date(2024, 11, 5)
    ]  # fmt: skip
    assert {e.kind for e in elections} == {
        "general", "primary", "presidential_primary", "municipal", "special"
    }  # fmt: skip
    assert elections[8].label == "11/08/2022 GENERAL"
    assert elections[-1].label == "11/04/2025 MUNICIPAL GENERAL"
    assert target.on == date(2026, 11, 3)
    assert target.kind == "general"


def test_generate_county_writes_every_file_with_exact_counts(county):
    assert county.voters == SMALL
    for path in (
        county.voters_csv, county.history_csv, county.nc_voter_txt, county.nc_history_txt,
        county.assignments_csv, county.program_json, county.ground_truth_csv,
        county.contacts_csv, county.van_contacts_xls, county.van_responses_xls,
    ):  # fmt: skip
        assert path.exists()
    assert _read(county.voters_csv).height == SMALL
    assert _read(county.nc_voter_txt).height == SMALL
    assert _read(county.ground_truth_csv).height == SMALL
    history_rows = county.history_rows + county.orphan_history_rows
    assert _read(county.history_csv).height == history_rows
    assert _read(county.nc_history_txt).height == history_rows
    assert _read(county.assignments_csv).height == county.assigned_voters
    totals = county.contacts
    assert _read(county.contacts_csv).height == totals.rows + totals.orphan_rows
    assert len(_van_rows(county.van_contacts_xls)) == totals.van_rows + totals.van_orphan_rows
    assert len(_van_rows(county.van_responses_xls)) == totals.van_answers


def test_headers_are_exactly_the_layouts(county):
    def header(path: Path, separator: str) -> list[str]:
        with path.open() as handle:
            return handle.readline().rstrip("\n").split(separator)

    assert header(county.voters_csv, ",") == list(GENERIC_VOTER_COLUMNS)
    assert header(county.history_csv, ",") == list(GENERIC_HISTORY_COLUMNS)
    assert header(county.nc_voter_txt, "\t") == list(NC_VOTER_COLUMNS)
    assert len(NC_VOTER_COLUMNS) == 67
    assert header(county.nc_history_txt, "\t") == list(NC_HISTORY_COLUMNS)
    assert len(NC_HISTORY_COLUMNS) == 15
    assert header(county.assignments_csv, ",") == ["voter_id", "arm", "assigned_at"]
    assert header(county.ground_truth_csv, ",") == [
        "voter_id", "household_id", "base_turnout_prob",
        *(f"true_effect_{v}" for v in VARIANTS), "assigned_arm", "voted_outcome",
        "support_latent", *(f"p_support_{k}" for k in range(1, 6)), "p_support",
    ]  # fmt: skip
    assert header(county.contacts_csv, ",") == [
        "voter_id", "occurred_at", "channel", "result", "program", "arm", "variant", "question",
        "answer", "canvasser", "note",
    ]  # fmt: skip
    assert GENERIC_VOTER_COLUMNS[-1] == "vanid"
    assert county.assignments_csv.name == "assignments_gotv_doors_general.csv"


def test_every_nc_row_has_67_tab_fields(county):
    lines = county.nc_voter_txt.read_text().split("\n")
    assert lines[-1] == ""
    assert {line.count("\t") for line in lines[:-1]} == {66}
    assert {line.count("\t") for line in county.nc_history_txt.read_text().split("\n")[:-1]} == {14}


def test_voter_ids_are_unique_and_shared_by_both_layouts(big_county):
    generic = _read(big_county.voters_csv)
    nc = _read(big_county.nc_voter_txt)

    assert generic["voter_id"].n_unique() == 20_000
    assert generic["voter_id"].to_list() == nc["ncid"].to_list()
    assert generic["voter_id"].str.contains(r"^[A-Z]{2}\d{6}$").all()
    assert nc["voter_reg_num"].n_unique() == 20_000


def test_generic_csv_is_readable_by_the_csv_module(county):
    with county.voters_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == SMALL
    assert {row["status"] for row in rows} <= {"active", "inactive", "removed"}
    assert {row["party"] for row in rows} <= {"dem", "rep", "una", "lib", "grn"}
    assert all(row["birth_date"] <= row["registration_date"] for row in rows)


def test_history_elections_are_declared_and_never_before_registration(big_county):
    voters = _read(big_county.voters_csv).select("voter_id", "registration_date")
    history = _read(big_county.history_csv)
    declared = {e.on.isoformat(): e.kind for e in big_county.elections}

    assert set(history["election_date"].unique()) <= set(declared)
    assert big_county.target_election.on.isoformat() not in set(history["election_date"])
    assert {
        (d, t) for d, t in history.select("election_date", "election_type").unique().rows()
    } <= set(declared.items())
    joined = history.join(voters, on="voter_id", how="inner")
    assert joined.height == big_county.history_rows
    assert (joined["registration_date"] < joined["election_date"]).all()
    assert history.select(pl.struct("voter_id", "election_date").is_unique().all()).item()


def test_orphan_history_rows_name_voters_not_in_the_file(big_county):
    voters = _read(big_county.voters_csv).select("voter_id")
    orphans = _read(big_county.history_csv).join(voters, on="voter_id", how="anti")
    assert orphans.height == big_county.orphan_history_rows
    assert orphans.height >= 50


def test_households_have_one_to_six_voters_at_one_address(big_county):
    truth = _read(big_county.ground_truth_csv)
    voters = _read(big_county.voters_csv).join(
        truth.select("voter_id", "household_id"), on="voter_id"
    )
    sizes = voters.group_by("household_id").len()["len"]
    assert sizes.min() >= 1
    assert sizes.max() <= 6
    assert sizes.len() == big_county.households
    address = pl.concat_str(
        ["house_number", "street", "unit", "zip"], separator="|", ignore_nulls=True
    )
    per_household = voters.group_by("household_id").agg(address.n_unique().alias("addresses"))
    assert (per_household["addresses"] == 1).all()
    # Distinct households never share an address, so the importer's address key finds them.
    assert voters.select(address.alias("a"))["a"].n_unique() == big_county.households


def test_arms_are_randomized_by_household_with_a_quarter_in_control(big_county):
    truth = _read(big_county.ground_truth_csv).drop_nulls("assigned_arm")
    per_household = truth.group_by("household_id").agg(pl.col("assigned_arm").n_unique())
    assert (per_household["assigned_arm"] == 1).all()
    arms = truth.group_by("household_id").agg(pl.col("assigned_arm").first())["assigned_arm"]
    assert set(arms.unique()) == set(ARMS)
    assert abs((arms == "control").mean() - 0.25) < 0.03
    assignments = _read(big_county.assignments_csv)
    assert set(assignments["assigned_at"].unique()) == {big_county.program_assigned_on.isoformat()}
    assert assignments.height == truth.height


def test_assignments_cover_only_voters_active_and_registered_before_assignment(big_county):
    voters = _read(big_county.voters_csv)
    assigned = _read(big_county.assignments_csv).join(voters, on="voter_id")
    assert set(assigned["status"].unique()) == {"active"}
    assert (assigned["registration_date"] <= big_county.program_assigned_on.isoformat()).all()


def test_program_json_describes_the_experiment(county):
    program = json.loads(county.program_json.read_text())
    assert program == {
        "name": "gotv_doors_general",
        "assigned_on": "2024-10-12",
        "arms": ["control", "civic_duty", "social_pressure", "neighbors", "plan_making"],
        "control_arm": "control",
        "control_share": 0.25,
        "election_date": "2024-11-05",
        "household_randomized": True,
    }
    assert county.program_election.on == date(2024, 11, 5)


def test_true_propensity_predicts_the_last_general(big_county):
    truth = _read(big_county.ground_truth_csv).drop_nulls("base_turnout_prob")
    probability = truth["base_turnout_prob"].cast(pl.Float64).to_numpy()
    outcome = truth["voted_outcome"].cast(pl.Int8).to_numpy()

    assert _auc(probability, outcome) > 0.7
    assert 0.5 < outcome.mean() < 0.8


def test_turnout_is_learnable_from_observable_history(big_county):
    # Past generals alone already rank voters well: a fitted model should do better still.
    program_day = big_county.program_election.on.isoformat()
    history = _read(big_county.history_csv)
    past = (
        history.filter(pl.col("election_date") < program_day)
        .group_by("voter_id")
        .agg(pl.len().alias("votes"))
    )
    truth = _read(big_county.ground_truth_csv).drop_nulls("voted_outcome")
    frame = truth.join(past, on="voter_id", how="left").with_columns(pl.col("votes").fill_null(0))
    rng = np.random.default_rng(0)
    score = frame["votes"].to_numpy() + rng.random(frame.height) * 0.1  # break ties at random
    assert _auc(score, frame["voted_outcome"].cast(pl.Int8).to_numpy()) > 0.7


def test_true_effects_change_sign_across_voter_types(county):
    truth = _read(county.ground_truth_csv).drop_nulls("base_turnout_prob")
    civic = truth["true_effect_civic_duty"].cast(pl.Float64)
    social = truth["true_effect_social_pressure"].cast(pl.Float64)
    neighbors = truth["true_effect_neighbors"].cast(pl.Float64)
    assert set(civic.unique()) == {1.0}
    assert social.max() == 6.0
    assert social.min() == -2.0
    assert neighbors.max() == 4.0
    assert neighbors.min() == -1.5


def test_arms_are_balanced_on_voter_types(big_county):
    truth = _read(big_county.ground_truth_csv).drop_nulls(["base_turnout_prob", "assigned_arm"])
    arm_means = dict(
        truth.group_by("assigned_arm")
        .agg(pl.col("true_effect_social_pressure").cast(pl.Float64).mean())
        .rows()
    )
    # Randomization balances voter types, so the expected effect is the same in every arm.
    assert max(arm_means.values()) - min(arm_means.values()) < 0.6


def test_phones_mix_valid_numbers_placeholders_and_malformed(big_county):
    phones = _read(big_county.voters_csv)["phone"]
    filled = phones.drop_nulls()
    assert 0.55 < filled.len() / phones.len() < 0.65
    digits = filled.filter(filled.str.contains(r"^\d{10}$") & (filled != "9999999999"))
    assert set(digits.str.slice(0, 3).unique()) <= set(AREA_CODES.tolist())
    assert (filled == "9999999999").sum() > 0
    assert (filled.str.len_chars() == 7).sum() > 0
    emails = _read(big_county.voters_csv)["email"].drop_nulls()
    assert 0.3 < emails.len() / phones.len() < 0.4
    assert emails.str.contains(r"^[a-z0-9._]+@[a-z.]+$").all()


def test_same_seed_gives_byte_identical_files(tmp_path):
    first = generate_county(tmp_path / "a", voters=1_500, seed=3, chunk_rows=700)
    second = generate_county(tmp_path / "b", voters=1_500, seed=3, chunk_rows=700)
    other = generate_county(tmp_path / "c", voters=1_500, seed=4, chunk_rows=700)

    for name in sorted(p.name for p in (tmp_path / "a").iterdir()):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "voters.csv").read_bytes() != (
        tmp_path / "c" / "voters.csv"
    ).read_bytes()
    assert first.households == second.households
    assert other.voters == 1_500


def test_write_nc_voter_file_streams_exact_rows(tmp_path):
    path = tmp_path / "ncvoter.txt"
    written = write_nc_voter_file(path, rows=1_000, seed=5, chunk_rows=300)

    lines = path.read_text().split("\n")
    assert written == 1_000
    assert len(lines) == 1_002  # 1,001 lines, each ending in a newline
    assert lines[-1] == ""
    assert lines[0].split("\t") == list(NC_VOTER_COLUMNS)
    assert {len(line.split("\t")) for line in lines[:-1]} == {67}
    ids = [line.split("\t")[3] for line in lines[1:-1]]
    assert len(set(ids)) == 1_000


def test_support_answers_follow_the_hidden_propensity(big_county):
    answers = _answers(big_county)
    assert answers.height == big_county.contacts.answers + big_county.contacts.van_answers
    by_decile = (
        answers.with_columns((pl.col("p_support").rank("ordinal") * 10 // (answers.height + 1))
                             .alias("decile"))
        .group_by("decile").agg(pl.col("answer").mean()).sort("decile")
    )  # fmt: skip
    means = by_decile["answer"].to_numpy()
    # Answer 1 is strong support: the more supportive the decile, the lower its mean answer.
    assert len(means) == 10
    assert (np.diff(means) < 0).all(), means
    assert means[0] - means[-1] > 2.0
    supports = (answers["answer"] <= 2).to_numpy()
    assert _auc(answers["p_support"].to_numpy(), supports) > 0.8
    # Informative but noisy: every answer turns up, and the truth does not determine it.
    assert set(answers["answer"].unique()) == {1, 2, 3, 4, 5}
    assert 0.3 < supports.mean() < 0.7


def test_true_support_probability_is_the_first_two_answers(county):
    truth = _read(county.ground_truth_csv)
    probs = np.column_stack(
        [truth[f"p_support_{k}"].cast(pl.Float64).to_numpy() for k in range(1, 6)]
    )
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    p_support = truth["p_support"].cast(pl.Float64).to_numpy()
    assert np.allclose(probs[:, 0] + probs[:, 1], p_support, atol=2e-6)
    latent = truth["support_latent"].cast(pl.Float64).to_numpy()
    assert (np.diff(p_support[latent.argsort()]) >= -1e-6).all()  # monotone in the latent


def _rate(contacts: pl.DataFrame, channel: str, result: str) -> float:
    on_channel = contacts.filter(pl.col("channel") == channel)
    return (on_channel["result"] == result).mean()


def test_contact_and_opt_out_rates_are_realistic(big_county):
    contacts = _read(big_county.contacts_csv)
    van = pl.DataFrame(_van_rows(big_county.van_contacts_xls))

    assert set(contacts["channel"].unique()) == {"door", "phone", "sms", "email"}
    assert 0.2 < _rate(contacts, "door", "contacted") < 0.4
    assert 0.1 < _rate(contacts, "phone", "contacted") < 0.25
    assert 0.001 < _rate(contacts, "door", "opted_out") < 0.01
    assert 0.015 < _rate(contacts, "sms", "opted_out") < 0.05
    assert 0.005 < _rate(contacts, "email", "opted_out") < 0.02
    assert 0.01 < _rate(contacts, "email", "bounced") < 0.05
    assert 0.02 < _rate(contacts, "sms", "failed") < 0.1
    # Opt-outs are recorded where people make them: a STOP, an unsubscribe, a "do not contact".
    notes = contacts.filter(pl.col("result") == "opted_out").group_by("channel", "note").len()
    assert {(c, n) for c, n, _ in notes.rows()} == {
        ("door", "do not contact"), ("sms", "STOP"), ("email", "unsubscribed")
    }  # fmt: skip
    allowed = {
        "door": {"contacted", "not_home", "refused", "moved", "deceased", "inaccessible",
                 "opted_out"},
        "phone": {"contacted", "not_home", "refused", "wrong_number"},
        "sms": {"delivered", "failed", "replied", "opted_out"},
        "email": {"delivered", "bounced", "opted_out"},
    }  # fmt: skip
    for channel, results in contacts.group_by("channel").agg(pl.col("result").unique()).rows():
        assert set(results) == allowed[channel], channel
    assert set(van["Contact Type"].unique()) == {"Walk", "Phone"}
    assert 0.2 < (van["Result"] == "Canvassed").mean() < 0.4


def test_answers_come_only_from_conversations(big_county):
    contacts = _read(big_county.contacts_csv)
    answered = contacts.filter(pl.col("question").is_not_null())
    assert set(answered["question"].unique()) == {"support"}
    assert set(answered["answer"].unique()) == {"1", "2", "3", "4", "5"}
    assert set(answered.select("channel", "result").unique().rows()) == {
        ("door", "contacted"), ("phone", "contacted")
    }  # fmt: skip
    asked = answered.height / contacts.filter(pl.col("result") == "contacted").height
    assert 0.4 < asked < 0.95  # GOTV doors of the program ask less often


def test_contact_rates_depend_on_age(big_county):
    voters = _read(big_county.voters_csv).select(
        "voter_id", pl.col("birth_date").str.slice(0, 4).cast(pl.Int64).alias("born")
    )
    doors = (
        _read(big_county.contacts_csv)
        .filter(pl.col("channel") == "door")
        .join(voters, on="voter_id")
    )
    rate = doors.group_by(pl.col("born") < 1960).agg((pl.col("result") == "contacted").mean())
    young, old = dict(rate.rows())[False], dict(rate.rows())[True]
    assert old > young + 0.05


def test_contacts_are_distinct_attempts_and_orphans_are_counted(big_county):
    contacts = _read(big_county.contacts_csv)
    key = ["voter_id", "channel", "occurred_at", "result", "program", "arm", "canvasser"]
    assert contacts.select(pl.struct(key).is_unique().all()).item()
    voters = _read(big_county.voters_csv)
    assert contacts.join(voters, on="voter_id", how="anti").height == (
        big_county.contacts.orphan_rows
    )
    assert contacts["occurred_at"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$").all()
    assert (contacts["occurred_at"] < big_county.as_of.isoformat()).all()
    # VAN dates carry no time: one row per voter, day and channel, one answer per voter and day.
    van = pl.DataFrame(_van_rows(big_county.van_contacts_xls))
    assert van.select(
        pl.struct("Voter File VANID", "Date Canvassed", "Contact Type").is_unique().all()
    ).item()
    responses = pl.DataFrame(_van_rows(big_county.van_responses_xls))
    assert responses.select(
        pl.struct("Voter File VANID", "Date Canvassed").is_unique().all()
    ).item()
    assert van.join(voters, left_on="Voter File VANID", right_on="vanid", how="anti").height == (
        big_county.contacts.van_orphan_rows
    )
    totals = big_county.contacts
    assert sum(totals.by_result.values()) == totals.rows + totals.van_rows
    assert (
        totals.opt_outs("sms")
        == contacts.filter((pl.col("channel") == "sms") & (pl.col("result") == "opted_out")).height
    )


def test_program_doors_agree_with_the_assignments(big_county):
    contacts = _read(big_county.contacts_csv)
    assignments = _read(big_county.assignments_csv)
    program = contacts.filter(pl.col("program") == big_county.program_name)
    assert program.height == big_county.contacts.program_rows > 0
    assert set(program["channel"].unique()) == {"door"}
    # Every knock of the program carries the voter's assigned arm; control is never knocked.
    joined = program.join(assignments, on="voter_id", how="left", suffix="_assigned")
    assert joined["arm_assigned"].null_count() == 0
    assert (joined["arm"] == joined["arm_assigned"]).all()
    assert (joined["variant"] == joined["arm"]).all()
    assert "control" not in set(program["arm"].unique())
    assert set(program["arm"].unique()) == set(VARIANTS)
    start = big_county.program_assigned_on.isoformat()
    end = big_county.program_election.on.isoformat()
    assert (program["occurred_at"] > start).all()
    assert (program["occurred_at"] < end).all()
    control = assignments.filter(pl.col("arm") == "control")["voter_id"]
    in_window = contacts.filter(
        (pl.col("channel") == "door") & (pl.col("occurred_at") > start)
        & (pl.col("occurred_at") < end)
    )  # fmt: skip
    assert in_window.filter(pl.col("voter_id").is_in(control.implode())).height == 0
    # Every treated voter is knocked, unless they said "do not contact" at an earlier door (in
    # this file or in the VAN export of the cycle before).
    treated = set(assignments.filter(pl.col("arm") != "control")["voter_id"])
    refused = set(
        contacts.filter((pl.col("channel") == "door") & (pl.col("result") == "opted_out")
                        & (pl.col("occurred_at") < start))["voter_id"]
    )  # fmt: skip
    van_refused = pl.DataFrame(_van_rows(big_county.van_contacts_xls)).filter(
        pl.col("Result") == "Do Not Contact"
    )
    vanids = _read(big_county.voters_csv).select("voter_id", "vanid")
    refused |= set(
        van_refused.join(vanids, left_on="Voter File VANID", right_on="vanid")["voter_id"]
    )
    assert set(program["voter_id"]) == treated - refused


def test_van_files_are_utf16_tab_separated_reports(county):
    contact_lines = _van_lines(county.van_contacts_xls)
    response_lines = _van_lines(county.van_responses_xls)

    assert contact_lines[0].split("\t") == [
        "Voter File VANID", "Contact Name", "Date Canvassed", "Result", "Contact Type",
        "Canvassed By", "Created By", "Date Created", "Input Type Name", "MiniVAN Campaign",
    ]  # fmt: skip
    assert response_lines[0].split("\t") == [
        "Voter File VANID", "Contact Name", "Date Canvassed", "Survey Response",
        "Survey Question Name", "Survey Question Type", "Canvassed By", "Contact Type",
    ]  # fmt: skip
    assert {line.count("\t") for line in contact_lines} == {9}
    assert {line.count("\t") for line in response_lines} == {7}
    contacts, responses = _van_rows(county.van_contacts_xls), _van_rows(county.van_responses_xls)
    date = r"^\d{1,2}/\d{1,2}/\d{4}$"
    for row in contacts:
        assert re.match(date, row["Date Canvassed"])
        assert re.match(date, row["Date Created"])
        assert row["Voter File VANID"].isdigit()
        assert ", " in row["Contact Name"]
    assert {r["Survey Question Name"] for r in responses} == {"Support ID"}
    assert {r["Survey Response"] for r in responses} == {
        "1 - Strong Support", "2 - Lean Support", "3 - Undecided", "4 - Lean Oppose",
        "5 - Strong Oppose",
    }  # fmt: skip
    vanids = set(_read(county.voters_csv)["vanid"])
    assert {r["Voter File VANID"] for r in responses} <= vanids


def test_van_names_are_in_the_default_code_table(county):
    # The default mappings every campaign starts with: the VAN files import without edits.
    from voters import defaults

    contacts = _van_rows(county.van_contacts_xls)
    assert {r["Result"] for r in contacts} <= set(defaults.VAN_RESULTS)
    assert {r["Contact Type"] for r in contacts} <= set(defaults.VAN_CONTACT_TYPES)
    assert "Support ID" in defaults.VAN_SUPPORT_QUESTIONS


def test_vanids_are_unique_and_only_in_the_generic_file(big_county):
    voters = _read(big_county.voters_csv)
    assert voters["vanid"].n_unique() == voters.height
    assert voters["vanid"].str.contains(r"^\d{9}$").all()
    assert "vanid" not in NC_VOTER_COLUMNS
