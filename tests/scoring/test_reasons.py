"""The bulk reason renderer against the plain per-voter path it replaces."""

import json

import numpy as np
import pytest
from django.db import transaction

from scoring.features import COLUMN, DESCRIBE, SPEC, FeatureMatrix
from scoring.ml import top_reasons
from scoring.models import VoterScore
from scoring.reasons import ReasonRenderer, by_model
from scoring.services.runs import ChunkScores, _write_scores, uplift_json
from tests.factories import ScoringRunFactory, VoterFactory


def _matrix(n: int, seed: int) -> FeatureMatrix:
    rng = np.random.default_rng(seed)
    # Few distinct values per column, as real features have, and NaN (missing) here and there.
    values = rng.integers(0, 5, size=(n, len(SPEC.names))).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    values[:, COLUMN["age"]] = rng.integers(18, 95, size=n)
    values[:, COLUMN["precinct_turnout"]] = rng.random(n).astype(np.float32)
    return FeatureMatrix(voter_pks=np.arange(1, n + 1, dtype=np.int64), values=values, spec=SPEC)


def _one_by_one(contributions, matrix, scale=None, rows=None) -> list[list[tuple[str, float]]]:
    """What each voter's reasons are, computed the obvious way."""
    return [
        top_reasons(
            contributions[i],
            matrix.row(i if rows is None else int(rows[i])),
            SPEC.names,
            DESCRIBE,
            k=3,
            scale=1.0 if scale is None else float(scale[i]),
        )
        for i in range(len(contributions))
    ]


def test_bulk_reasons_equal_the_per_voter_path_model_by_model_and_row_by_row():
    n, f = 400, len(SPEC.names)
    matrix = _matrix(n, seed=1)
    rng = np.random.default_rng(2)
    turnout = rng.normal(size=(n, f)).astype(np.float32)
    turnout[rng.random((n, f)) < 0.85] = 0  # many rows with fewer than 3 non-zero reasons
    turnout[:5] = 0  # and some with none at all
    scale = rng.random(n)
    uplift_rows = np.sort(rng.choice(n, size=150, replace=False))
    uplift = rng.normal(size=(150, f)).astype(np.float32)

    renderer = ReasonRenderer(per_model=3)
    parts = [
        renderer.parts("uplift a", uplift, matrix, SPEC.names, rows=uplift_rows),
        renderer.parts("turnout", turnout, matrix, SPEC.names, scale=scale),
    ]
    rendered = [by_model(json.loads(text)) for text in renderer.render(n, parts)]

    expected = [{} for _ in range(n)]
    for i, found in zip(uplift_rows, _one_by_one(uplift, matrix, rows=uplift_rows), strict=True):
        expected[i]["uplift a"] = found
    for i, found in enumerate(_one_by_one(turnout, matrix, scale=scale)):
        if found:
            expected[i]["turnout"] = found
    assert len(rendered) == n
    for got, want in zip(rendered, expected, strict=True):
        assert {m: [t for t, _ in r] for m, r in got.items()} == {
            m: [t for t, _ in r] for m, r in want.items()
        }
        for model, reasons in got.items():
            assert np.allclose([v for _, v in reasons], [v for _, v in want[model]], atol=1e-4)
    quiet = sorted(set(range(5)) - set(uplift_rows.tolist()))
    assert quiet
    assert all(rendered[i] == {} for i in quiet)  # no non-zero contribution: no reason
    assert sum(len(r) for row in rendered for r in row.values()) > n  # real lists compared


def test_count_reasons_read_both_counts_so_the_cache_keeps_them_apart():
    matrix = _matrix(2, seed=3)
    voted, eligible = COLUMN["general_voted"], COLUMN["general_eligible"]
    matrix.values[:, voted] = 1
    matrix.values[:, eligible] = [2, 4]  # same "voted" value, different words
    contributions = np.zeros((2, len(SPEC.names)), dtype=np.float32)
    contributions[:, voted] = 0.5

    renderer = ReasonRenderer()
    texts = renderer.render(2, [renderer.parts("turnout", contributions, matrix, SPEC.names)])

    assert [json.loads(t)["turnout"][0][0] for t in texts] == [
        "voted in 1 of the last 2 general elections",
        "voted in 1 of the last 4 general elections",
    ]


def test_uplift_json_is_each_arms_uplift_rounded():
    tau = np.array([[0.012345678, -0.5], [0.0, 1e-7]], dtype=np.float32)

    texts = uplift_json(["civic", 'say "hi"'], tau)

    assert [json.loads(t) for t in texts] == [
        {"civic": 0.01235, 'say "hi"': -0.5},
        {"civic": 0.0, 'say "hi"': 0.0},
    ]
    assert uplift_json([], np.zeros((3, 0))) == ["{}", "{}", "{}"]


def test_chunk_scores_rows_round_trip_their_json():
    scores = ChunkScores(
        voter_ids=np.array([7, 9]),
        turnout=np.array([0.25, 0.5]),
        support=np.array([np.nan, 0.75]),
        uplift=['{"a": 0.01}', '{"a": -0.02}'],
        best_arm=["a", "control"],
        is_backlash=np.array([False, True]),
        reasons=['{"turnout": [["age 23", -0.05]]}', "{}"],
    )

    assert scores.rows() == [
        {
            "voter_id": 7,
            "turnout": 0.25,
            "support": None,
            "uplift": {"a": 0.01},
            "best_arm": "a",
            "is_backlash": False,
            "reasons": {"turnout": [["age 23", -0.05]]},
        },
        {
            "voter_id": 9,
            "turnout": 0.5,
            "support": 0.75,
            "uplift": {"a": -0.02},
            "best_arm": "control",
            "is_backlash": True,
            "reasons": {},
        },
    ]
    frame = scores.frame(run_id=3)
    assert frame["support"].to_list() == [None, 0.75]
    assert frame["run_id"].to_list() == [3, 3]


@pytest.mark.django_db
def test_the_copy_of_a_chunk_keeps_awkward_arm_names_and_texts_exactly():
    run = ScoringRunFactory()
    voters = VoterFactory.create_batch(3, campaign=run.campaign)
    arms = ["tab\there", 'back\\slash "quoted"', "line\nbreak"]
    reasons = [
        {"turnout": [['age 23 \\ "x"\t', -0.05]]},
        {},
        {"uplift line\nbreak": [["é ü", 0.5]], "turnout": [["age 99", 0.25]]},
    ]
    scores = ChunkScores(
        voter_ids=np.array([v.pk for v in voters]),
        turnout=np.array([0.25, 0.5, 0.125]),
        support=np.array([np.nan, 0.75, np.nan]),
        uplift=uplift_json(arms, np.array([[0.5, -0.25, 0.0]] * 3)),
        best_arm=arms,
        is_backlash=np.array([False, True, False]),
        reasons=[json.dumps(r) for r in reasons],
    )

    with transaction.atomic():
        _write_scores(run.pk, scores)

    stored = list(
        VoterScore.objects.filter(run=run)
        .order_by("voter_id")
        .values_list("turnout", "support", "uplift", "best_arm", "is_backlash", "reasons")
    )
    uplift = dict(zip(arms, [0.5, -0.25, 0.0], strict=True))
    assert stored == [
        (0.25, None, uplift, arms[0], False, reasons[0]),
        (0.5, 0.75, uplift, arms[1], True, reasons[1]),
        (0.125, None, uplift, arms[2], False, reasons[2]),
    ]


@pytest.mark.django_db
def test_the_copy_of_a_chunk_keeps_arm_names_like_nulls_and_control_characters_exactly():
    run = ScoringRunFactory()
    voters = VoterFactory.create_batch(4, campaign=run.campaign)
    arms = ["\\N", "start\x01quote", "carriage\rreturn", ""]
    scores = ChunkScores(
        voter_ids=np.array([v.pk for v in voters]),
        turnout=np.array([0.25, 0.5, 0.125, 1.0]),
        support=np.array([np.nan, 0.75, np.nan, 0.0]),
        uplift=uplift_json(arms[:3], np.array([[0.5, -0.25, 0.0]] * 4)),
        best_arm=arms,
        is_backlash=np.array([False, True, False, False]),
        reasons=[json.dumps({f"uplift {arm}": [[arm, 0.5]]}) for arm in arms],
    )

    with transaction.atomic():
        _write_scores(run.pk, scores)

    stored = list(
        VoterScore.objects.filter(run=run)
        .order_by("voter_id")
        .values_list("support", "uplift", "best_arm", "reasons")
    )
    uplift = dict(zip(arms[:3], [0.5, -0.25, 0.0], strict=True))
    assert stored == [
        (None, uplift, "\\N", {"uplift \\N": [["\\N", 0.5]]}),
        (0.75, uplift, "start\x01quote", {"uplift start\x01quote": [["start\x01quote", 0.5]]}),
        (
            None,
            uplift,
            "carriage\rreturn",
            {"uplift carriage\rreturn": [["carriage\rreturn", 0.5]]},
        ),
        (0.0, uplift, "", {"uplift ": [["", 0.5]]}),
    ]


def test_by_model_reads_both_the_grouped_and_the_older_flat_reasons():
    grouped = {"turnout": [["age 23", -0.05], ["1 voters in household", 0.01]]}
    flat = [
        {"model": "turnout", "text": "age 23", "value": -0.05},
        {"model": "turnout", "text": "1 voters in household", "value": 0.01},
    ]
    expected = {"turnout": [("age 23", -0.05), ("1 voters in household", 0.01)]}
    assert by_model(grouped) == by_model(flat) == expected
