"""The runner with scripted providers: concurrency, isolation, timeouts, retries, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import pytest

from bakeoff.records import Params, Run
from bakeoff.runner.engine import prepare, run_blocking
from bakeoff.runner.fan_out import InvalidRun, RetryPolicy, fan_out
from tests.conftest import scripted_catalog

FAST = RetryPolicy(base_s=0.01, cap_s=0.02)


def go(cat, refs, *, params=None, cancel=None, policy=FAST, store=None):
    run = Run(prompt="Say hi", model_refs=refs, params=params or Params(max_tokens=50))
    if store is not None:
        return run, run_blocking(run, cat, store, cancel=cancel, policy=policy)
    return run, asyncio.run(fan_out(run, prepare(run, cat), cat, cancel=cancel, policy=policy))


def test_models_run_concurrently_not_one_after_another(scripted):
    cat = scripted_catalog(**{f"m{i}": {"first_delay": 0.3} for i in range(4)})
    _, results = go(cat, [f"m{i}" for i in range(4)])
    assert [r.status for r in results] == ["ok"] * 4
    assert scripted.max_active == 4
    # every request went out before any answer arrived: one after another, m0 would end before m1 is sent
    assert max(r.sent_ns for r in results) < min(r.first_token_ns for r in results)


def test_failing_model_does_not_hide_others(scripted):
    cat = scripted_catalog(good={"chunks": ["fine"]}, bad={"fail": "AuthError", "http_status": 401})
    _, (good, bad) = go(cat, ["good", "bad"])
    assert good.status == "ok" and good.output == "fine"
    assert bad.status == "error" and bad.error.cls == "AuthError" and bad.error.http_status == 401
    assert bad.error.hint  # the user is told what to do
    assert bad.attempts == 1  # 401 is never retried


def test_timestamps_give_ttft_and_e2e(scripted):
    cat = scripted_catalog(m={"first_delay": 0.2, "chunk_delay": 0.1, "chunks": ["a", "b", "c"], "usage": [5, 3]})
    _, (r,) = go(cat, ["m"])
    assert r.sent_ns is not None and r.sent_ns <= r.first_token_ns <= r.last_token_ns <= r.closed_ns
    assert 0.19 <= r.ttft_s < 0.6
    assert 0.39 <= r.e2e_s < 1.2
    assert r.tpot_s == pytest.approx((r.e2e_s - r.ttft_s) / 2)
    assert r.output_tokens_per_s == pytest.approx(3 / r.e2e_s)
    assert (r.input_tokens, r.output_tokens, r.tokens_source) == (5, 3, "reported")
    assert r.queue_s is not None and r.queue_s >= 0


def test_missing_usage_is_estimated_and_marked(scripted):
    cat = scripted_catalog(m={"chunks": ["hello", " there", " friend"]})
    _, (r,) = go(cat, ["m"])
    assert r.tokens_source == "estimated"
    assert r.input_tokens == 2  # "Say hi" in cl100k_base
    assert r.output_tokens == 3


def test_timeout_keeps_partial_text(scripted):
    cat = scripted_catalog(slow={"chunks": ["part", "never"], "chunk_delay": 5}, fast={})
    _, (slow, fast) = go(cat, ["slow", "fast"], params=Params(timeout_s=0.3))
    assert slow.status == "timeout" and slow.output == "part" and slow.error.cls == "Timeout"
    assert fast.status == "ok"
    assert "slow" in scripted.closed  # the provider's stream was closed, not leaked


def test_retry_before_first_token_then_succeed(scripted):
    cat = scripted_catalog(m={"fail": "RateLimited", "fail_times": 2, "retry_after": 0.01, "chunks": ["ok"]})
    _, (r,) = go(cat, ["m"])
    assert r.status == "ok" and r.output == "ok" and r.attempts == 3


def test_retry_after_beyond_cap_fails_fast(scripted):
    cat = scripted_catalog(m={"fail": "RateLimited", "retry_after": 999})
    _, (r,) = go(cat, ["m"])
    assert r.status == "error" and r.attempts == 1 and r.error.cls == "RateLimited"


def test_gives_up_after_max_attempts(scripted):
    cat = scripted_catalog(m={"fail": "ServerError", "http_status": 500})
    _, (r,) = go(cat, ["m"])
    assert r.status == "error" and r.attempts == FAST.max_attempts


def test_never_replays_after_first_token(scripted):
    cat = scripted_catalog(m={"fail": "ServerError", "fail_after": 1, "chunks": ["partial", " rest"]})
    _, (r,) = go(cat, ["m"])
    assert r.status == "interrupted" and r.output == "partial" and r.attempts == 1


def test_cancel_stops_in_flight_and_keeps_finished(scripted):
    cat = scripted_catalog(quick={"chunks": ["done"]}, slow={"chunks": ["a", "b"], "chunk_delay": 10})
    cancel = threading.Event()
    run = Run(prompt="Say hi", model_refs=["quick", "slow"], params=Params(max_tokens=50))

    def cancel_once_slow_has_begun(res) -> None:  # not a timer: a loaded machine may start late
        if res.model_ref == "slow" and res.output == "a":
            threading.Timer(0.05, cancel.set).start()

    t0 = time.perf_counter()
    quick, slow = asyncio.run(
        fan_out(run, prepare(run, cat), cat, cancel=cancel, policy=FAST, on_update=cancel_once_slow_has_begun)
    )
    assert time.perf_counter() - t0 < 5
    assert quick.status == "ok"
    assert slow.status == "cancelled" and slow.output == "a" and slow.error.cls == "Cancelled"


def test_unavailable_model_is_reported_not_called(scripted):
    cat = scripted_catalog(m={"available": "not_configured"})
    _, (r,) = go(cat, ["m"])
    assert r.status == "error" and r.error.cls == "ConfigError" and "not configured" in r.error.message
    assert scripted.calls.get("m") is None


def test_context_window_checked_before_sending(scripted):
    cat = scripted_catalog(small={"context_window": 20})
    _, (r,) = go(cat, ["small"], params=Params(max_tokens=50))
    assert r.status == "error" and r.error.cls == "ContextLength" and "20" in r.error.message
    assert scripted.calls.get("small") is None


def test_max_tokens_above_model_limit(scripted):
    cat = scripted_catalog(m={"max_output_tokens": 10})
    _, (r,) = go(cat, ["m"], params=Params(max_tokens=50))
    assert r.error.cls == "BadRequest" and "10" in r.error.message


def test_api_cost_from_price_row_and_local_compute(scripted):
    cat = scripted_catalog(
        api={"usage": [1000, 500], "priced": True}, loc={"kind": "local", "usage": [3, 3]}, free={"usage": [1, 1]}
    )
    _, (api, loc, free) = go(cat, ["api", "loc", "free"])
    assert api.cost_usd == Decimal("0.002000") and api.cost_basis == "api price"
    assert loc.cost_basis == "local compute" and loc.cost_usd is not None and loc.cost_usd >= 0
    assert free.cost_usd is None and free.cost_basis is None  # unpriced, never $0


@pytest.mark.parametrize(
    ("prompt", "refs", "params", "message"),
    [
        ("   ", ["m"], Params(), "prompt is empty"),
        ("hi", [], Params(), "No model selected"),
        ("hi", ["nope"], Params(), "Unknown model"),
        ("hi", ["m"], Params(max_tokens=0), "Max tokens"),
        ("hi", ["m", "m"], Params(), "twice"),
        ("hi", ["m@4bit"], Params(), "precision"),
    ],
)
def test_bad_input_is_refused_with_a_message(scripted, prompt, refs, params, message):
    cat = scripted_catalog(m={})
    with pytest.raises(InvalidRun, match=message):
        prepare(Run(prompt=prompt, model_refs=refs, params=params), cat)


def test_results_are_stored_as_they_finish(scripted, store):
    cat = scripted_catalog(a={"chunks": ["x"]}, b={"fail": "NotFound"})
    run, _ = go(cat, ["a", "b"], store=store)
    stored_run, stored = store.get_run(run.run_id)
    assert stored_run.status == "done"
    assert [(r.model_ref, r.status) for r in stored] == [("a", "ok"), ("b", "error")]
    assert stored[1].error.cls == "NotFound"


def _disk_full() -> Exception:
    import sqlite3

    import sqlalchemy as sa

    return sa.exc.OperationalError("INSERT INTO results ...", {}, sqlite3.OperationalError("database or disk is full"))


def _failing_saves(store, monkeypatch, model_ref: str, times: int = 99) -> None:
    """The store refuses the first `times` saves of `model_ref`'s result (a full disk, say)."""
    real, failed = store.save_result, []

    def save_result(res):
        if res.model_ref == model_ref and len(failed) < times:
            failed.append(res.result_id)
            raise _disk_full()
        real(res)

    monkeypatch.setattr(store, "save_result", save_result)


def test_a_failed_save_is_on_the_run_not_done(scripted, store, monkeypatch):
    from bakeoff.runner.engine import unsaved_message

    _failing_saves(store, monkeypatch, "b")
    cat = scripted_catalog(a={"chunks": ["x"]}, b={"chunks": ["lost"]})
    run, (a, b) = go(cat, ["a", "b"], store=store)
    assert (a.status, b.status, b.output) == ("ok", "ok", "lost")  # the answer itself is fine, and returned
    assert run.status == "unsaved" and list(run.unsaved) == ["b"] and "OperationalError" in run.unsaved["b"]
    assert "b — answer" in unsaved_message(run)
    stored_run, stored = store.get_run(run.run_id)
    assert stored_run.status == "unsaved" and [r.model_ref for r in stored] == ["a"]


def test_a_save_that_succeeds_later_clears_the_failure(scripted, store, monkeypatch):
    _failing_saves(store, monkeypatch, "a", times=1)  # the answer's save fails; the save with its scores works
    run, _ = go(scripted_catalog(a={"chunks": ["x"]}), ["a"], store=store)
    assert run.status == "done" and run.unsaved == {}
    assert [r.output for r in store.get_run(run.run_id)[1]] == ["x"]


def test_a_failed_final_status_is_reported_not_raised(scripted, store, monkeypatch):
    from bakeoff.runner.engine import RUN_STATUS

    def set_run_status(run_id, status):
        raise _disk_full()

    monkeypatch.setattr(store, "set_run_status", set_run_status)
    run, (a,) = go(scripted_catalog(a={"chunks": ["x"]}), ["a"], store=store)
    assert a.status == "ok" and run.status == "unsaved"
    assert list(run.unsaved) == [RUN_STATUS] and "'done'" in run.unsaved[RUN_STATUS]


def test_saves_run_off_the_loop_in_order_and_the_status_comes_before_the_scores(scripted, store, monkeypatch):
    calls: list[tuple[str, str, str]] = []  # (what, model or status, thread)
    for name in ("save_run", "save_result", "set_run_status"):
        real = getattr(store, name)

        def spy(*args, _real=real, _name=name):
            what = args[0].model_ref + (" scored" if args[0].scores else "") if _name == "save_result" else args[-1]
            calls.append((_name, what if isinstance(what, str) else "run", threading.current_thread().name))
            return _real(*args)

        monkeypatch.setattr(store, name, spy)
    cat = scripted_catalog(a={"chunks": ["x"]}, b={"chunks": ["y"], "first_delay": 0.2})
    run, _ = go(cat, ["a", "b"], store=store)
    assert run.status == "done"
    assert {thread for *_, thread in calls} == {"bakeoff-store-writer_0"}  # never on the engine loop
    assert [(n, w) for n, w, _ in calls] == [
        ("save_run", "run"),
        ("save_result", "a"),  # each answer as it lands
        ("save_result", "b"),
        ("set_run_status", "done"),  # the run is finished before any score is in
        ("save_result", "a scored"),
        ("save_result", "b scored"),
    ]


def test_answers_and_status_do_not_wait_for_the_embedder_which_loads_while_the_models_answer(scripted, store):
    from bakeoff.jobs.registry import Jobs
    from bakeoff.jobs.runs import start_run
    from bakeoff.runner import scoring
    from tests.fakes import embedding

    release, loading, closed_when_loading = threading.Event(), threading.Event(), []

    def slow_loader():
        closed_when_loading.append(len(scripted.closed))
        loading.set()
        assert release.wait(20)
        return embedding.load()

    scoring.EMBEDDER.reset(slow_loader)
    cat = scripted_catalog(a={"chunks": ["Paris"], "first_delay": 1.0}, b={"chunks": ["Lyon"], "first_delay": 1.0},
                           c={"chunks": ["Nice"], "first_delay": 1.0})
    job = start_run(Jobs(), Run(prompt="Capital?", model_refs=["a", "b", "c"]), cat, store)
    assert loading.wait(10) and closed_when_loading == [0]  # loading once both requests are out, before answers
    deadline = time.monotonic() + 20
    while (found := store.get_run(job.run.run_id)) is None or found[0].status != "done":
        assert time.monotonic() < deadline, "the run's status waited for the embedder"
        time.sleep(0.05)
    assert [(r.status, "agreement" in r.scores) for r in found[1]] == [("ok", False)] * 3
    assert not job.done  # still scoring
    release.set()
    assert job.finished.wait(20) and job.failure is None
    assert all("agreement" in r.scores for r in store.get_run(job.run.run_id)[1])


def test_one_answer_without_a_reference_never_loads_the_embedder(scripted, store):
    from bakeoff.runner import scoring

    loads = []
    scoring.EMBEDDER.reset(lambda: loads.append(1))
    go(scripted_catalog(a={"chunks": ["x"]}), ["a"], store=store)
    assert loads == []


def test_cli_prints_the_answers_before_the_embedder_has_loaded_then_the_scores(tmp_path, monkeypatch, capsys):
    import yaml

    from bakeoff import cli, run_cli
    from bakeoff.runner import scoring
    from tests.fakes import embedding

    printed = threading.Event()
    real_print = run_cli._print_answers

    def print_answers(run, results):
        real_print(run, results)
        printed.set()

    def loader():  # the embedder finishes loading only once the answers are out
        assert printed.wait(10), "the answers waited for the embedder"
        return embedding.load()

    monkeypatch.setattr(run_cli, "_print_answers", print_answers)
    scoring.EMBEDDER.reset(loader)
    models = {m: {"provider": "scripted", "model": m, "kind": "commercial", "options": {"chunks": [f"{m} says hi"]}}
              for m in ("alpha", "beta", "gamma")}
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"models": models}))
    (tmp_path / "pricing.yaml").write_text("prices: {}\n")
    monkeypatch.setenv("BAKEOFF_MODELS", str(tmp_path / "models.yaml"))
    monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
    code = cli.main(["--db", str(tmp_path / "c.db"), "run", "--prompt", "Hi?", "--model", "alpha", "--model", "beta",
                     "--model", "gamma"])
    out = capsys.readouterr().out
    assert code == 0 and printed.is_set()
    assert out.index("== alpha [ok]") < out.index("== beta [ok]") < out.index("== alpha · scores")
    assert "agreement" in out.split("== alpha · scores")[1]
