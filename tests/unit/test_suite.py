"""Test suites: templates, suite parsing and its refusals, suite batches on the scripted provider, grid and paired
comparison of prompt variants, exports with the suite columns."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from bakeoff.batch import store as batch_store
from bakeoff.batch.grid import grid_frame, grid_table
from bakeoff.batch.input import BatchInputError, parse_items
from bakeoff.batch.results import PASS, Arm, aggregate_frame, cells_frame, export_bytes, paired
from bakeoff.batch.runner import Batch, build_cells, prepare_batch, run_batch_blocking
from bakeoff.batch.suite import SuiteError, SuiteInfo, render
from bakeoff.runner.fan_out import RetryPolicy
from tests.conftest import scripted_catalog

FAST = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.02)
SUITE = """
description: capitals
prompts:
  - "What is the capital of {{country}}?"
  - "Name the capital city of {{country}}. One word."
defaultTest:
  vars: {style: short}
  assert: ["not-contains/i: sorry"]
tests:
  - vars: {country: France}
    reference: Paris
    assert: ["contains/i: paris"]
  - description: Peru
    vars: {country: Peru, style: long}
    assert:
      - contains/i: lima
  - vars: {country: Japan}
    assert: ["contains: {{capital | default('Tokyo')}}"]
"""


def _suite(text: str = SUITE) -> list:
    return parse_items(text.encode(), "s.yaml")


# ---- templates ---------------------------------------------------------------------------------------------------


def test_render_fills_variables_and_keeps_text_as_is():
    assert render("Capital of {{country}}? <b>&</b>", {"country": "Côte d'Ivoire"}) == (
        "Capital of Côte d'Ivoire? <b>&</b>"  # no HTML escaping: prompts are not web pages
    )
    assert render("{% for c in cs %}{{c}};{% endfor %}", {"cs": ["a", "b"]}) == "a;b;"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__init__.__globals__ }}",
        "{{ x | attr('__class__') }}",
    ],
)
def test_the_sandbox_blocks_reaching_python_internals(template):
    with pytest.raises(SuiteError, match="not allowed in a template"):
        render(template, {"x": "a"})


def test_render_names_every_missing_variable_and_nested_ones():
    with pytest.raises(SuiteError, match=r"^no variable `city`$"):
        render("{{city}}, {{country}}", {"country": "France"})
    with pytest.raises(SuiteError, match="has no attribute 'name'"):
        render("{{ person.name }}", {"person": {}})
    with pytest.raises(SuiteError, match="template error on its line 2"):
        render("ok\n{{ broken", {})


# ---- suite files -------------------------------------------------------------------------------------------------


def test_suite_renders_prompts_by_tests_with_default_test_merged():
    items = _suite()
    assert [i.item_id for i in items] == ["t1-p1", "t1-p2", "t2-p1", "t2-p2", "t3-p1", "t3-p2"]
    first, peru = SuiteInfo.from_metadata(items[0].metadata), SuiteInfo.from_metadata(items[2].metadata)
    assert items[0].prompt == "What is the capital of France?" and items[0].reference == "Paris"
    assert items[3].prompt == "Name the capital city of Peru. One word."
    assert first.vars == {"style": "short", "country": "France"}  # defaultTest vars under the test's
    assert peru.vars == {"style": "long", "country": "Peru"}  # ... which override them
    assert first.asserts == ["not-contains/i: sorry", "contains/i: paris"]  # defaultTest's first
    assert peru.asserts == ["not-contains/i: sorry", "contains/i: lima"]  # an unquoted `- contains/i: lima`
    assert SuiteInfo.from_metadata(items[4].metadata).asserts[1] == "contains: Tokyo"  # checks are templates too
    assert (first.prompt_index, first.test, peru.test_description, items[2].row) == (1, 1, "Peru", 2)
    assert first.prompt_template == "What is the capital of {{country}}?"


def test_a_plain_yaml_prompt_list_is_still_a_prompt_list():
    items = parse_items(b"prompts: ['Hi {{name}}', 'Bye']\n", "p.yaml")
    assert [i.prompt for i in items] == ["Hi {{name}}", "Bye"]  # no tests: not a suite, nothing rendered
    assert SuiteInfo.from_metadata(items[0].metadata) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "prompts: ['Capital of {{country}}?', 'Of {{ land }}']\ntests:\n  - vars: {country: France}\n",
            r"s.yaml: test 1, prompt 2 'Of \{\{ land \}\}': no variable `land` \(the test's vars: country\)",
        ),
        (
            "prompts: ['Q {{x}}']\ntests:\n  - description: first\n    vars: {y: 1}\n",
            r"test 1 \(first\), prompt 1 'Q \{\{x\}\}': no variable `x`",
        ),
        ("prompts: ['Q']\nsystem: 'Be {{tone}}'\ntests: [{}]\n", "test 1, the system prompt: no variable `tone`"),
        ("prompts: ['Q']\ntests:\n  - assert: ['sounds: good']\n", r"test 1, assert 1 'sounds: good': unknown check"),
        ("prompts: ['Q']\ntests:\n  - assert: ['contains']\n", "contains needs a value"),
        ("prompts: ['Q']\ntests:\n  - {}\n  - assert: ['regex: (unclosed']\n", "test 2, assert 1.*invalid regex"),
        ("prompts: ['Q']\ntests:\n  - assert: ['regex: (a+)+$']\n", "nests a quantifier"),
        ("prompts: ['Q']\ntests:\n  - assert: ['json-schema: {\"type\": \"nope\"}']\n", "invalid schema"),
        ("prompts: ['Q']\ntests:\n  - assert: 'contains: x'\n", "`assert` must be a list"),
        ("prompts: ['Q']\ntests:\n  - vars: [a]\n", "test 1: vars must be a mapping"),
        ("prompts: ['Q']\ntests:\n  - expected: x\n", "test 1: unknown key 'expected'"),
        ("prompts: ['Q']\nproviders: [openai:gpt-4o]\ntests: [{}]\n", "unknown key 'providers'.*--model"),
        ("tests: [{}]\n", "`prompts` must be a list"),
        ("prompts: ['{{x}}']\ntests: [{vars: {x: ' '}}]\n", "the rendered prompt is empty"),
        ("prompts: ['Q']\ntests: [{}\n", "not valid YAML on line 3"),
    ],
)
def test_bad_suites_are_refused_naming_the_test_and_what_to_fix(text, message):
    with pytest.raises(BatchInputError, match=message):
        _suite(text)


def test_an_absent_tests_list_runs_each_prompt_once_with_the_default_test():
    items = _suite("prompts: ['Hi {{who}}']\ndefaultTest: {vars: {who: Ada}}\n")
    assert [i.prompt for i in items] == ["Hi Ada"]


# ---- running a suite ---------------------------------------------------------------------------------------------

REPLIES = {
    # the first prompt gets right answers; the second ("One word.") a wrong one for Peru
    "good": {"replies": [["Peru. One word", "Cusco"], ["France", "Paris"], ["Peru", "Lima"], ["Japan", "Tokyo"]]},
    "bad": {"replies": [["France", "Sorry, Paris"], ["Peru", "Lima"], ["Japan", "Kyoto"]]},
}


def _run(store=None, repeats: int = 1):
    cat = scripted_catalog(**REPLIES)
    b = Batch(items=_suite(), model_refs=["good", "bad"], repeats=repeats)
    return b, run_batch_blocking(b, cat, store, policy=FAST)


def test_two_tests_rendering_the_same_prompt_are_two_cells():
    text = "prompts: ['Q']\ntests:\n  - assert: ['contains: a']\n  - assert: ['contains: b']\n"
    b = Batch(items=_suite(text), model_refs=["a"])
    cells = build_cells(b, prepare_batch(b, scripted_catalog(a={})))
    assert len({c.key for c in cells}) == 2


def test_a_suite_batch_checks_every_answer_and_survives_the_store(scripted, store):
    b, out = _run(store)
    assert out.status == "done" and len(out.results) == 12 and len(scripted.requests) == 12
    prompts = {req.prompt for _, req in scripted.requests}
    assert "What is the capital of Japan?" in prompts and not any("{{" in p for p in prompts)
    by = {(r.model_ref, r.item_id): r for r in out.results}
    assert by["good", "t2-p2"].checks[1]["passed"] is False  # Cusco is not Lima
    assert by["bad", "t1-p1"].checks[0]["label"] == "not contains (any case) 'sorry'"
    assert by["good", "t1-p1"].scores["assertions_passed"] == 1.0
    stored = batch_store.batch_results(store, b.batch_id)
    assert {(r.model_ref, r.item_id): [c["passed"] for c in r.checks] for r in stored} == {
        k: [c["passed"] for c in r.checks] for k, r in by.items()
    }
    run, _ = store.get_run(by["good", "t2-p1"].run_id)
    assert [a.value for a in run.assertions] == ["sorry", "lima"]  # History shows the test's checks
    again = run_batch_blocking(batch_store.get_batch(store, b.batch_id), scripted_catalog(**REPLIES), store)
    assert len(again.cached) == 12 and len(scripted.requests) == 12  # resume: nothing sent again


def test_grid_has_a_row_per_test_and_a_column_per_model_and_prompt():
    _, out = _run(repeats=2)
    long = grid_frame(out.results, ["good", "bad"])
    text, states = grid_table(long)
    cols = ["test", "vars", "good · P1", "good · P2", "bad · P1", "bad · P2"]
    assert list(text.columns) == cols and len(text) == 4  # 3 tests + the pass-rate row
    assert text.loc[0, "vars"] == "style=short, country=France"
    assert text.loc[1, "test"] == "2 · Peru"
    assert text.loc[0, "good · P1"] == "✓ pass 2/2" and states.loc[0, "good · P1"] == "pass"
    assert text.loc[1, "good · P2"] == "✗ 0/2 · contains (any case) 'lima'"
    assert text.loc[0, "bad · P1"] == "✗ 0/2 · not contains (any case) 'sorry'"
    assert long.loc[(long["test"] == 2) & (long["model"] == "good") & (long["prompt"] == 2), "failures"].item() == [
        "contains (any case) 'lima': 'lima' not found",
        "repeat 2: contains (any case) 'lima': 'lima' not found",
    ]
    assert text.loc[3, "good · P1"] == "100% (6/6)" and text.loc[3, "good · P2"] == "67% (4/6)"
    assert text.loc[3, "bad · P1"] == "33% (2/6)" and states.loc[3, "bad · P1"] == "rate"


def test_repeats_that_disagree_show_how_many_passed():
    _, out = _run(repeats=2)
    flaky = next(r for r in out.results if r.model_ref == "good" and r.item_id == "t1-p1" and r.repeat == 1)
    flaky.checks[1]["passed"] = False
    text, states = grid_table(grid_frame(out.results))
    assert text.loc[0, "good · P1"] == "◑ 1/2 · contains (any case) 'paris'" and states.loc[0, "good · P1"] == "mixed"


def test_prompt_variants_aggregate_and_pair_on_one_model_over_tests():
    _, out = _run()
    per = aggregate_frame(out.results, ["good", "bad"], by_prompt=True).set_index(["model", "prompt"])
    assert per.loc[("good", 1), "pass_rate"] == 1.0 and per.loc[("good", 2), "pass_rate"] == pytest.approx(2 / 3)
    assert per.loc[("good", 2), "template"] == "Name the capital city of {{country}}. One word."
    assert per.loc[("good", 1), "cells"] == 3
    pc = paired(out.results, Arm("good", 1), Arm("good", 2), PASS)
    assert (pc["a"], pc["b"], pc["items"]) == ("good · prompt 1", "good · prompt 2", 3)  # paired by test
    assert (pc["a_wins"], pc["ties"], pc["b_wins"]) == (pytest.approx(1 / 3), pytest.approx(2 / 3), 0)
    assert pc["mean_diff"] == pytest.approx(1 / 3)
    models = paired(out.results, "good", "bad", PASS)  # two models still pair by item
    assert (models["items"], models["a_wins"], models["b_wins"]) == (6, pytest.approx(4 / 6), pytest.approx(1 / 6))
    with pytest.raises(ValueError, match="not one of each"):
        paired(out.results, Arm("good", 1), "bad", PASS)


def test_a_failed_call_is_a_failed_test_and_says_why(scripted):
    cat = scripted_catalog(down={"fail": "AuthError", "http_status": 401})
    out = run_batch_blocking(Batch(items=_suite()[:1], model_refs=["down"]), cat, None, policy=FAST)
    text, _ = grid_table(grid_frame(out.results))
    assert text.loc[0, "down · P1"] == "✗ error: AuthError"


def test_exports_carry_prompt_template_vars_and_test_columns():
    b, out = _run()
    frame = cells_frame(b.items, out.results)
    row = frame[(frame["id"] == "t2-p1") & (frame["model"] == "good")].iloc[0]
    assert (row["prompt_index"], row["test"], row["test_description"]) == (1, 2, "Peru")
    assert row["prompt_template"] == "What is the capital of {{country}}?" and row["prompt"].endswith("Peru?")
    assert json.loads(row["vars"]) == {"style": "long", "country": "Peru"} and bool(row["passed"])
    bad = frame[(frame["id"] == "t1-p1") & (frame["model"] == "bad")].iloc[0]
    assert not bad["passed"] and bad["failed_checks"].startswith("not contains (any case) 'sorry'")
    csv = pd.read_csv(io.BytesIO(export_bytes(frame, "csv")), encoding="utf-8-sig")
    assert {"prompt_index", "prompt_template", "vars", "test", "passed"} <= set(csv.columns)
    assert json.loads(csv.loc[0, "vars"]) == {"style": "short", "country": "France"}
    back = pd.read_parquet(io.BytesIO(export_bytes(frame, "parquet")))
    assert list(back["test"]) == list(frame["test"]) and back["prompt_template"].notna().all()
    (line, *_) = export_bytes(frame, "jsonl").decode().splitlines()
    assert json.loads(line)["prompt_index"] == 1


def test_the_example_suite_reads():
    from pathlib import Path

    from bakeoff.batch.input import load_items

    items = load_items(Path(__file__).resolve().parents[2] / "examples" / "capitals.yaml")
    assert len(items) == 6 and items[1].prompt.endswith("The capital of France is") and items[5].reference == "Rome"
