"""The adaptive batch's pieces without a provider: how each metric scales into [0, 1], which it refuses, the seeded
shuffle that keeps a unit together, and the referee that feeds units in the batch's order and stops once decided."""

from __future__ import annotations

import threading

import pytest

from bakeoff.batch.adaptive import (
    DECIDED,
    Metric,
    Pairing,
    Referee,
    differences,
    metric_for,
    prepare,
    shuffle_units,
)
from bakeoff.batch.cells import BatchRefused
from bakeoff.batch.input import BatchItem
from bakeoff.batch.progress import BatchOutcome
from bakeoff.batch.results import Arm
from bakeoff.batch.runner import STOPPED_NOTE
from bakeoff.batch.store import Batch
from bakeoff.batch.suite import SuiteInfo
from bakeoff.records import ErrorInfo, Result


def suite_item(test: int, prompt: int) -> BatchItem:
    info = SuiteInfo(prompt, f"template {prompt}", {"n": test}, test, None, ["contains: yes"])
    return BatchItem(f"t{test}-p{prompt}", f"prompt {prompt} for {test}", metadata=info.metadata())


def cell(model: str, item: BatchItem, *, status: str = "ok", passed: bool | None = None, **scores: float) -> Result:
    r = Result("run", model, "scripted", model, status=status, item_id=item.item_id, item_metadata=item.metadata)
    r.scores = dict(scores)
    if passed is not None:
        r.checks = [{"kind": "contains", "passed": passed}]
    if status == "error":
        r.error = ErrorInfo("ServerError", "boom")
    return r


ITEMS = [BatchItem(f"q{i}", f"question {i}", reference="yes") for i in range(40)]


# ---- metrics ---------------------------------------------------------------------------------------------------


def test_pass_is_one_or_zero_and_a_failed_call_is_a_fail():
    m = metric_for(None, [suite_item(1, 1)])
    item = suite_item(1, 1)
    assert (m.name, m.low, m.high) == ("pass", 0.0, 1.0)
    assert m.value(cell("a", item, passed=True)) == 1.0 and m.value(cell("a", item, passed=False)) == 0.0
    assert m.value(cell("a", item, status="error")) == 0.0
    assert m.value(cell("a", item, status="cancelled")) is None and m.value(cell("a", item)) is None  # no checks ran


def test_scores_scale_by_their_declared_range():
    sim, bleu = metric_for("semantic_similarity", ITEMS), metric_for("bleu", ITEMS)
    assert (sim.low, sim.high) == (-1.0, 1.0) and (bleu.low, bleu.high) == (0.0, 100.0)
    assert sim.value(cell("a", ITEMS[0], semantic_similarity=0.5)) == 0.75
    assert bleu.value(cell("a", ITEMS[0], bleu=40.0)) == 0.4
    assert bleu.value(cell("a", ITEMS[0], status="error", bleu=40.0)) is None  # a failed call has no score
    assert bleu.value(cell("a", ITEMS[0])) is None
    refusal = metric_for("is_refusal", [BatchItem("1", "x")])  # no reference needed; lower is better
    assert refusal.higher_is_better is False


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ttft_s", "no upper bound"),
        ("cost_usd", "no upper bound"),
        ("characters", "no direction"),
        ("flesch_reading_ease", "no finite range"),
        ("assertions_passed", "needs a suite's checks"),
        ("zzz", "Unknown metric"),
    ],
)
def test_unbounded_undirected_or_unknown_metrics_are_refused_naming_usable_ones(name, message):
    with pytest.raises(BatchRefused, match=message) as exc:
        metric_for(name, ITEMS)
    assert "exact_match" in str(exc.value) and "ttft_s" not in str(exc.value).split("known range:")[1]


def test_a_suite_without_checks_has_nothing_to_pass():
    info = SuiteInfo(1, "t", {}, 1, None, [])
    with pytest.raises(BatchRefused, match="no checks"):
        metric_for(None, [BatchItem("t1-p1", "p", metadata=info.metadata())])


# ---- pairing and order ---------------------------------------------------------------------------------------


def test_two_models_pair_by_item_and_one_model_on_two_prompts_pairs_by_test():
    items = [suite_item(t, p) for t in (1, 2) for p in (1, 2)]
    by_model = Pairing.of(Batch(items=items, model_refs=["a", "b"]))
    assert (by_model.a, by_model.b, by_model.unit("t1-p2", items[1].metadata)) == (Arm("a"), Arm("b"), "t1-p2")
    by_prompt = Pairing.of(Batch(items=items, model_refs=["m"]))
    assert (by_prompt.a, by_prompt.b) == (Arm("m", 1), Arm("m", 2))
    assert by_prompt.unit("t1-p2", items[1].metadata) == by_prompt.unit("t1-p1", items[0].metadata) == "test 1"
    assert by_prompt.side(cell("m", items[1])) == 1 and by_prompt.side(cell("x", items[1])) is None
    with pytest.raises(BatchRefused, match="two arms"):
        Pairing.of(Batch(items=ITEMS, model_refs=["a", "b", "c"]))


def test_the_shuffle_is_seeded_keeps_a_unit_together_and_caps_units():
    items = [suite_item(t, p) for t in range(1, 21) for p in (1, 2)]
    pair = Pairing(Arm("m", 1), Arm("m", 2))
    once, again = shuffle_units(items, pair, 5, None), shuffle_units(items, pair, 5, None)
    assert once == again and sorted(i.item_id for i in once) == sorted(i.item_id for i in items)
    tests = [SuiteInfo.from_metadata(i.metadata).test for i in once]
    assert tests[::2] == tests[1::2] and tests[::2] != list(range(1, 21))  # pairs adjacent, order shuffled
    assert len(shuffle_units(items, pair, 5, 7)) == 14 and shuffle_units(items, pair, 6, None) != once


def test_prepare_shuffles_a_new_batch_but_never_a_resumed_one():
    batch = Batch(items=list(ITEMS), model_refs=["a", "b"])
    referee = prepare(batch, threading.Event(), metric="exact_match", alpha=0.05, max_items=10, seed=1, resumed=False)
    assert len(batch.items) == 10 and batch.items != ITEMS[:10] and referee.pool == 40
    resumed = Batch(items=list(ITEMS), model_refs=["a", "b"])
    prepare(resumed, threading.Event(), metric="exact_match", alpha=0.05, max_items=None, seed=1, resumed=True)
    assert resumed.items == ITEMS
    with pytest.raises(BatchRefused, match="resume without --max-items"):
        prepare(resumed, threading.Event(), metric="exact_match", alpha=0.05, max_items=5, seed=1, resumed=True)


# ---- the referee -----------------------------------------------------------------------------------------------


def referee(items: list[BatchItem], metric: str = "exact_match", repeats: int = 1) -> Referee:
    batch = Batch(items=items, model_refs=["a", "b"], repeats=repeats)
    return Referee(batch, Pairing.of(batch), metric_for(metric, items), 0.05, threading.Event())


def test_units_feed_in_the_batch_order_whatever_order_they_finish_in():
    ref = referee(ITEMS[:3])
    ref.on_result(cell("a", ITEMS[1], exact_match=1.0), False)
    ref.on_result(cell("b", ITEMS[1], exact_match=0.0), False)
    assert ref.fed == 0  # q1 is done, but q0 comes first
    ref.on_result(cell("a", ITEMS[0], exact_match=1.0), False)
    assert ref.fed == 0
    ref.on_result(cell("b", ITEMS[0], status="cancelled"), False)  # aborted: not an answer, q0 still waits
    assert ref.fed == 0
    ref.on_result(cell("b", ITEMS[0], exact_match=1.0), True)
    assert ref.fed == 2 and ref.cs.n == 2 and ref.cs.total == 1.0  # q0 (a tie), then q1 (+1)


def test_a_unit_without_the_metric_on_both_sides_is_skipped_and_said():
    ref = referee(ITEMS[:2])
    ref.on_result(cell("a", ITEMS[0], status="error"), False)
    ref.on_result(cell("b", ITEMS[0], exact_match=1.0), False)
    assert ref.fed == 1 and ref.skipped == 1 and ref.cs.n == 0
    assert "1 items without exact_match on both sides" in ref.decision().line()


def test_repeats_average_within_a_unit_before_differencing():
    ref = referee(ITEMS[:1], repeats=2)
    for a, b in ((1.0, 0.0), (0.0, 0.0)):
        ref.on_result(cell("a", ITEMS[0], exact_match=a), False)
        ref.on_result(cell("b", ITEMS[0], exact_match=b), False)
    assert ref.cs.n == 1 and ref.cs.total == 0.5


def test_it_stops_the_batch_the_moment_it_decides_and_names_the_better_arm():
    ref = referee(ITEMS)
    for k, item in enumerate(ITEMS[:20], 1):
        ref.on_result(cell("a", item, exact_match=0.0), False)
        ref.on_result(cell("b", item, exact_match=1.0), False)
        assert ref.stop.is_set() == (k >= 17)
    d = ref.decision()
    assert (d.decided, d.better, d.used, d.seen, d.available) == (True, "b", 17, 20, 40)
    assert d.high <= 0 and d.low == -1.0 and d.mean == -1.0
    assert d.line().startswith("decided: b is better on exact_match: a − b = -1, 95% CS [-1, ")
    assert d.line().endswith("after 17 of 40 items (3 more finished in flight).")


def test_lower_is_better_flips_which_arm_is_named():
    items = [BatchItem(f"q{i}", "x") for i in range(20)]
    ref = referee(items, metric="is_refusal")
    for item in items:
        ref.on_result(cell("a", item, is_refusal=1.0), False)  # a refuses, b answers
        ref.on_result(cell("b", item, is_refusal=0.0), False)
    d = ref.decision()
    assert d.low >= 0 and d.better == "b"


def test_scores_report_in_their_own_units():
    items = [BatchItem(f"q{i}", "x", reference="yes") for i in range(60)]
    ref = referee(items, metric="chrf")
    for item in items:
        ref.on_result(cell("a", item, chrf=80.0), False)
        ref.on_result(cell("b", item, chrf=30.0), False)
    d = ref.decision()
    assert d.mean == pytest.approx(50.0) and 0 < d.low < 50 < d.high <= 100  # a steady 50-point gap: decided
    assert d.decided and d.used > 17  # a half-size gap takes longer than a full one


def outcome(batch: Batch, status: str, note: str | None) -> BatchOutcome:
    return BatchOutcome(batch, status, note, [])


def test_finish_marks_a_batch_it_stopped_as_decided_and_keeps_other_endings():
    ref = referee(ITEMS)
    for item in ITEMS[:17]:
        ref.on_result(cell("a", item, exact_match=1.0), False)
        ref.on_result(cell("b", item, exact_match=0.0), False)
    done = ref.finish(outcome(ref.batch, "stopped", STOPPED_NOTE), None)
    assert ref.batch.status == DECIDED and ref.batch.note == done.line() and "Stopped by the user" not in ref.batch.note

    undecided = referee(ITEMS)
    undecided.on_result(cell("a", ITEMS[0], exact_match=1.0), False)
    undecided.on_result(cell("b", ITEMS[0], exact_match=0.0), False)
    undecided.finish(outcome(undecided.batch, "stopped", STOPPED_NOTE), None)  # Ctrl-C before it could decide
    assert undecided.batch.status == "stopped"
    assert undecided.batch.note.startswith("not decided: 95% CS [") and undecided.batch.note.endswith(STOPPED_NOTE)


def test_differences_of_a_finished_batch_pair_units_that_both_answered():
    results = [cell("a", i, exact_match=1.0) for i in ITEMS[:5]] + [cell("b", i, exact_match=0.0) for i in ITEMS[1:5]]
    assert differences(results, Pairing(Arm("a"), Arm("b")), Metric("exact_match", 0, 1, True)) == [1.0] * 4
