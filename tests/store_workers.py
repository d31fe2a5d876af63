"""Sessions that write to one store, run in threads or in spawned processes by the concurrency tests.

Each session takes the dashboard's path for every run (engine.run_blocking: the run row first, each
result as it lands, scores, the final status), with two scripted models, so the writes, their order
and their transactions are the app's own.
"""

from __future__ import annotations

import logging

from bakeoff.records import Params, Run
from bakeoff.runner.engine import run_blocking
from bakeoff.store.store import Store
from tests.conftest import scripted_catalog

MODELS = {"alpha": ["Paris", " is the capital."], "beta": ["Lyon", " is not."]}


def _prepare_process() -> None:
    """What the test session's fixtures do, for a spawned process: the scripted provider and the light embedder."""
    from bakeoff.runner import scoring
    from providers import registry
    from tests.fakes import embedding

    registry.register("scripted", "tests.fakes.scripted:ScriptedProvider")
    scoring.EMBEDDER.reset(embedding.load)


def expected_output(model: str) -> str:
    return "".join(MODELS[model])


def session(url: str | Store, tag: str, n: int) -> list[str]:
    """Run n comparisons of both models; the problems the user would have seen (none expected)."""
    _prepare_process()
    store = url if isinstance(url, Store) else Store(url)
    cat = scripted_catalog(**{m: {"chunks": chunks, "usage": [7, 3]} for m, chunks in MODELS.items()})
    problems: list[str] = []
    errors = _ErrorLog()
    logging.getLogger("bakeoff").addHandler(errors)
    try:
        for i in range(n):
            run = Run(prompt=f"{tag}-{i}", model_refs=list(MODELS), params=Params(max_tokens=16), source="ui")
            try:
                results = run_blocking(run, cat, store)
            except Exception as exc:  # what would reach the user
                problems.append(f"{tag}-{i}: {type(exc).__name__}: {exc}")
                continue
            problems += [f"{tag}-{i} {r.model_ref}: {r.status} {r.error}" for r in results if r.status != "ok"]
    finally:
        logging.getLogger("bakeoff").removeHandler(errors)
        if not isinstance(url, Store):
            store.engine.dispose()
    return problems + errors.messages


def run_and_hang(url: str, run_id: str) -> None:
    """One run whose 'slow' model never answers: the test kills this process while it waits."""
    _prepare_process()
    store = Store(url)
    cat = scripted_catalog(fast={"chunks": ["quick answer"]}, slow={"first_delay": 600.0, "chunks": ["never"]})
    run_blocking(Run(prompt="killed mid-run", model_refs=["fast", "slow"], run_id=run_id), cat, store)


def write_forever(url: str, tag: str) -> None:
    """Runs back to back until the test kills this process, at any point of any write."""
    session(url, tag, 10**9)


class _ErrorLog(logging.Handler):
    """Errors the store or runner logged (e.g. a result that could not be saved), which a user would miss."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")
