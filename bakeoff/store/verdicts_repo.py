"""Verdicts on a run's answers: people's votes and LLM judges' judgments."""

from __future__ import annotations

from dataclasses import asdict

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakeoff.records import Judgment, Vote
from bakeoff.store.engine import fit_row, retry_locked
from bakeoff.store.rows import judgment_to_row, row_to_judgment, row_to_vote
from bakeoff.store.schema import judgments, votes


@retry_locked
def save_vote(engine: Engine, vote: Vote) -> None:
    """Record a vote; a new vote on the same pair of the same run replaces the earlier one."""
    pair = sa.and_(
        votes.c.run_id == vote.run_id,
        sa.or_(
            sa.and_(votes.c.model_a == vote.model_a, votes.c.model_b == vote.model_b),
            sa.and_(votes.c.model_a == vote.model_b, votes.c.model_b == vote.model_a),
        ),
    )
    with engine.begin() as conn:
        conn.execute(sa.delete(votes).where(pair))
        conn.execute(sa.insert(votes).values(**fit_row(votes, asdict(vote), conn.dialect.name)))


@retry_locked
def save_judgment(engine: Engine, j: Judgment) -> None:
    row = judgment_to_row(j)
    with engine.begin() as conn:
        conn.execute(sa.delete(judgments).where(judgments.c.judgment_id == j.judgment_id))
        conn.execute(sa.insert(judgments).values(**fit_row(judgments, row, conn.dialect.name)))


def votes_for(engine: Engine, run_id: str) -> list[Vote]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(votes).where(votes.c.run_id == run_id)).mappings().all()
    return [row_to_vote(r) for r in rows]


def list_votes(engine: Engine, *, blind_only: bool = False) -> list[Vote]:
    """Every vote, oldest first (the leaderboard fits them all)."""
    q = sa.select(votes).order_by(votes.c.created_at, votes.c.vote_id)
    if blind_only:
        q = q.where(votes.c.blind.is_(True))
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [row_to_vote(r) for r in rows]


def judgments_for(engine: Engine, run_id: str) -> list[Judgment]:
    """A run's judgments, oldest judging first, each in the run's answer order."""
    q = (
        sa.select(judgments)
        .where(judgments.c.run_id == run_id)
        .order_by(judgments.c.created_at, judgments.c.batch_id, judgments.c.position)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [row_to_judgment(r) for r in rows]


def list_judgments(engine: Engine, *, mode: str | None = None, judge_model: str | None = None) -> list[Judgment]:
    q = sa.select(judgments).order_by(judgments.c.created_at, judgments.c.batch_id, judgments.c.position)
    if mode is not None:
        q = q.where(judgments.c.mode == mode)
    if judge_model is not None:
        q = q.where(judgments.c.judge_model == judge_model)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [row_to_judgment(r) for r in rows]
