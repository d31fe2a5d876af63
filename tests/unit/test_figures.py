"""A run's charts (bakeoff/report/figures.py), one implementation for the dashboard and the offline report:
stable per-model colours, medians over repeats, unknown named and never drawn as zero, task-relevant scores only."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from bakeoff.records import Result
from bakeoff.report import figures
from bakeoff.report.colors import PALETTE, color_map, model_color
from bakeoff.report.run_page import chart_frame
from bakeoff.report.scores import quality_choices, quality_long
from ui.tables import comparison_frame


def res(model: str, scores: dict[str, float], cost: str | None = None, status: str = "ok", **timing) -> Result:
    return Result(run_id="r", model_ref=model, provider="p", model=model, status=status, output="x",
                  scores=scores, cost_usd=Decimal(cost) if cost is not None else None, **timing)  # fmt: skip


def test_colours_are_stable_distinct_and_shared_by_charts():
    models = [f"model-{i}" for i in range(len(PALETTE))]
    colours = color_map(models)
    assert len(set(colours.values())) == len(PALETTE)  # distinct while the palette lasts
    assert color_map(["gpt-4o-mini"])["gpt-4o-mini"] == model_color("gpt-4o-mini")
    frame = pd.DataFrame({"model": ["a", "b"], "output_tokens_per_s": [10.0, 20.0], "cost_usd": [0.001, None]})
    bars = figures.throughput(frame).data[0]
    assert list(bars.marker.color) == [color_map(["a", "b"])[m] for m in ("a", "b")]
    cost = figures.cost_per_call(frame)
    assert list(cost.data[0].x) == ["a"] and cost.data[0].marker.color[0] == model_color("a")


def test_a_models_colour_does_not_depend_on_its_position():
    ab = pd.DataFrame({"model": ["a", "b"], "output_tokens_per_s": [1.0, 2.0]})
    for frame in (ab, ab.iloc[::-1]):  # the report used to colour by position: b took a's colour when listed first
        bars = figures.throughput(frame).data[0]
        assert dict(zip(bars.x, bars.marker.color, strict=True)) == color_map(["a", "b"])


def test_cost_per_call_names_unpriced_and_keeps_fractions_of_a_cent():
    frame = pd.DataFrame({"model": ["cheap", "local", "free"], "cost_usd": [0.000123, None, 0.0]})
    fig = figures.cost_per_call(frame)
    assert list(fig.data[0].text) == ["$0.000123", "$0.00"]  # a real $0 (a free tier) stays, unpriced is named
    assert "unpriced, not drawn: local" in fig.layout.title.text


def test_bars_take_medians_over_repeats_and_name_unknown_models():
    frame = pd.DataFrame({
        "model": ["a", "a", "a", "b", "c"],
        "output_tokens_per_s": [10.0, 30.0, 20.0, None, 5.0],
        "cost_usd": [0.001, 0.003, 0.002, 0.01, None],
    })  # fmt: skip
    tps = figures.throughput(frame)
    assert dict(zip(tps.data[0].x, tps.data[0].y, strict=True)) == {"a": 20.0, "c": 5.0}
    assert "unknown, not drawn: b" in tps.layout.title.text
    cost = figures.cost_per_call(frame)
    assert list(cost.data[0].text) == ["$0.002", "$0.01"] and "unpriced, not drawn: c" in cost.layout.title.text


def test_latency_breakdown_stacks_queue_ttft_generation_and_takes_medians_of_repeats():
    frame = pd.DataFrame({
        "model": ["a", "a", "a", "b", "c"],
        "queue_s": [0.0, 1.0, 2.0, None, 0.1],
        "ttft_s": [0.1, 0.2, 0.9, 0.5, None],
        "generation_s": [1.0, 2.0, 3.0, None, None],
    })  # fmt: skip
    fig = figures.latency_breakdown(frame)
    assert [t.name for t in fig.data] == ["queue", "time to first token", "generation"]
    queue, ttft, gen = (dict(zip(t.y, t.x, strict=True)) for t in fig.data)
    assert (queue["a"], ttft["a"], gen["a"]) == (1.0, 0.2, 2.0)
    assert (queue["b"], gen["b"]) == (0.0, 0.0)  # unknown is drawn as no bar, never hides the model
    assert "c" not in ttft and "unknown, not drawn: c" in fig.layout.title.text  # no first token: named


def test_pareto_front_minimises_cost_and_maximises_quality():
    frame = pd.DataFrame({
        "model": list("abcdefg"),
        "cost_usd": [1.0, 2.0, 3.0, 2.0, 1.0, np.nan, 0.5],
        "quality": [0.5, 0.9, 0.8, 0.5, 0.5, 1.0, np.nan],
    })  # fmt: skip
    assert figures.pareto_front(frame).tolist() == [True, True, False, False, True, False, False]
    # duplicates of a front point are both on it; a single point is its own front
    assert figures.pareto_front(frame.iloc[[0]]).tolist() == [True]
    assert figures.pareto_front(frame.iloc[0:0]).tolist() == []


def test_quality_long_and_choices_keep_only_task_relevant_scores():
    frame = comparison_frame([res("a", {"words": 3.0, "agreement": 0.5, "flesch_reading_ease": 90.0, "is_json": 0.0,
                                        "token_f1": 0.25, "bleu": 50.0}),
                              res("b", {"words": 4.0, "agreement": 0.9, "flesch_reading_ease": 10.0, "is_json": 1.0,
                                        "token_f1": 1.0})], judge={"a": 1.0, "b": 10.0})  # fmt: skip
    long = quality_long(frame)
    # reading ease painted a repetitive loop green in a trial: only judge, checks and reference metrics grade
    assert list(dict.fromkeys(long["metric"])) == ["judge_score", "token_f1", "bleu"]
    assert long.set_index(["model", "metric"])["goodness"].fillna(-1).to_dict() == {
        ("a", "judge_score"): 0.0, ("b", "judge_score"): 1.0, ("a", "token_f1"): 0.25, ("b", "token_f1"): 1.0,
        ("a", "bleu"): 0.5, ("b", "bleu"): -1}  # fmt: skip
    row = long[(long["model"] == "b") & (long["metric"] == "bleu")].iloc[0]
    assert (row["text"], row["label"]) == ("–", "BLEU")  # unknown stays unknown
    assert quality_choices(frame) == ["judge_score", "token_f1", "bleu"]


def test_without_reference_checks_or_judge_nothing_grades_the_answers():
    frame = comparison_frame([res("a", {"words": 3.0, "agreement": 0.5, "is_refusal": 0.0}),
                              res("b", {"words": 4.0, "agreement": 0.9, "is_refusal": 1.0})])  # fmt: skip
    assert quality_long(frame).empty and quality_choices(frame) == []
    checks = comparison_frame([res("a", {"assertions_passed": 0.5}), res("b", {"assertions_passed": 1.0})])
    assert quality_choices(checks) == ["assertions_passed"]


def test_cost_quality_scatter_and_heatmap_build_from_dataframes():
    frame = comparison_frame([res("a", {"token_f1": 0.5}, cost="0.001"), res("b", {"token_f1": 0.9}, cost="0.01"),
                              res("c", {"token_f1": 0.4}, cost="0.02"), res("d", {"token_f1": 0.95})])  # fmt: skip
    points = frame[["model", "cost_usd"]].assign(quality=frame["score_token_f1"])
    fig = figures.cost_quality_scatter(points, "token_f1")
    names = [t.name for t in fig.data]
    assert names == ["Pareto front", "on the front (no cheaper model is better)", "dominated"]
    assert list(fig.data[1].text) == ["a", "b"] and list(fig.data[2].text) == ["c"]  # d is unpriced: not drawn
    assert fig.layout.xaxis.type == "log" and fig.layout.title.text == "Cost vs token F1 (up and left is better)"
    assert list(fig.layout.yaxis.range) == [-0.05, 1.15]  # the score's whole 0-1 scale, room for labels above
    heat = figures.quality_heatmap(quality_long(frame))
    assert list(heat.data[0].y) == ["a", "b", "c", "d"] and heat.data[0].zmin == 0


def test_the_cost_quality_scatter_labels_its_log_axis_in_dollars():
    frame = pd.DataFrame({"model": ["a", "b"], "cost_usd": [8e-6, 3.4e-5], "quality": [0.3, 0.4]})
    axis = figures.cost_quality_scatter(frame, "agreement").layout.xaxis
    assert axis.type == "log" and list(axis.ticktext) == ["$0.000005", "$0.00001", "$0.00002", "$0.00005"]
    assert all("e" not in t for t in axis.ticktext)


def test_the_report_and_the_dashboard_draw_the_same_charts_from_the_same_results():
    timing = {"queue_s": 0.01, "ttft_s": 0.2, "e2e_s": 1.2, "output_tokens_per_s": 40.0}
    results = [
        res("gpt-4o-mini", {"token_f1": 0.8, "bleu": 20.0, "words": 9.0}, cost="0.00002", **timing),
        res("local-model", {"token_f1": 0.3, "bleu": 5.0, "words": 4.0}, **timing),
        res("broken", {}, status="error"),
    ]
    report, dashboard = chart_frame(results, {"gpt-4o-mini": 9.0}), comparison_frame(results, {"gpt-4o-mini": 9.0})
    for build in (figures.latency_breakdown, figures.throughput, figures.cost_per_call):
        assert build(report).to_json() == build(dashboard).to_json()
    assert quality_long(report).equals(quality_long(dashboard))  # the heat map: same scores, same order
    assert "words" not in set(quality_long(report)["metric"])  # a fact, not a grade: no colour in either
