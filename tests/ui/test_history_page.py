"""AppTest of the History page: filters, paging, empty states, open, re-run, delete, export many."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pandas as pd
import pytest

from bakeoff.records import ErrorInfo, Params, Result, Run
from bakeoff.store.store import Store
from tests.ui.test_compare_page import MODELS, PRICING, wait_until_done

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _save(store: Store, i: int, prompt: str, models: list[str], *, fail: str | None = None) -> Run:
    run = Run(prompt=prompt, model_refs=models, created_at=T0 + dt.timedelta(hours=i), status="done",
              params=Params(max_tokens=64, temperature=0.3, seed=7, system="Be brief."))
    store.save_run(run)
    for m in models:
        failed = m == fail
        store.save_result(Result(
            run_id=run.run_id, model_ref=m, provider="scripted", model=m, status="error" if failed else "ok",
            output="" if failed else f"{m} answers {prompt}", e2e_s=None if failed else 0.5, ttft_s=0.1,
            input_tokens=5, output_tokens=3, cost_usd=None if failed or m != "alpha" else Decimal("0.000021"),
            error=ErrorInfo("AuthError", "bad key") if failed else None, scores={"token_f1": 0.5} if not failed else {},
        ))
    return run


@pytest.fixture
def history(start_app, tmp_path):
    """The app with 25 stored runs (alpha; alpha+beta; every fifth with a failing beta), on the History page."""
    at = start_app(MODELS, PRICING)
    store = Store(f"sqlite:///{tmp_path / 'ui.db'}")
    runs = [_save(store, i, f"question {i}" + (" about Paris" if i % 4 == 0 else ""),
                  ["alpha"] if i % 2 else ["alpha", "beta"], fail="beta" if i % 5 == 0 else None)
            for i in range(25)]
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    return at, store, runs


def _table(at) -> pd.DataFrame:
    return at.dataframe[0].value  # the runs table comes first


def test_empty_history_tells_what_to_do(start_app):
    at = start_app(MODELS, PRICING)
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    assert any("No runs yet" in i.value and "Compare" in i.value for i in at.info)


def test_newest_first_paged_and_clamped(history):
    at, _, runs = history
    table = _table(at)
    assert len(table) == 20 and table["run_id"].iloc[0] == runs[-1].run_id
    assert "25 runs match · page 1 of 2" in "\n".join(c.value for c in at.caption)
    at.number_input(key="history_page").set_value(2).run()
    assert list(_table(at)["run_id"]) == [r.run_id for r in reversed(runs[:5])]
    at.text_input(key="history_text").input("paris").run()  # 7 runs: the page clamps back to 1 of 1
    assert not at.exception and at.number_input(key="history_page").value == 1
    assert len(_table(at)) == 7 and _table(at)["prompt"].str.contains("Paris").all()


def test_filters_by_model_status_and_date(history):
    at, _, runs = history
    at.multiselect(key="history_models").set_value(["beta"]).run()
    assert len(_table(at)) == 13  # even i
    at.multiselect(key="history_status").set_value(["with failures"]).run()
    assert set(_table(at)["run_id"]) == {runs[i].run_id for i in (0, 10, 20)}
    assert set(_table(at)["ok"]) == {"1/2"}
    at.multiselect(key="history_models").set_value([]).run()
    at.multiselect(key="history_status").set_value([]).run()
    day = (T0 + dt.timedelta(hours=16)).date()  # hours 15..24 of T0+1 day -> runs 15..24
    at.date_input(key="history_dates").set_value((day, day)).run()
    assert set(_table(at)["run_id"]) == {runs[i].run_id for i in range(15, 25)}
    at.text_input(key="history_text").input("no such prompt").run()
    assert any("No run matches these filters" in i.value for i in at.info)
    assert not at.exception


def test_table_formats_costs_and_units(history):
    at, _, _ = history
    table = _table(at)
    assert set(table["cost"]) <= {"$0.000021", "$0.000042"}  # fractions of a cent keep their digits
    assert table["mean_e2e_s"].dropna().eq(0.5).all()


def test_open_shows_run_as_it_was(history):
    at, _, _ = history
    at.selectbox(key="history_open").select_index(24 - 20).run()  # newest first
    text = "\n".join(m.value for m in at.markdown)
    assert "alpha answers question 20 about Paris" in text
    assert any("AuthError" in e.value for e in at.error)
    captions = "\n".join(c.value for c in at.caption)
    assert "temperature 0.3" in captions and "seed 7" in captions and "max tokens 64" in captions


def test_delete_asks_first_then_removes(history):
    at, store, runs = history
    target = runs[-1].run_id
    at.selectbox(key="history_open").select_index(0).run()
    at.button(key="history_delete_one").click().run()
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="history_delete_no").click().run()  # cancel keeps it
    assert store.get_run(target) is not None and not any("cannot be undone" in w.value for w in at.warning)
    at.button(key="history_delete_one").click().run()
    at.button(key="history_delete_yes").click().run()
    assert not at.exception
    assert store.get_run(target) is None
    assert any("Deleted 1 run" in s.value for s in at.success)
    assert target not in set(_table(at)["run_id"]) and "24 runs match" in "\n".join(c.value for c in at.caption)


def test_select_many_export_and_delete(history):
    at, store, runs = history
    at.button(key="history_select_page").click().run()
    at.number_input(key="history_page").set_value(2).run()
    at.button(key="history_select_page").click().run()
    assert len(at.multiselect(key="history_selected").value) == 25  # kept across pages
    keep = [x for x in at.multiselect(key="history_selected").value if x.endswith((runs[0].run_id, runs[1].run_id))]
    at.multiselect(key="history_selected").set_value(keep).run()
    csv = at.get("download_button")
    labels = [b.proto.label for b in csv]
    assert {"Download CSV", "Download JSONL", "Download Parquet"} <= set(labels)
    from bakeoff.store import export

    pairs = [store.get_run(runs[0].run_id), store.get_run(runs[1].run_id)]
    frame = pd.read_csv(io.BytesIO(export.to_csv(pairs)), encoding="utf-8-sig")
    assert sorted(frame["model"]) == ["alpha", "alpha", "beta"]
    lines = [json.loads(x) for x in export.to_jsonl(pairs).splitlines()]
    assert {x["run_id"] for x in lines} == {runs[0].run_id, runs[1].run_id}
    parquet = pd.read_parquet(io.BytesIO(export.to_parquet(pairs)))
    assert len(parquet) == 3 and str(parquet["created_at"].dtype).startswith("datetime64")
    at.button(key="history_sel_delete").click().run()
    at.button(key="history_delete_yes").click().run()
    assert store.get_run(runs[0].run_id) is None and store.get_run(runs[1].run_id) is None
    assert at.multiselect(key="history_selected").value == []
    assert "23 runs match" in "\n".join(c.value for c in at.caption)


def test_rerun_starts_a_new_run_and_opens_compare_prefilled(history):
    at, store, runs = history
    source = runs[5]  # alpha only
    at.selectbox(key="history_open").select_index(24 - 5).run()
    at.button(key="history_rerun").click().run()
    assert not at.exception
    new_id = at.session_state["compare_run_id"]
    assert new_id != source.run_id
    assert at.text_area(key="compare_prompt").value == source.prompt  # on Compare, prefilled
    assert at.multiselect(key="compare_models").value == ["alpha"]
    assert at.slider(key="compare_temperature").value == pytest.approx(0.3)
    assert at.number_input(key="compare_max_tokens").value == 64 and at.text_input(key="compare_seed").value == "7"
    at = wait_until_done(at)
    again, results = store.get_run(new_id)
    assert again.prompt == source.prompt and again.params.seed == 7 and again.params.system == "Be brief."
    assert [r.status for r in results] == ["ok"]
    assert "Paris is the capital." in "\n".join(m.value for m in at.markdown)


def test_trends_chart_per_model(history):
    at, _, _ = history
    charts = at.get("plotly_chart")
    assert charts, "trend charts are drawn"
    figs = [json.loads(c.proto.spec) for c in charts]
    titles = [f["layout"]["title"]["text"] for f in figs]
    assert any(t.startswith("Total time per answer") for t in titles)
    total = next(f for f in figs if f["layout"]["title"]["text"].startswith("Total time per answer"))
    assert {t["name"] for t in total["data"]} == {"alpha", "beta"}


def test_status_filter_offers_unsaved_runs(history):
    at, store, runs = history
    store.set_run_status(runs[3].run_id, "unsaved")  # it finished, but the store could not keep all of it
    assert "unsaved" in at.multiselect(key="history_status").options
    at.multiselect(key="history_status").set_value(["unsaved"]).run()
    assert list(_table(at)["run_id"]) == [runs[3].run_id] and list(_table(at)["status"]) == ["unsaved"]
