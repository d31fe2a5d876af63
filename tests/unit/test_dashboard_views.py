"""Pure pieces behind History and the Compare additions: trends, diff, prefill, repeats, Parquet (run charts and
colours: test_figures.py)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import threading
import time
from decimal import Decimal

import pandas as pd
import pytest

from bakeoff.jobs.registry import Jobs
from bakeoff.jobs.runs import RunJob
from bakeoff.records import Params, Result, Run
from bakeoff.report.colors import color_map
from bakeoff.runner.fan_out import InvalidRun
from bakeoff.store import export
from metrics.assertions import Assertion
from tests.conftest import scripted_catalog
from ui.diff_view import diff_markdown, escape_markdown, similarity, word_diff
from ui.history_charts import trend_figure, trend_frame
from ui.prefill import PREFILL, apply_prefill, request_prefill
from ui.repeats_view import repeat_spread, repeat_summary


def test_trend_figure_one_line_per_model_with_gaps_not_zeros():
    rows = [
        {"period": dt.date(2026, 1, 1), "model": "a", "answers": 2, "ttft_s": 0.1, "e2e_s": 1.0, "cost_usd": 0.001,
         "priced": 2, "score": 0.5, "scored": 2},
        {"period": dt.date(2026, 1, 2), "model": "a", "answers": 1, "ttft_s": 0.2, "e2e_s": 2.0, "cost_usd": None,
         "priced": 0, "score": None, "scored": 0},
        {"period": dt.date(2026, 1, 1), "model": "b", "answers": 1, "ttft_s": None, "e2e_s": None, "cost_usd": None,
         "priced": 0, "score": None, "scored": 0},
    ]
    frame = trend_frame(rows)
    fig = trend_figure(frame, "e2e_s")
    assert [t.name for t in fig.data] == ["a"] and list(fig.data[0].y) == [1.0, 2.0]
    assert fig.data[0].line.color == color_map(["a", "b"])["a"]
    cost = trend_figure(frame, "cost_usd")
    assert list(cost.data[0].y) == [0.001] and cost.layout.yaxis.tickprefix == "$"
    assert trend_figure(frame, "score", "token F1").layout.title.text.startswith("Token F1")
    assert trend_figure(trend_frame([]), "e2e_s").data == ()


def test_word_diff_round_trips_both_answers():
    a, b = "The sky is blue.\nBecause of Rayleigh scattering.", "The sky looks blue.\nDue to Rayleigh scattering!"
    ops = word_diff(a, b)
    assert "".join(t for op, t in ops if op != "added") == a
    assert "".join(t for op, t in ops if op != "removed") == b
    assert similarity(a, a) == 1.0 and 0 < similarity(a, b) < 1 and similarity("", "") == 1.0


def test_diff_markdown_is_escaped_and_never_html():
    ops = word_diff("<img src=x onerror=alert(1)> ok", "<script>alert(2)</script> ok :red[x] $a$ [l](http://e)")
    md = diff_markdown(ops)
    assert not re.search(r"(?<!\\)[<>]", md) and "\\<script\\>" in md and "\\<img" in md  # every < > escaped
    assert "\\:red\\[x\\]" in md and "\\$a\\$" in md and "\\[l\\]\\(http\\:\\/\\/e\\)" in md
    two_lines = diff_markdown(word_diff("x", "one\ntwo"))
    assert two_lines == ":red-background[~~x~~]:green-background[one]  \n:green-background[two]"
    assert escape_markdown("a\nb") == "a  \nb"


def test_prefill_sets_compare_widgets_and_skips_unknown_models():
    cat = scripted_catalog(alpha={}, beta={})
    cat.entries["beta"] = cat.entries["beta"].model_copy(update={"precisions": ["fp32", "4bit"]})
    state: dict = {}
    p = Params(system="sys", max_tokens=64, temperature=0.2, top_p=0.9, seed=3, timeout_s=30)
    request_prefill(state, model_refs=["alpha", "beta@4bit", "gone", "beta@2bit"], prompt="Q", params=p,
                    reference="R", assertions=[Assertion("contains", "x", case_sensitive=False)])
    skipped = apply_prefill(state, cat)
    assert skipped == ["gone", "beta@2bit"] and PREFILL not in state
    assert state["compare_models"] == ["alpha", "beta"] and state["compare_prec_beta"] == ["4bit"]
    assert (state["compare_prompt"], state["compare_system"], state["compare_reference"]) == ("Q", "sys", "R")
    assert state["compare_checks"] == "contains/i: x"
    assert (state["compare_temperature"], state["compare_max_tokens"], state["compare_top_p"]) == (0.2, 64, 0.9)
    assert (state["compare_seed"], state["compare_timeout"]) == ("3", 30.0)
    assert apply_prefill(state, cat) == []  # applied once


def test_repeat_summary_and_spread():
    frame = pd.DataFrame({
        "model": ["a", "b", "a", "b"],
        "status": ["ok", "ok", "ok", "error"],
        "ttft_s": [0.1, 0.2, 0.3, None],
        "e2e_s": [1.0, 2.0, 3.0, None],
        "output_tokens_per_s": [10.0, 5.0, 30.0, None],
        "cost_usd": [None, 0.002, None, None],
    })
    summary = repeat_summary(frame).set_index("model")
    assert summary.loc["a", "e2e_stdev_s"] == pytest.approx(1.41421356)
    assert summary.loc["b", ["answers", "ok"]].tolist() == [2, 1] and pd.isna(summary.loc["b", "e2e_stdev_s"])
    assert pd.isna(summary.loc["a", "cost_median_usd"]) and summary.loc["b", "cost_median_usd"] == 0.002
    fig = repeat_spread(frame)
    assert [t.name for t in fig.data] == ["a", "b"] and list(fig.data[0].y) == [1.0, 3.0]


def test_repeat_series_runs_in_turn_and_stops_on_cancel():
    from bakeoff.jobs.repeats import start_repeats

    cat = scripted_catalog(fast={"chunks": ["hi"]}, slow={"chunks": ["a", "b"], "chunk_delay": 0.3})
    threads_before = threading.active_count()  # other tests' threads are not this test's business
    jobs = Jobs()
    series = start_repeats(jobs, lambda: Run(prompt="p", model_refs=["fast"]), 3, cat, None)
    assert series.finished.wait(10) and series.failure is None
    runs = [jobs.get(RunJob, i) for i in series.started()]
    assert len(runs) == 3 and all(r.done and r.snapshot()[0].status == "ok" for r in runs)
    for before, after in itertools.pairwise(runs):  # the next starts after the previous finished
        assert before.run.created_at <= after.run.created_at
    slow = start_repeats(jobs, lambda: Run(prompt="p", model_refs=["slow"]), 5, cat, None)
    time.sleep(0.1)
    slow.cancel.set()
    assert slow.finished.wait(10) and len(slow.started()) == 1
    assert jobs.get(RunJob, slow.started()[0]).snapshot()[0].status == "cancelled"
    with pytest.raises(InvalidRun):
        start_repeats(jobs, lambda: Run(prompt="", model_refs=["fast"]), 2, cat, None)
    with pytest.raises(InvalidRun, match="between 1 and"):
        start_repeats(jobs, lambda: Run(prompt="p", model_refs=["fast"]), 0, cat, None)
    assert threading.active_count() <= threads_before + 2  # at most the engine loop and its store writer start


def test_parquet_export_is_typed_and_matches_csv_rows():
    run = Run(prompt="=cmd", model_refs=["a", "b"], params=Params(seed=1))
    results = [
        Result(run_id=run.run_id, model_ref="a", provider="p", model="a", status="ok", output="x",
               cost_usd=Decimal("0.000123"), e2e_s=1.5, scores={"token_f1": 0.5}),
        Result(run_id=run.run_id, model_ref="b", provider="p", model="b", status="error", output=""),
    ]
    frame = pd.read_parquet(io.BytesIO(export.to_parquet([(run, results)])))
    assert list(frame["model"]) == ["a", "b"] and frame.loc[0, "prompt"] == "=cmd"  # no CSV escaping here
    assert frame.loc[0, "cost_usd"] == "0.000123" and frame.loc[0, "e2e_s"] == 1.5
    assert str(frame["created_at"].dtype).startswith("datetime64") and frame.loc[0, "score_token_f1"] == 0.5
    csv = pd.read_csv(io.BytesIO(export.to_csv([(run, results)])), encoding="utf-8-sig")
    assert list(csv.columns) == list(frame.columns)
