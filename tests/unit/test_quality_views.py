"""Pure helpers behind the quality UI: score columns, score text, judge means, leaderboards, blind votes.

The quality heat map's data, the Pareto front and the run charts are tested in test_figures.py."""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pytest

from bakeoff import leaderboard
from bakeoff.records import Judgment, Result
from ui.leaderboard_charts import battle_count_heatmap, win_rate_heatmap
from ui.tables import (
    comparison_frame,
    format_score,
    judge_scores,
    score_help,
    score_names,
)
from ui.votes import blind_aliases, blind_order, vote_pairs


def res(model: str, scores: dict[str, float], cost: str | None = None, status: str = "ok") -> Result:
    return Result(run_id="r", model_ref=model, provider="p", model=model, status=status, output="x",
                  scores=scores, cost_usd=Decimal(cost) if cost is not None else None)


def test_comparison_frame_adds_score_columns_in_display_order_and_the_judge_score():
    results = [res("a", {"words": 3.0, "agreement": 0.7, "assertions_passed": 1.0}),
               res("b", {"words": 5.0, "rougeL": 0.2}, status="ok")]
    frame = comparison_frame(results, judge={"a": 7.5})
    cols = [c for c in frame.columns if c.startswith("score_")]
    assert cols == ["score_judge_score", "score_assertions_passed", "score_agreement", "score_rougeL", "score_words"]
    assert frame.loc[0, "score_judge_score"] == 7.5 and pd.isna(frame.loc[1, "score_judge_score"])
    assert pd.isna(frame.loc[1, "score_agreement"])  # missing stays missing, never 0
    assert score_names(results) == ["assertions_passed", "agreement", "rougeL", "words"]


def test_score_text_and_help_come_from_the_metric_metadata():
    assert format_score("assertions_passed", 0.5) == "50%"
    assert format_score("bleu", 12.345) == "12.3" and format_score("rougeL", 0.4567) == "0.46"
    assert format_score("is_json", 1.0) == "yes" and format_score("words", 12.0) == "12"
    assert format_score("agreement", None) == "–" and format_score("judge_score", 7.0) == "7.0/10"
    assert "higher is better" in score_help("rougeL") and "range 0 to 1" in score_help("rougeL")
    assert "lower is better" in score_help("is_refusal") and "not a grade" in score_help("words")
    assert "other models' answers" in score_help("agreement")


def test_judge_scores_average_the_latest_rubric_batch_without_grader_errors():
    def j(model, score, batch, error=False):
        return Judgment(run_id="r", judge_model="j", mode="rubric", criteria={}, model_a=model, score=score,
                        batch_id=batch, grader_error=error)

    got = judge_scores([j("a", 2, "old"), j("a", 8, "new"), j("b", None, "new", error=True), j("b", 6, "new")])
    assert got == {"a": 8.0, "b": 6.0}
    assert judge_scores([]) == {}


def test_leaderboard_heatmaps_show_win_rates_and_battles():
    board = leaderboard.build([("a", "b", "a"), ("b", "a", "a"), ("a", "b", "tie")] * 4)
    win = win_rate_heatmap(board.win_rates)
    assert win.data[0].text[0][1] == "50%" and win.data[0].text[0][0] == ""  # never met itself
    assert battle_count_heatmap(board.battles).data[0].text[0][1] == "12"


def test_leaderboard_marks_unbeaten_and_rarely_seen_models_provisional():
    board = leaderboard.build([("x", "y", "a"), ("y", "z", "a"), ("x", "z", "a")] * 2, min_battles=4)
    assert not board.finite
    notes = dict(zip(board.table["model"], board.table["note"], strict=True))
    assert notes["x"] == "never lost: rating is a lower bound"
    assert notes["z"] == "never won: rating is an upper bound"
    assert notes["y"] == "ratings not finite"
    assert board.table["provisional"].all() and list(board.table["model"]) == ["x", "y", "z"]
    assert leaderboard.build([]) is None
    few = leaderboard.build([("x", "y", "a"), ("y", "x", "a")], min_battles=3)
    assert few.finite and list(few.table["note"]) == ["only 2 battles (< 3)"] * 2
    assert all(math.isfinite(v) for v in few.table["rating"])


@pytest.mark.parametrize("n", [2, 3, 5])
def test_blind_order_is_stable_per_run_and_covers_every_answer(n):
    results = [res(f"m{i}", {}) for i in range(n)]
    once, again = blind_order(results, "run1"), blind_order(results, "run1")
    assert [r.result_id for r in once] == [r.result_id for r in again]
    aliases = blind_aliases(results, "run1")
    assert sorted(aliases.values()) == [f"Model {c}" for c in "ABCDE"[:n]]
    assert aliases[once[0].result_id] == "Model A"
    assert len(vote_pairs(results)) == n * (n - 1) // 2
    assert len(vote_pairs([*results, res("x", {}, status="error")])) == n * (n - 1) // 2
