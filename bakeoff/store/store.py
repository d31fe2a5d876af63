"""The app's one handle on its database: SQLite by default (WAL), any DATABASE_URL otherwise.

Opening a Store migrates the database (migrations.py) and marks runs whose process died as interrupted,
or raises StoreUnusable saying why it cannot (unusable.py). Each method then hands its work to the
repository for those rows (runs_repo.py, verdicts_repo.py, rankings_repo.py; batches: bakeoff/batch/store.py).
Tables are in schema.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakeoff.records import Judgment, Ranking, Result, Run, Vote
from bakeoff.store import migrations, rankings_repo, runs_repo, unusable, verdicts_repo
from bakeoff.store.engine import create_engine, display_url, wait_out_lock
from bakeoff.store.unusable import StoreUnusable


def default_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    path = os.environ.get("BAKEOFF_DB") or str(Path(platformdirs.user_data_dir("bakeoff")) / "bakeoff.db")
    return url_for_path(path)


def url_for_path(path: str | os.PathLike[str]) -> str:
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable.folder_failed(path, exc) from exc
    return f"sqlite:///{path}"


def open_for_cli(db: str | None) -> Store:
    """The CLI's store (--db, else the default): one it cannot use ends the command, exit 2, with the reason."""
    try:
        return Store(url_for_path(db) if db else None)
    except StoreUnusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


class Store:
    def __init__(self, url: str | None = None):
        """Open, migrate and tidy the database; StoreUnusable (with what to do) if it cannot be used."""
        self.url = url or default_url()  # may hold a password: show display_url, never this
        self.engine: Engine = create_engine(self.url)
        try:
            wait_out_lock(self._open)
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise unusable.explain(exc, self.engine.url) from exc
        except StoreUnusable:  # a newer schema
            self.engine.dispose()
            raise

    def _open(self) -> None:
        migrations.migrate(self.engine)
        migrations.check_writable(self.engine)
        runs_repo.mark_interrupted.__wrapped__(self.engine)  # one try: wait_out_lock bounds the retrying

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

    def conversation(self, conversation_id: str) -> list[tuple[Run, list[Result]]]:
        return runs_repo.conversation(self.engine, conversation_id)

    def results_for(self, run_ids: Iterable[str]) -> list[Result]:
        return runs_repo.results_for(self.engine, run_ids)

    def last_load_s(self, provider: str, model: str, precision: str | None) -> float | None:
        return runs_repo.last_load_s(self.engine, provider, model, precision)

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

    # ---- rankings ----

    def save_ranking(self, ranking: Ranking) -> None:
        rankings_repo.save_ranking(self.engine, ranking)

    def ranking_for(self, run_id: str) -> Ranking | None:
        return rankings_repo.ranking_for(self.engine, run_id)

    def list_rankings(self, *, blind_only: bool = False) -> list[Ranking]:
        return rankings_repo.list_rankings(self.engine, blind_only=blind_only)
