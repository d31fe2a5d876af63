"""AppTest drives the Batch page with scripted models: paste a prompt set, estimate, start, results, stop, resume;
paste a test suite: its pass/fail grid and prompt variants compared on one model."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from bakeoff.jobs.batches import BatchJob

MODELS = {
    "models": {
        "alpha": {
            "provider": "scripted",
            "model": "alpha",
            "kind": "commercial",
            "label": "Alpha",
            "options": {"replies": [["France", "Paris"], ["2\\+2", "4"], ["Peru", "Lima"]], "usage": [12, 4]},
            "rate_limit": {"requests_per_minute": 6000},
        },
        "beta": {
            "provider": "scripted",
            "model": "beta",
            "kind": "commercial",
            "label": "Beta",
            "options": {"replies": [["France", "Lyon"], ["2\\+2", "4"], ["Peru. One", "Cusco"], ["Peru", "Lima"]]},
        },
        "slow": {
            "provider": "scripted",
            "model": "slow",
            "kind": "commercial",
            "options": {"chunks": ["a", "b"], "chunk_delay": 0.3},
        },
        "glacial": {
            "provider": "scripted",
            "model": "glacial",
            "kind": "commercial",
            "options": {"chunks": ["a", "b"], "chunk_delay": 60},
        },
    }
}
PRICING = {
    "prices": {
        "alpha": [{"as_of": "2024-01-01", "source": "https://example.test/pricing", "input": 1.0, "output": 2.0}]
    }
}
CSV = "id,prompt,reference,topic\nq1,What is the capital of France?,Paris,geo\nq2,What is 2+2?,4,math\n"


@pytest.fixture
def page(start_app):
    at = start_app(MODELS, PRICING, timeout=30)
    at.switch_page("app_pages/batch.py").run()
    assert not at.exception
    return at


def wait_until_done(at: AppTest, timeout: float = 30) -> AppTest:
    from ui import state

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = state.jobs().get(BatchJob, at.session_state["batch_id"])
        if live is not None and live.done:
            break
        time.sleep(0.1)
    return at.run()


def table_with(at: AppTest, column: str):
    """The first dataframe on the page that has this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def fill(at: AppTest, csv: str, models: list[str]) -> AppTest:
    at.text_area(key="batch_paste").input(csv)
    at.multiselect(key="batch_models").set_value(models)
    return at.run()


def test_first_render_explains_what_to_do(page):
    assert any("press **Start**" in i.value for i in page.info)
    assert page.button(key="batch_start").disabled


def test_bad_input_is_a_message_naming_the_row(page):
    at = fill(page, "prompt,id\nhello,1\n ,2\n", ["alpha"])
    assert not at.exception
    assert any("row 2: the prompt is empty" in e.value for e in at.error)
    assert at.button(key="batch_start").disabled


def test_run_shows_aggregates_paired_comparison_and_exports(page):
    at = fill(page, CSV, ["alpha", "beta"])
    assert any("Estimate: 4 calls" in e.label for e in at.expander)  # the pre-run estimate
    at.number_input(key="batch_repeats").set_value(2).run()
    at.button(key="batch_start").click().run()
    at = wait_until_done(at)
    assert not at.exception
    assert any("Batch done" in s.value for s in at.success)
    table = table_with(at, "ok / cells")
    assert list(table["model"]) == ["alpha", "beta"] and list(table["ok / cells"]) == ["4/4", "4/4"]
    assert table.loc[0, "exact_match [95% CI]"] == "1 [1, 1]"
    assert table.loc[1, "exact_match [95% CI]"].startswith("0.5 [")
    assert table.loc[0, "cost total"].startswith("$") and table.loc[1, "cost total"] == "unpriced"
    text = "\n".join(m.value for m in at.markdown)
    assert "alpha better on **50%**" in text  # France: Paris vs Lyon; 2+2: a tie
    items = table_with(at, "cached")
    assert set(items["model"]) == {"alpha", "beta"} and len(items) == 4  # 2 models × 2 repeats
    assert {b.proto.label for b in at.get("download_button")} >= {"CSV", "JSONL", "PARQUET"}


def test_budget_cap_refuses_before_start(page):
    at = fill(page, CSV, ["alpha"])
    at.text_input(key="batch_budget").input("0.0000001").run()
    assert any("above the" in e.value and "cap" in e.value for e in at.error)
    assert at.button(key="batch_start").disabled
    at.text_input(key="batch_budget").input("").run()
    assert not at.button(key="batch_start").disabled


def test_stop_then_resume_runs_only_the_rest(page):
    from bakeoff.batch.store import batch_results
    from ui import state

    csv = "prompt\n" + "".join(f"p{i}\n" for i in range(6))
    at = fill(page, csv, ["slow"])
    at.number_input(key="batch_concurrency").set_value(1).run()
    at.button(key="batch_start").click().run()
    live = state.jobs().get(BatchJob, at.session_state["batch_id"])
    deadline = time.monotonic() + 30
    while live.snapshot().done < 1 and time.monotonic() < deadline:  # stop once a cell has landed
        time.sleep(0.05)
    at.button(key="batch_stop").click().run()
    at = wait_until_done(at)
    batch_id = at.session_state["batch_id"]
    done_first = {r.cell_key for r in batch_results(state.store(), batch_id) if r.status == "ok"}
    assert 1 <= len(done_first) < 6
    at.selectbox(key="batch_resume_pick").set_value(batch_id).run()
    at.button(key="batch_resume").click().run()
    at = wait_until_done(at)
    assert not at.exception
    final = batch_results(state.store(), batch_id)
    assert len(final) == 6 and all(r.status == "ok" for r in final)
    items = table_with(at, "ok / cells")
    assert list(items["ok / cells"]) == ["6/6"]


def _start_and_wait_for_a_call_in_flight(page, model: str) -> AppTest:
    from providers import registry

    scripted = registry.get("scripted")
    at = fill(page, "prompt\n" + "".join(f"p{i}\n" for i in range(6)), [model])
    at.number_input(key="batch_concurrency").set_value(1).run()
    at.button(key="batch_start").click().run()
    deadline = time.monotonic() + 30
    while scripted.active < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert scripted.active == 1
    return at


def test_stop_lets_the_call_in_flight_finish_and_saves_it(page):
    from bakeoff.batch.store import batch_results, get_batch
    from ui import state

    at = _start_and_wait_for_a_call_in_flight(page, "slow")
    at.button(key="batch_stop").click().run()
    assert any("calls in flight finish" in t.value for t in at.toast)
    assert not at.button(key="batch_abort").disabled  # a second thought: abort what is still in flight
    at = wait_until_done(at)
    assert not at.exception
    batch_id = at.session_state["batch_id"]
    stored = batch_results(state.store(), batch_id)
    assert 1 <= len(stored) < 6 and {r.status for r in stored} == {"ok"}  # the call in flight was not aborted
    assert get_batch(state.store(), batch_id).status == "stopped"


def test_abort_stops_the_call_in_flight_and_keeps_what_it_streamed(page):
    from bakeoff.batch.store import batch_results
    from ui import state

    at = _start_and_wait_for_a_call_in_flight(page, "glacial")
    at.button(key="batch_abort").click().run()
    assert any("Aborting" in t.value for t in at.toast)
    at = wait_until_done(at)
    assert not at.exception
    (cell,) = batch_results(state.store(), at.session_state["batch_id"])
    assert (cell.status, cell.output) == ("cancelled", "a")


SUITE = """\
prompts: ["What is the capital of {{country}}?", "Name the capital of {{country}}. One word."]
tests:
  - vars: {country: France}
    assert: ["contains/i: paris"]
  - vars: {country: Peru}
    description: South America
    assert: ["contains/i: lima"]
"""


def fill_suite(at: AppTest, suite: str, models: list[str]) -> AppTest:
    at.radio(key="batch_paste_format").set_value("yaml").run()
    return fill(at, suite, models)


def test_a_suite_shows_the_pass_fail_grid_and_compares_prompt_variants(page):
    at = fill_suite(page, SUITE, ["alpha", "beta"])
    assert any("2 prompts × 2 tests = 4 items" in c.value for c in at.caption)
    assert any("Estimate: 8 calls" in e.label for e in at.expander)
    at.button(key="batch_start").click().run()
    at = wait_until_done(at)
    assert not at.exception
    grid = table_with(at, "vars")
    assert list(grid.columns) == ["test", "vars", "alpha · P1", "alpha · P2", "beta · P1", "beta · P2"]
    assert list(grid["test"]) == ["1", "2 · South America", "pass rate"]
    assert grid.loc[0, "vars"] == "country=France" and grid.loc[0, "alpha · P1"] == "✓ pass"
    assert grid.loc[0, "beta · P1"] == "✗ contains (any case) 'paris'"
    assert grid.loc[1, "beta · P2"] == "✗ contains (any case) 'lima'"
    assert list(grid.loc[2, ["alpha · P1", "beta · P1", "beta · P2"]]) == ["100% (2/2)", "50% (1/2)", "0% (0/2)"]
    why = table_with(at, "why")
    assert len(why) == 3 and set(why["answer"]) == {"Lyon", "Cusco"}
    assert at.get("plotly_chart")  # pass rate / quality / cost / latency per prompt variant
    at.selectbox(key="suite_pair_model").set_value("beta").run()
    text = "\n".join(m.value for m in at.markdown)
    assert "On **2** tests, P1 − P2 on beta = **0.5**" in text and "P1 better on **50%**, tie 50%" in text
    per_model = table_with(at, "ok / cells")
    assert list(per_model["passed"]) == ["4/4 (100%)", "1/4 (25%)"]


def test_a_suite_with_a_missing_variable_names_it_and_cannot_start(page):
    at = fill_suite(page, SUITE.replace("{country: Peru}", "{land: Peru}"), ["alpha"])
    assert any(
        "test 2 (South America), prompt 1 'What is the capital of {{country}}?': no variable `country`" in e.value
        for e in at.error
    )
    assert at.button(key="batch_start").disabled
