"""Batch runs on the scripted provider: input files, cell keys, resume, stop, budget cap, store migration, tables."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from bakeoff.batch import store as batch_store
from bakeoff.batch.input import BatchInputError, load_items, parse_items
from bakeoff.batch.results import aggregate_frame, cells_frame, default_metric, export_bytes, paired
from bakeoff.batch.runner import Batch, BatchRefused, build_cells, estimate_batch, prepare_batch, run_batch_blocking
from bakeoff.catalog.config import PriceRow
from bakeoff.records import Params
from bakeoff.runner.fan_out import RetryPolicy
from bakeoff.store.store import Store
from tests.conftest import scripted_catalog

FAST = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.02)
CSV = b"id,prompt,reference,topic\nq1,What is 2+2?,4,math\nq2,Capital of France?,Paris,geo\nq3,Say hi,hi,chat\n"


def _items():
    return parse_items(CSV, "set.csv")


# ---- input files ---------------------------------------------------------------------------------------------


def test_csv_keeps_ids_references_and_extra_columns():
    items = _items()
    assert [(i.item_id, i.reference, i.metadata, i.row) for i in items] == [
        ("q1", "4", {"topic": "math"}, 1),
        ("q2", "Paris", {"topic": "geo"}, 2),
        ("q3", "hi", {"topic": "chat"}, 3),
    ]


def test_jsonl_and_yaml_and_default_ids(tmp_path):
    jl = tmp_path / "set.jsonl"
    jl.write_text('{"prompt": "a", "system": "be brief", "lang": "en"}\n\n{"prompt": "b", "score": 3}\n')
    items = load_items(jl)
    assert [(i.item_id, i.system, i.metadata) for i in items] == [
        ("1", "be brief", {"lang": "en"}),
        ("3", None, {"score": 3}),
    ]
    y = tmp_path / "set.yaml"
    y.write_text("items:\n  - prompt: one\n    id: x\n  - two\n")
    assert [(i.item_id, i.prompt) for i in load_items(y)] == [("x", "one"), ("2", "two")]


# (file name, bytes, what the refusal says): each is refused naming the file and the row or line
BAD_FILES = [
    ("a.csv", b"question,answer\nhi,there\n", "a.csv: no `prompt` column (found 'question', 'answer')"),
    ("a.csv", b"prompt,id\nhello,1\n  ,2\n", "a.csv: row 2: the prompt is empty"),
    ("a.csv", b"prompt\n\xff\xfehello\n", "a.csv: not UTF-8 text (byte 0xff on line 2)"),
    ("a.csv", b"prompt,id\na,1\nb,1\n", "a.csv: row 2: id '1' is already used by row 1"),
    ("a.csv", b"prompt\na,b\n", "a.csv: row 1 has 2 cells but the header names 1"),
    ("a.jsonl", b'{"prompt": "a"}\n{"prompt": \n', "a.jsonl: line 2 is not valid JSON"),
    ("a.jsonl", b'{"text": "a"}\n', "a.jsonl: line 1 has no `prompt`"),
    ("a.jsonl", b'["a"]\n', "a.jsonl: line 1 must be a JSON object"),
    ("a.yaml", b"prompt: [unclosed\n", "a.yaml: not valid YAML on line"),
    ("a.yaml", b"- prompt: 5\n", "a.yaml: item 1: `prompt` must be text, got int"),
    ("a.txt", b"hello", "a.txt: unknown file type"),
    ("a.csv", b"prompt\n", "a.csv: no items found"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_FILES)
def test_bad_input_names_file_and_row(name, data, message):
    with pytest.raises(BatchInputError) as exc:
        parse_items(data, name)
    assert message in str(exc.value)


# (CSV bytes, the line its unclosed quote opens on)
UNCLOSED_QUOTES = [
    (b'id,prompt\n1,"What is\n2,Capital of France?\n3,Say hi\n', 2),
    (b'id,prompt\r\n1,"ok, fine"\r\n2,"He said ""hi"""\r\n3,"and this never closes\r\n4,x\r\n', 4),
    (b'prompt,id\n"multi\nline",1\n"open,2\n', 4),
]


@pytest.mark.parametrize(("data", "line"), UNCLOSED_QUOTES)
def test_an_unterminated_quote_is_refused_naming_the_line_it_opened_on(data, line):
    """csv would read every row after it into one prompt, silently."""
    with pytest.raises(BatchInputError, match=rf"a.csv: the quote opened on line {line} is never closed"):
        parse_items(data, "a.csv")


def test_quotes_that_close_are_fine():
    data = b'prompt,id\n"multi\nline, with ""quotes""",1\nsay "hi" now,2\n"a"b,3\n'
    items = parse_items(data, "a.csv")
    assert [i.prompt for i in items] == ['multi\nline, with "quotes"', 'say "hi" now', "ab"]


def test_missing_file(tmp_path):
    with pytest.raises(BatchInputError, match="no such file"):
        load_items(tmp_path / "nope.csv")


# ---- cells and keys ---------------------------------------------------------------------------------------------


def test_cells_are_items_by_repeats_by_models_with_stable_distinct_keys():
    cat = scripted_catalog(a={}, b={})
    b = Batch(items=_items(), model_refs=["a", "b"], repeats=2)
    cells = build_cells(b, prepare_batch(b, cat))
    assert len(cells) == 12 and len({c.key for c in cells}) == 12
    assert len({c.run_id for c in cells}) == 6  # one run per (item, repeat)
    again = build_cells(b, prepare_batch(b, cat))
    assert [c.key for c in cells] == [c.key for c in again]
    hotter = Batch(items=_items(), model_refs=["a", "b"], repeats=2, params=Params(temperature=0.1))
    assert not {c.key for c in cells} & {c.key for c in build_cells(hotter, prepare_batch(hotter, cat))}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_refs": []}, "No model selected"),
        ({"model_refs": ["a", "a"]}, "selected twice"),
        ({"repeats": 0}, "Repeats must be at least 1"),
        ({"concurrency": 0}, "Concurrency must be between"),
        ({"budget_usd": Decimal(0)}, "budget cap must be positive"),
        ({"params": Params(max_tokens=0)}, "Max tokens must be at least 1"),
        ({"model_refs": ["nope"]}, "Unknown model"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    cat = scripted_catalog(a={})
    args = {"items": _items(), "model_refs": ["a"], **kwargs}
    with pytest.raises(BatchRefused, match=message):
        prepare_batch(Batch(**args), cat)


# ---- running, resuming, stopping --------------------------------------------------------------------------------


def test_run_saves_every_cell_and_resume_reruns_nothing(scripted, store):
    cat = scripted_catalog(a={"usage": [10, 2], "priced": True}, b={"chunks": ["4"], "usage": [8, 1]})
    b = Batch(items=_items(), model_refs=["a", "b"], repeats=2, concurrency=3, params=Params(max_tokens=20))
    seen = []
    out = run_batch_blocking(b, cat, store, policy=FAST, on_progress=seen.append)
    assert out.status == "done" and len(out.results) == 12 and all(r.status == "ok" for r in out.results)
    assert scripted.calls == {"a": 6, "b": 6}
    assert (
        seen[-1].done == 12 and seen[-1].eta_s == 0 and seen[-1].cost_usd == Decimal("0.000084")
    )  # 6 × (10 × $1 + 2 × $2)/M
    assert seen[-1].unpriced == 6  # b has no price row
    stored = batch_store.batch_results(store, b.batch_id)
    assert sorted(r.cell_key for r in stored) == sorted(r.cell_key for r in out.results)
    assert {r.item_metadata["topic"] for r in stored} == {"math", "geo", "chat"}
    assert batch_store.get_batch(store, b.batch_id).status == "done"
    run, results = store.get_run(out.results[0].run_id)
    assert run.source == "batch" and run.status == "done" and len(results) == 2

    again = run_batch_blocking(batch_store.get_batch(store, b.batch_id), cat, store, policy=FAST)
    assert scripted.calls == {"a": 6, "b": 6}  # nothing re-run, nothing re-billed
    assert len(again.cached) == 12 and again.progress.cached == 12 and again.progress.cost_usd == Decimal("0.000084")
    frame = cells_frame(b.items, again.results, again.cached)
    assert frame["cached"].all() and set(frame["topic"]) == {"math", "geo", "chat"}


def test_failed_cells_are_rerun_on_resume_and_replace_their_row(scripted, store):
    cat = scripted_catalog(a={}, bad={"fail": "AuthError", "http_status": 401})
    b = Batch(items=_items(), model_refs=["a", "bad"], params=Params(max_tokens=20))
    out = run_batch_blocking(b, cat, store, policy=FAST)
    assert out.status == "done" and out.note == "3 cells failed; resume to run them again."
    cat.entries["bad"] = cat.entries["bad"].model_copy(update={"options": {}})  # the key got fixed
    again = run_batch_blocking(b, cat, store, policy=FAST)
    assert scripted.calls == {"a": 3, "bad": 6} and len(again.cached) == 3
    stored = batch_store.batch_results(store, b.batch_id)
    assert len(stored) == 6 and all(r.status == "ok" for r in stored)


def test_stop_keeps_finished_cells_and_resume_runs_only_the_rest(scripted, store):
    cat = scripted_catalog(slow={"chunks": ["a", "b"], "chunk_delay": 0.15})
    items = parse_items(b"prompt\n" + b"".join(f"p{i}\n".encode() for i in range(8)), "s.csv")
    b = Batch(items=items, model_refs=["slow"], concurrency=2, params=Params(max_tokens=20))
    cancel = threading.Event()
    threading.Timer(0.4, cancel.set).start()
    out = run_batch_blocking(b, cat, store, policy=FAST, cancel=cancel)
    assert out.status == "stopped" and "Resume" in out.note
    finished = {r.cell_key for r in out.results if r.status == "ok"}
    assert 2 <= len(finished) < 8
    assert all(r.status in ("ok", "cancelled") for r in out.results)  # calls in flight were cancelled, not failed
    first_calls = scripted.calls["slow"]
    again = run_batch_blocking(b, cat, store, policy=FAST)
    assert again.status == "done" and again.cached == finished
    assert scripted.calls["slow"] - first_calls == 8 - len(finished)  # only the unfinished cells


def _fast_and_slow(slow_delay: float):
    """Two items × a fast and a slow model (second chunk `slow_delay` s late), two workers: item 1's cells run first."""
    cat = scripted_catalog(
        fast={"chunks": ["ok"], "usage": [10, 2], "priced": True},
        slow={"chunks": ["a", "b"], "chunk_delay": slow_delay, "priced": True},
    )
    items = parse_items(b"id,prompt\ni1,one\ni2,two\n", "s.csv")
    return cat, Batch(items=items, model_refs=["fast", "slow"], concurrency=2, params=Params(max_tokens=20))


def test_stop_lets_the_call_in_flight_finish_with_its_cost_and_resume_does_not_send_it_again(scripted, store):
    cat, b = _fast_and_slow(slow_delay=1.0)
    stop = threading.Event()
    out = run_batch_blocking(b, cat, store, policy=FAST, stop=stop, on_result=lambda r, cached: stop.set())
    assert out.status == "stopped" and "Resume" in out.note
    # The fast cell landed first and stopped the batch; the slow one, mid-answer then, finished and was billed.
    assert [(r.model_ref, r.item_id, r.status, r.output) for r in out.results] == [
        ("fast", "i1", "ok", "ok"),
        ("slow", "i1", "ok", "ab"),
    ]
    assert all(r.cost_usd is not None and r.cost_usd > 0 for r in out.results)
    stored = batch_store.batch_results(store, b.batch_id)
    assert sorted((r.model_ref, r.status) for r in stored) == [("fast", "ok"), ("slow", "ok")]
    assert scripted.calls == {"fast": 1, "slow": 1}
    again = run_batch_blocking(b, cat, store, policy=FAST)
    assert again.status == "done" and len(again.cached) == 2
    assert scripted.calls == {"fast": 2, "slow": 2}  # item 2 only: nothing that finished was sent again


def test_cancel_after_stop_aborts_the_call_in_flight_keeping_its_text_and_cost(scripted, store):
    cat, b = _fast_and_slow(slow_delay=30.0)
    stop, cancel = threading.Event(), threading.Event()

    def on_result(res, cached):
        stop.set()
        threading.Timer(0.3, cancel.set).start()  # the slow cell has streamed "a" and waits for "b"

    out = run_batch_blocking(b, cat, store, policy=FAST, stop=stop, cancel=cancel, on_result=on_result)
    assert out.status == "stopped"
    fast, slow = out.results
    assert (fast.status, slow.status, slow.output, slow.error.cls) == ("ok", "cancelled", "a", "Cancelled")
    assert slow.tokens_source == "estimated" and slow.cost_usd is not None and slow.cost_usd > 0
    assert out.progress.cost_usd == fast.cost_usd + slow.cost_usd  # what was received counts against a budget
    (stored,) = [r for r in batch_store.batch_results(store, b.batch_id) if r.model_ref == "slow"]
    assert (stored.status, stored.output, stored.cost_usd) == ("cancelled", "a", slow.cost_usd)
    cat.entries["slow"].options["chunk_delay"] = 0.0
    again = run_batch_blocking(b, cat, store, policy=FAST)
    assert again.status == "done" and scripted.calls == {"fast": 2, "slow": 3}  # the aborted cell is sent again


def test_budget_refuses_to_start_above_the_estimate(scripted, store):
    cat = scripted_catalog(a={"priced": True})  # $1 / $2 per M
    b = Batch(items=_items(), model_refs=["a"], params=Params(max_tokens=1000), budget_usd=Decimal("0.005"))
    est = estimate_batch(b, cat)
    assert est.total_usd > Decimal("0.005")  # 3 × 1000 × $2/M = $0.006 of output alone
    with pytest.raises(BatchRefused, match=r"above the \$0.005 cap"):
        run_batch_blocking(b, cat, store, policy=FAST)
    assert scripted.calls == {} and batch_store.get_batch(store, b.batch_id) is None


def test_unpriced_model_cannot_start_under_a_cap(scripted, store):
    cat = scripted_catalog(a={})
    b = Batch(items=_items(), model_refs=["a"], budget_usd=Decimal("1"))
    with pytest.raises(BatchRefused, match="cannot be bounded"):
        run_batch_blocking(b, cat, store, policy=FAST)


def test_budget_stops_when_actual_cost_reaches_the_cap(scripted, store):
    # priced far above what the estimate can see: the reported usage is large, so actual cost hits the cap
    cat = scripted_catalog(a={"usage": [100_000, 10], "priced": True})
    items = parse_items(b"prompt\n" + b"".join(f"p{i}\n".encode() for i in range(6)), "s.csv")
    b = Batch(items=items, model_refs=["a"], concurrency=1, params=Params(max_tokens=10), budget_usd=Decimal("0.25"))
    out = run_batch_blocking(b, cat, store, policy=FAST)
    # each call costs 100000 × $1/M + 10 × $2/M = $0.10002: two fit under $0.25, the third reaches it
    assert out.status == "budget" and scripted.calls == {"a": 3}
    assert out.progress.cost_usd == Decimal("0.30006") and "budget cap" in out.note
    assert batch_store.get_batch(store, b.batch_id).status == "budget"


def test_local_compute_cells_count_their_actual_cost_against_the_cap(scripted):
    cat = scripted_catalog(loc={"kind": "local", "chunks": ["x"], "first_delay": 0.2})
    b = Batch(items=_items(), model_refs=["loc"], concurrency=1, budget_usd=Decimal("0.00001"))
    out = run_batch_blocking(b, cat, None, policy=FAST)
    # $0.36/h: one 0.2 s call costs $0.00002 > cap, so the batch stops after the first cell
    assert out.status == "budget" and len(out.results) == 1


# ---- store migration ---------------------------------------------------------------------------------------------


def test_migration_3_adds_batch_columns_to_an_old_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url)
    eng = sa.create_engine(url)
    with eng.begin() as conn:  # roll the database back to before migration 3
        conn.execute(sa.text("DROP INDEX ix_results_batch_cell"))
        for col in ("batch_id", "item_id", "cell_key", "repeat", "item_metadata"):
            conn.execute(sa.text(f"ALTER TABLE results DROP COLUMN {col}"))
        conn.execute(sa.text("DROP TABLE batches"))
        conn.execute(sa.text("DELETE FROM migrations WHERE number = 3"))
    Store(url)
    cols = {c["name"] for c in sa.inspect(eng).get_columns("results")}
    assert {"batch_id", "item_id", "cell_key", "repeat", "item_metadata"} <= cols
    assert sa.inspect(eng).has_table("batches")


def test_list_batches_counts_results(scripted, store):
    cat = scripted_catalog(a={})
    b = Batch(items=_items(), model_refs=["a"], name="set.csv", budget_usd=None)
    run_batch_blocking(b, cat, store, policy=FAST)
    (row,) = batch_store.list_batches(store)
    assert (row["batch_id"], row["name"], row["n_results"], row["n_ok"], row["model_refs"]) == (
        b.batch_id,
        "set.csv",
        3,
        3,
        ["a"],
    )
    assert isinstance(row["created_at"], dt.datetime)


# ---- tables and exports ------------------------------------------------------------------------------------------


def test_aggregates_and_paired_comparison_on_known_outputs(scripted):
    cat = scripted_catalog(
        right={"replies": [["2\\+2", "4"], ["France", "Paris"], ["hi", "hi"]]},
        wrong={"replies": [["2\\+2", "5"], ["France", "Paris"], ["hi", "bye"]]},
    )
    b = Batch(items=_items(), model_refs=["right", "wrong"], repeats=2)
    out = run_batch_blocking(b, cat, None, policy=FAST)
    agg = aggregate_frame(out.results).set_index("model")
    assert agg.loc["right", "exact_match"] == 1.0
    assert (agg.loc["right", "exact_match_low"], agg.loc["right", "exact_match_high"]) == (1.0, 1.0)
    assert agg.loc["wrong", "exact_match"] == pytest.approx(1 / 3)
    assert agg.loc["wrong", "exact_match_low"] <= 1 / 3 <= agg.loc["wrong", "exact_match_high"]
    assert agg.loc["wrong", "exact_match_n"] == 6 and agg.loc["right", "failed"] == 0
    pc = paired(out.results, "right", "wrong", "exact_match")
    assert (pc["items"], pc["a_wins"], pc["ties"], pc["b_wins"]) == (3, pytest.approx(2 / 3), pytest.approx(1 / 3), 0)
    assert pc["mean_diff"] == pytest.approx(2 / 3) and pc["ci_low"] <= pc["mean_diff"] <= pc["ci_high"]
    with pytest.raises(ValueError, match="cannot be compared"):
        paired(out.results, "right", "wrong", "words")  # a length is not better or worse


def test_the_default_paired_metric_is_a_task_grade_on_which_the_models_differ(scripted):
    cat = scripted_catalog(
        a={"replies": [["2\\+2", "The answer is 4"], ["France", "It is Paris"], ["hi", "hello there"]]},
        b={"replies": [["2\\+2", "I think 5"], ["France", "Lyon"], ["hi", "bye now"]]},
    )
    out = run_batch_blocking(Batch(items=_items(), model_refs=["a", "b"]), cat, None, policy=FAST)
    names = ["e2e_s", "exact_match", "token_f1", "words"]
    # exact match ties on every item (neither answer is exactly the reference): "tie 100 %" says nothing
    assert paired(out.results, "a", "b", "exact_match")["ties"] == 1.0
    assert default_metric(out.results, "a", "b", names) == "token_f1"
    assert default_metric(out.results, "a", "b", ["exact_match", "words"]) == "exact_match"  # all there is
    assert default_metric(out.results, "a", "b", ["words"]) is None


def test_exports_round_trip(scripted):
    cat = scripted_catalog(a={"chunks": ["=1+1"]})
    items = parse_items(b"prompt,model\nhi,mine\n", "s.csv")  # a metadata column clashing with a result field
    out = run_batch_blocking(Batch(items=items, model_refs=["a"]), cat, None, policy=FAST)
    frame = cells_frame(items, out.results, out.cached)
    assert (frame.loc[0, "model"], frame.loc[0, "meta_model"]) == ("a", "mine")
    csv = export_bytes(frame, "csv").decode("utf-8-sig")
    assert "'=1+1" in csv
    (line,) = export_bytes(frame, "jsonl").decode().splitlines()
    assert json.loads(line)["output"] == "=1+1"
    import io

    back = pd.read_parquet(io.BytesIO(export_bytes(frame, "parquet")))
    assert back.loc[0, "output"] == "=1+1" and back.loc[0, "status"] == "ok"
    mixed = parse_items(b'{"prompt": "a", "tag": 1}\n{"prompt": "b", "tag": "x"}\n', "m.jsonl")
    out2 = run_batch_blocking(Batch(items=mixed, model_refs=["a"]), cat, None, policy=FAST)
    back2 = pd.read_parquet(io.BytesIO(export_bytes(cells_frame(mixed, out2.results), "parquet")))
    assert sorted(back2["tag"]) == ["1", "x"]
    with pytest.raises(ValueError, match="unknown export format"):
        export_bytes(frame, "xlsx")


def test_price_row_is_the_one_of_the_batch_day(scripted):
    cat = scripted_catalog(a={"usage": [1000, 0], "priced": True})
    cat.prices["a"].append(PriceRow(as_of=dt.date(2099, 1, 1), source="t", input=Decimal("100"), output=Decimal("1")))
    out = run_batch_blocking(Batch(items=_items()[:1], model_refs=["a"]), cat, None, policy=FAST)
    assert out.results[0].cost_usd == Decimal("0.001")
