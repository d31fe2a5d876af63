"""Many sessions writing one store at once lose nothing; a process killed mid-run leaves its run `interrupted`.

8 sessions × 50 runs (2 results each) in threads sharing the app's one Store, and in 8 spawned
processes with a Store each racing to create the database, on one SQLite file: every run and result
present and complete, `PRAGMA integrity_check` = ok, and no error ("database is locked" or any other)
reaching a session. The same on PostgreSQL with 8 × 20 runs (a server serialises nothing per file;
fewer runs keep the suite's time in check).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from bakeoff.store.migrations import MIGRATIONS
from bakeoff.store.schema import results, runs
from bakeoff.store.store import Store
from tests import store_workers
from tests.store_workers import MODELS

SESSIONS = 8
RUNS = {"sqlite": 50, "postgresql": 20}
SPAWN = multiprocessing.get_context("spawn")


def assert_all_written(store: Store, tags: list[str], n: int) -> None:
    with store.engine.connect() as conn:
        run_rows = conn.execute(sa.select(runs.c.run_id, runs.c.prompt, runs.c.status)).all()
        result_rows = conn.execute(sa.select(results.c.run_id, results.c.model_ref, results.c.status, results.c.output))
        result_rows = result_rows.all()
        if store.engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert sorted(r.prompt for r in run_rows) == sorted(f"{t}-{i}" for t in tags for i in range(n))
    assert {r.status for r in run_rows} == {"done"}
    assert len(result_rows) == 2 * len(tags) * n
    per_run: dict[str, set[str]] = {}
    for r in result_rows:
        assert (r.status, r.output) == ("ok", store_workers.expected_output(r.model_ref))
        per_run.setdefault(r.run_id, set()).add(r.model_ref)
    assert per_run == {r.run_id: set(MODELS) for r in run_rows}


def test_threads_sharing_one_store_lose_nothing(store_url):
    store = Store(store_url)
    n = RUNS[store.engine.dialect.name]
    tags = [f"thread{k}" for k in range(SESSIONS)]
    with ThreadPoolExecutor(SESSIONS) as pool:
        found = pool.map(store_workers.session, [store] * SESSIONS, tags, [n] * SESSIONS)
        problems = [p for session_problems in found for p in session_problems]
    assert problems == []
    assert_all_written(store, tags, n)
    store.engine.dispose()


def test_processes_each_with_a_store_lose_nothing_and_migrate_once(store_url):
    n = RUNS["sqlite" if store_url.startswith("sqlite") else "postgresql"]
    tags = [f"proc{k}" for k in range(SESSIONS)]
    with ProcessPoolExecutor(SESSIONS, mp_context=SPAWN) as pool:  # all open the new, empty database at once
        found = pool.map(store_workers.session, [store_url] * SESSIONS, tags, [n] * SESSIONS)
        problems = [p for session_problems in found for p in session_problems]
    assert problems == []
    store = Store(store_url)
    assert_all_written(store, tags, n)
    with store.engine.connect() as conn:
        numbers = conn.scalars(sa.text("SELECT number FROM migrations ORDER BY number")).all()
    assert numbers == sorted(n for n, _ in MIGRATIONS)
    store.engine.dispose()


def _wait_for(check, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.1)


def test_a_process_killed_mid_run_leaves_it_interrupted_with_its_saved_results(store_url):
    store = Store(store_url)
    proc = SPAWN.Process(target=store_workers.run_and_hang, args=(store_url, "killedrun"))
    proc.start()
    try:
        _wait_for(lambda: (got := store.get_run("killedrun")) is not None and len(got[1]) == 1)
        # while its process lives, the run is running, not mistaken for an interrupted one
        assert store.list_runs()[0]["status"] == "running"
        assert store.get_run("killedrun")[0].status == "running"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
    assert proc.exitcode == -signal.SIGKILL

    listed = store.list_runs()  # the same, long-lived Store (the app caches one) sees it at once
    summary = [(r["run_id"], r["status"], r["n_results"], r["n_ok"]) for r in listed]
    assert summary == [("killedrun", "interrupted", 1, 1)]
    run, (res,) = Store(store_url).get_run("killedrun")
    assert run.status == "interrupted" and run.model_refs == ["fast", "slow"]
    assert (res.model_ref, res.status, res.output) == ("fast", "ok", "quick answer")
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.engine.dispose()


def test_processes_killed_at_random_points_of_their_writes_leave_only_whole_runs(store_url):
    store = Store(store_url)
    procs = [SPAWN.Process(target=store_workers.write_forever, args=(store_url, f"w{k}")) for k in range(4)]
    for p in procs:
        p.start()
    try:
        _wait_for(lambda: store.count_runs() >= 16)
    finally:
        for k, p in enumerate(procs):
            time.sleep(0.05 * k)  # at staggered moments: some inside a transaction, some between
            os.kill(p.pid, signal.SIGKILL)
            p.join(30)

    listed = store.list_runs(limit=10_000)
    assert listed and {r["status"] for r in listed} <= {"done", "interrupted"}
    assert sum(r["status"] == "interrupted" for r in listed) <= len(procs)  # at most the one each was in
    for r in listed:
        if r["status"] == "done":
            assert (r["n_results"], r["n_ok"]) == (2, 2)
    with store.engine.connect() as conn:
        for row in conn.execute(sa.select(results.c.model_ref, results.c.status, results.c.output)):
            assert (row.status, row.output) == ("ok", store_workers.expected_output(row.model_ref))  # never partial
        if store.engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.engine.dispose()


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_finished_runs_are_never_reclassified(any_store, status):
    from bakeoff.records import Run

    run = Run(prompt="p", model_refs=["a"])
    any_store.save_run(run)
    any_store.set_run_status(run.run_id, status)
    with any_store.engine.begin() as conn:  # even with an owner that is long gone
        conn.execute(sa.update(runs).values(owner="elsewhere|1|1.00", heartbeat_at=None))
    assert any_store.mark_interrupted() == []
    assert any_store.get_run(run.run_id)[0].status == status
