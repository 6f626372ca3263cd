"""Scoring's read queries used by the admin, called directly (`scoring.selectors`)."""

from __future__ import annotations

import datetime as dt

import pytest

from scoring.models import ScoringRun
from scoring.selectors import approved_peer, latest_voter_score, voters_done
from tests.factories import (
    ModelVersionFactory,
    ScoringChunkFactory,
    ScoringRunFactory,
    VoterFactory,
    VoterScoreFactory,
)

pytestmark = pytest.mark.django_db


def test_approved_peer_is_the_approved_version_of_the_same_kind(campaign, other_campaign):
    old = ModelVersionFactory(campaign=campaign, approved=True)
    old.approved_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    old.save()
    current = ModelVersionFactory(campaign=campaign, approved=True)
    ModelVersionFactory(campaign=campaign, persuasion=True, approved=True)
    ModelVersionFactory(campaign=other_campaign, approved=True)
    draft = ModelVersionFactory(campaign=campaign)

    assert approved_peer(draft) == current
    assert approved_peer(current) is None


def test_voters_done_counts_finished_chunks_only(campaign):
    run = ScoringRunFactory(campaign=campaign, status="running")
    ScoringChunkFactory(run=run, voters=50)
    ScoringChunkFactory(run=run, voters=30)
    ScoringChunkFactory(run=run, voters=20, done_at=None)
    idle = ScoringRunFactory(campaign=campaign, status="queued")

    done = dict(ScoringRun.objects.annotate(n=voters_done()).values_list("pk", "n"))

    assert done == {run.pk: 80, idle.pk: 0}


def test_latest_voter_score_is_from_the_latest_complete_run(campaign):
    voter = VoterFactory(campaign=campaign)
    older = ScoringRunFactory(
        campaign=campaign, finished_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    )
    latest = ScoringRunFactory(
        campaign=campaign, finished_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    )
    failed = ScoringRunFactory(campaign=campaign, status="failed")
    VoterScoreFactory(run=older, voter=voter, turnout=0.1)
    VoterScoreFactory(run=latest, voter=voter, turnout=0.625)
    VoterScoreFactory(run=failed, voter=voter, turnout=0.9)

    score = latest_voter_score(voter.pk)

    assert (score.run_id, score.turnout) == (latest.pk, 0.625)
    assert latest_voter_score(VoterFactory(campaign=campaign).pk) is None
