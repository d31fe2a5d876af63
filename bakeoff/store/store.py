"""The app's one handle on its database: SQLite by default (WAL), any DATABASE_URL otherwise.

Opening a Store migrates the database (migrations.py) and marks runs whose process died as
interrupted; each method then hands its work to the repository for those rows (runs_repo.py,
verdicts_repo.py; batches live in bakeoff/batch/store.py). Tables are in schema.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy.engine import Engine

from bakeoff.records import Judgment, Result, Run, Vote
from bakeoff.store import migrations, runs_repo, verdicts_repo
from bakeoff.store.engine import create_engine, display_url


def default_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    path = os.environ.get("BAKEOFF_DB") or str(Path(platformdirs.user_data_dir("bakeoff")) / "bakeoff.db")
    return url_for_path(path)


def url_for_path(path: str | os.PathLike[str]) -> str:
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Store:
    def __init__(self, url: str | None = None):
        self.url = url or default_url()  # may hold a password: show display_url, never this
        self.engine: Engine = create_engine(self.url)
        self.migrate()
        self.mark_interrupted()

    @property
    def display_url(self) -> str:
        """Where the data lives, with any password hidden."""
        return display_url(self.engine.url)

    def migrate(self) -> None:
        migrations.migrate(self.engine)

    def mark_interrupted(self) -> list[str]:
        return runs_repo.mark_interrupted(self.engine)

    # ---- runs and results ----

    def save_run(self, run: Run) -> None:
        runs_repo.save_run(self.engine, run)

    def set_run_status(self, run_id: str, status: str) -> None:
        runs_repo.set_run_status(self.engine, run_id, status)

    def save_result(self, res: Result) -> None:
        runs_repo.save_result(self.engine, res)

    def delete_run(self, run_id: str) -> None:
        runs_repo.delete_run(self.engine, run_id)

    def list_runs(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        return runs_repo.list_runs(self.engine, limit, offset)

    def count_runs(self) -> int:
        return runs_repo.count_runs(self.engine)

    def get_run(self, run_id: str) -> tuple[Run, list[Result]] | None:
        return runs_repo.get_run(self.engine, run_id)

    def results_for(self, run_ids: Iterable[str]) -> list[Result]:
        return runs_repo.results_for(self.engine, run_ids)

    # ---- votes and judgments ----

    def save_vote(self, vote: Vote) -> None:
        verdicts_repo.save_vote(self.engine, vote)

    def save_judgment(self, j: Judgment) -> None:
        verdicts_repo.save_judgment(self.engine, j)

    def votes_for(self, run_id: str) -> list[Vote]:
        return verdicts_repo.votes_for(self.engine, run_id)

    def list_votes(self, *, blind_only: bool = False) -> list[Vote]:
        return verdicts_repo.list_votes(self.engine, blind_only=blind_only)

    def judgments_for(self, run_id: str) -> list[Judgment]:
        return verdicts_repo.judgments_for(self.engine, run_id)

    def list_judgments(self, *, mode: str | None = None, judge_model: str | None = None) -> list[Judgment]:
        return verdicts_repo.list_judgments(self.engine, mode=mode, judge_model=judge_model)
