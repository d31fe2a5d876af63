"""The store's tables as SQLAlchemy Core metadata: the one description of what the database holds.

Migrations (migrations.py) create and extend these tables; repositories read and write them. No secrets
are stored: rows hold model names, settings and outputs only.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from bakeoff.records import RESULT_FIELDS_IN_ORDER, Carry

metadata = sa.MetaData()

migrations_table = sa.Table(
    "migrations",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("reference", sa.Text),
    sa.Column("model_refs", sa.Text, nullable=False),  # JSON list
    sa.Column("params", sa.Text, nullable=False),  # JSON of Params
    sa.Column("assertions", sa.Text),  # JSON list of the user's checks (migration 2)
    sa.Column("owner", sa.String(128)),  # host|pid|start of the process running it (migration 4, run_owner.py)
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),  # its last write (migration 4)
    sa.Column("conversation_id", sa.String(32), index=True),  # the conversation's first run (migration 5)
    sa.Column("turn", sa.Integer),  # 1-based user turn within the conversation (migration 5)
    sa.Column("history", sa.Text),  # JSON {model_ref: [{role, content}, ...]}: each model's thread (migration 5)
)

_RESULT_TYPES: dict[str, Callable[[], sa.types.TypeEngine]] = {
    "str": lambda: sa.String(255),
    "text": lambda: sa.Text(),
    "int": lambda: sa.BigInteger(),
    "float": lambda: sa.Float(),
    "decimal": lambda: sa.String(255),  # exact decimal text
    "date": lambda: sa.Date(),
    "json": lambda: sa.Text(),
}


def _result_columns(c: Carry) -> list[sa.Column]:
    """A Result field's columns; batch fields and checks/score_notes/item_metadata came with migrations 2-3."""
    if c.field == "result_id":
        return [sa.Column(c.field, sa.String(32), primary_key=True)]
    if c.field == "run_id":
        return [sa.Column(c.field, sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), index=True)]
    if c.kind == "error":
        return [
            sa.Column("error_class", sa.String(64)),
            sa.Column("error_message", sa.Text),
            sa.Column("error_http_status", sa.Integer),
            sa.Column("error_hint", sa.Text),
        ]
    return [sa.Column(c.field, _RESULT_TYPES[c.kind]())]


results = sa.Table(  # one row per answer: its columns come from records.RESULT_FIELDS
    "results",
    metadata,
    *[column for c in RESULT_FIELDS_IN_ORDER if c.stored for column in _result_columns(c)],
)
sa.Index("ix_results_batch_cell", results.c.batch_id, results.c.cell_key)

batches = sa.Table(  # one row per batch evaluation (bakeoff/batch/runner.py, migration 3)
    "batches",
    metadata,
    sa.Column("batch_id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # running | done | stopped | budget
    sa.Column("name", sa.String(255)),  # the input file's name
    sa.Column("model_refs", sa.Text, nullable=False),  # JSON list
    sa.Column("params", sa.Text, nullable=False),  # JSON of Params
    sa.Column("repeats", sa.Integer, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("budget_usd", sa.String(64)),  # exact decimal text; NULL = no cap
    sa.Column("items", sa.Text, nullable=False),  # JSON list of the input rows, so a batch resumes without its file
    sa.Column("note", sa.Text),  # why it stopped, when it did
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("vote_id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), index=True),
    sa.Column("model_a", sa.String(255), nullable=False),
    sa.Column("model_b", sa.String(255), nullable=False),
    sa.Column("result_a", sa.String(32)),
    sa.Column("result_b", sa.String(32)),
    sa.Column("outcome", sa.String(16), nullable=False),  # a | b | tie | both_bad
    sa.Column("blind", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

judgments = sa.Table(
    "judgments",
    metadata,
    sa.Column("judgment_id", sa.String(32), primary_key=True),
    sa.Column("batch_id", sa.String(32), index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("judge_model", sa.String(255), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),  # rubric | pairwise
    sa.Column("criteria", sa.Text, nullable=False),  # JSON {name: description}
    sa.Column("model_a", sa.String(255), nullable=False),
    sa.Column("result_a", sa.String(32)),
    sa.Column("model_b", sa.String(255)),
    sa.Column("result_b", sa.String(32)),
    sa.Column("score", sa.Integer),
    sa.Column("verdict", sa.String(8)),
    sa.Column("consistent", sa.Boolean),
    sa.Column("rationale", sa.Text),
    sa.Column("raw_output", sa.Text),
    sa.Column("grader_error", sa.Boolean, nullable=False),
    sa.Column("error_message", sa.Text),
    sa.Column("cost_usd", sa.String(64)),  # exact decimal text; NULL = unpriced
    sa.Column("cost_basis", sa.String(64)),
    sa.Column("latency_s", sa.Float),
    sa.Column("calls", sa.Text),  # JSON list, one entry per judge call
)

rankings = sa.Table(  # one row per run a person ranked (rankings_repo.py; migrations._migration_rankings)
    "rankings",
    metadata,
    sa.Column("ranking_id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), index=True),
    sa.Column("models", sa.Text, nullable=False),  # JSON list of model_refs, best first
    sa.Column("results", sa.Text, nullable=False),  # JSON list of their result_ids, same order
    sa.Column("blind", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
