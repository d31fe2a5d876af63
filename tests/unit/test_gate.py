"""The CI gate's pure parts: thresholds parsed, measured per model and met or not, and the JUnit XML and
markdown written from the verdict, on hand-made results (no batch, no provider)."""

from __future__ import annotations

import datetime as dt
import re
import shlex
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bakeoff import cli
from bakeoff.batch.gate import GateInputError, Threshold, evaluate, known_metrics, parse_threshold
from bakeoff.batch.gate_cli import thresholds_from_args
from bakeoff.batch.gate_report import junit_xml, md_text, summary_markdown, xml_text
from bakeoff.batch.input import parse_items
from bakeoff.records import ErrorInfo, Result

SUITE = b"""\
prompts: ["Capital of {{country}}?", "{{country}}'s capital, one word:"]
defaultTest: {assert: ["contains/i: {{capital}}"]}
tests:
  - vars: {country: France, capital: Paris}
  - vars: {country: Peru, capital: Lima}
    description: South <America> & co
"""
ITEMS = parse_items(SUITE, "capitals.yaml")  # t1-p1, t1-p2, t2-p1, t2-p2


def _result(model: str, item: str, *, passed: bool | None = True, status: str = "ok", **fields) -> Result:
    meta = next(i for i in ITEMS if i.item_id == item).metadata
    r = Result(run_id="r", model_ref=model, provider="scripted", model=model, status=status, item_id=item, repeat=0)
    r.item_metadata = meta
    if status == "ok":
        r.output = fields.pop("output", "Paris")
        r.checks = [{"kind": "contains", "label": "contains 'x'", "passed": passed, "detail": "not found"}]
        r.ttft_s, r.e2e_s = fields.pop("ttft_s", 0.5), fields.pop("e2e_s", 1.0)
    else:
        r.error = ErrorInfo("RateLimited", "slow down")
    r.cost_usd = fields.pop("cost_usd", Decimal("0.01"))
    for k, v in fields.items():
        setattr(r, k, v)
    return r


def _gate(results, thresholds, *, models=("a",), status="done", repeats=1):
    return evaluate(
        suite="capitals.yaml",
        batch_id="b1",
        status=status,
        note=None if status == "done" else "Stopped by the user",
        items=ITEMS,
        models=list(models),
        repeats=repeats,
        results=results,
        thresholds=thresholds,
    )


# ---- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "expected"),
    [
        ("pass_rate=0.9", "min", Threshold("pass_rate", "min", 0.9)),
        ("pass_rate=1", "min", Threshold("pass_rate", "min", 1.0)),
        ("cost_usd=$0.50", "max", Threshold("cost_usd", "max", 0.5)),
        (" p95_ttft_s = 2 ", "max", Threshold("p95_ttft_s", "max", 2.0)),
        ("score_token_f1=0.4", "min", Threshold("score_token_f1", "min", 0.4)),
    ],
)
def test_thresholds_parse(text, op, expected):
    assert parse_threshold(text, op) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pass_rate", "write it as name=value"),
        ("=0.9", "write it as name=value"),
        ("pass_rate=", "write it as name=value"),
        ("pass_rate=ninety", "'ninety' is not a number"),
        ("pass_rate=1.5", "pass_rate is a share from 0 to 1"),
        ("p95_e2e_s=nan", "finite"),
        ("cost_usd=inf", "finite"),
        ("score_made_up=1", "unknown metric 'score_made_up'"),
    ],
)
def test_malformed_thresholds_are_refused_saying_why(text, message):
    with pytest.raises(GateInputError, match=message):
        parse_threshold(text, "min")


def test_an_unknown_metric_lists_the_known_ones():
    with pytest.raises(GateInputError) as exc:
        parse_threshold("p99_ttft_s=2", "max")
    message = str(exc.value)
    assert "unknown metric 'p99_ttft_s'" in message
    for name in ("pass_rate", "cost_usd", "p95_ttft_s", "p50_e2e_s", "p95_e2e_s", "score_assertions_passed"):
        assert name in message and name in known_metrics()


# ---- evaluation ------------------------------------------------------------------------------------------


def test_pass_rate_counts_failed_calls_and_cells_that_never_ran_as_fails():
    results = [
        _result("a", "t1-p1"),
        _result("a", "t1-p2", passed=False),
        _result("a", "t2-p1", status="error"),
    ]  # t2-p2 never ran
    result = _gate(results, [Threshold("pass_rate", "min", 0.25)], status="stopped")
    (check,) = result.models[0].checks
    assert check.measure.value == 0.25 and check.measure.detail == "1/4 cells passed"
    assert check.passed  # the threshold itself is met ...
    assert not result.passed  # ... but a batch that stopped early never passes the gate
    assert result.models[0].counts() == {"passed": 1, "failed": 1, "error": 1, "not run": 1}


def test_each_model_is_checked_on_its_own_cells_and_the_limit_itself_is_met():
    results = [_result("a", i.item_id) for i in ITEMS] + [
        _result("b", i.item_id, passed=i.item_id != "t2-p2") for i in ITEMS
    ]
    result = _gate(results, [Threshold("pass_rate", "min", 0.75)], models=("a", "b"))
    assert [(m.model, m.checks[0].measure.value, m.passed) for m in result.models] == [
        ("a", 1.0, True),
        ("b", 0.75, True),
    ]
    strict = _gate(results, [Threshold("pass_rate", "min", 0.76)], models=("a", "b"))
    assert [m.passed for m in strict.models] == [True, False] and not strict.passed
    (failed,) = strict.failed_checks()
    assert failed.line() == "b: pass_rate = 0.75 (3/4 cells passed), limit ≥ 0.76"


def test_cost_is_the_total_of_the_model_cells_and_an_unpriced_answer_fails_a_cost_limit():
    priced = [_result("a", i.item_id, cost_usd=Decimal("0.125")) for i in ITEMS]
    ok = _gate(priced, [Threshold("cost_usd", "max", 0.5)])
    assert ok.passed and ok.models[0].checks[0].line() == "a: cost_usd = $0.50 (over 4 cells), limit ≤ 0.5"
    over = _gate(priced, [Threshold("cost_usd", "max", 0.49)])
    assert not over.passed
    unpriced = [*priced[:3], _result("a", "t2-p2", cost_usd=None)]
    gate = _gate(unpriced, [Threshold("cost_usd", "max", 100)])
    (check,) = gate.models[0].checks
    assert check.measure.value is None and not check.passed and not gate.passed
    assert "1 of 4 cells are unpriced: no price for a in pricing.yaml" in check.line()


def test_latency_limits_use_the_batch_aggregates_and_fail_without_data():
    results = [_result("a", i.item_id, ttft_s=t, e2e_s=2 * t) for i, t in zip(ITEMS, (0.1, 0.2, 0.3, 0.4), strict=True)]
    gate = _gate(results, [Threshold("p50_ttft_s", "max", 0.25), Threshold("p95_e2e_s", "max", 0.77)])
    p50, p95 = gate.models[0].checks
    assert p50.measure.value == pytest.approx(0.25) and p50.passed
    assert p95.measure.value == pytest.approx(0.77) and p95.passed  # numpy's p95 of 0.2..0.8
    failed = [_result("a", i.item_id, status="error") for i in ITEMS]
    gate = _gate(failed, [Threshold("p95_ttft_s", "max", 2)])
    (check,) = gate.models[0].checks
    assert not check.passed and check.measure.value is None
    assert check.line() == "a: p95_ttft_s has no value (every call failed: 4 of 4), limit ≤ 2"


def test_a_score_limit_reads_the_mean_score_and_a_missing_score_fails():
    results = [
        _result("a", i.item_id, scores={"token_f1": s}) for i, s in zip(ITEMS, (1.0, 0.5, 0.5, 0.0), strict=True)
    ]
    gate = _gate(results, [Threshold("score_token_f1", "min", 0.5), Threshold("score_rouge1", "min", 0.1)])
    f1, rouge = gate.models[0].checks
    assert f1.measure.value == pytest.approx(0.5) and f1.passed
    assert rouge.measure.value is None and not rouge.passed and "no answer has a rouge1 score" in rouge.line()


def test_a_suite_without_checks_has_no_pass_rate_and_fails_a_pass_rate_limit():
    items = parse_items(b"prompts: ['hi {{x}}']\ntests: [{vars: {x: 1}}]\n", "plain.yaml")
    r = Result(run_id="r", model_ref="a", provider="s", model="a", status="ok", item_id=items[0].item_id, repeat=0)
    r.item_metadata = items[0].metadata
    gate = evaluate(
        suite="plain.yaml",
        batch_id="b",
        status="done",
        note=None,
        items=items,
        models=["a"],
        repeats=1,
        results=[r],
        thresholds=[Threshold("pass_rate", "min", 0)],
    )
    assert not gate.passed and "no test has checks" in gate.models[0].checks[0].line()
    assert gate.models[0].counts()["passed"] == 1  # an answer with nothing to check is not a failing cell


def test_repeats_multiply_the_cells_a_pass_rate_counts():
    results = [_result("a", i.item_id) for i in ITEMS]
    second = [_result("a", i.item_id, passed=False, repeat=1) for i in ITEMS[:2]]
    gate = _gate(results + second, [Threshold("pass_rate", "min", 0.5)], repeats=2)
    (check,) = gate.models[0].checks
    assert check.measure.detail == "4/8 cells passed" and check.passed
    first = gate.models[0].cells[0]
    assert first.state == "failed" and first.reasons() == ["repeat 2: contains 'x': not found"]
    assert gate.models[0].cells[3].reasons() == ["1 of 2 calls never ran (the batch stopped early)"]


# ---- JUnit XML and markdown ------------------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 1, 12, 0, 0)


def _mixed():
    results = [
        _result("a", "t1-p1"),
        _result("a", "t1-p2", passed=False, output='Lyon <b>&</b> "\x1b[31m\x00'),
        _result("a", "t2-p1", status="error"),
        _result("a", "t2-p2"),
        *(_result("b", i.item_id) for i in ITEMS),
    ]
    thresholds = [Threshold("pass_rate", "min", 0.9), Threshold("cost_usd", "max", 1)]
    return _gate(results, thresholds, models=("a", "b"))


def test_junit_has_a_suite_per_model_a_case_per_cell_and_threshold_and_a_failure_on_each_miss():
    root = ET.fromstring(junit_xml(_mixed(), now=NOW))
    assert root.tag == "testsuites"
    a, b = root.findall("testsuite")
    assert a.get("name") == "capitals.yaml · a" and b.get("name") == "capitals.yaml · b"
    assert (a.get("tests"), a.get("failures"), a.get("errors")) == ("6", "3", "0")  # 4 cells + 2 thresholds
    assert (b.get("tests"), b.get("failures")) == ("6", "0")
    assert a.get("timestamp") == "2026-03-01T12:00:00" and a.get("hostname") and a.get("id") == "0"
    cases = {c.get("name"): c for c in a.findall("testcase")}
    assert list(cases) == [
        "test 1 · prompt 1",
        "test 1 · prompt 2",
        "test 2 (South <America> & co) · prompt 1",
        "test 2 (South <America> & co) · prompt 2",
        "threshold pass_rate ≥ 0.9",
        "threshold cost_usd ≤ 1",
    ]
    assert all(c.get("classname") == "a" and float(c.get("time")) >= 0 for c in cases.values())
    assert cases["test 1 · prompt 1"].find("failure") is None
    checks = cases["test 1 · prompt 2"].find("failure")
    assert checks.get("message") == "contains 'x': not found" and checks.get("type") == "failed"
    assert 'Lyon <b>&</b> "\\x1b[31m\\x00' in checks.text  # escaped by the writer, control characters made visible
    error = cases["test 2 (South <America> & co) · prompt 1"].find("failure")
    assert error.get("message") == "error: RateLimited: slow down" and error.get("type") == "error"
    rate = cases["threshold pass_rate ≥ 0.9"].find("failure")
    assert rate.get("message") == "a: pass_rate = 0.5 (2/4 cells passed), limit ≥ 0.9"
    assert cases["threshold cost_usd ≤ 1"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in a.find("properties")}
    assert props["batch_id"] == "b1" and props["model"] == "a"


def test_junit_keeps_to_the_elements_and_attributes_both_common_schemas_accept():
    """Jenkins' junit-10 and Ant's JUnit.xsd: testsuite attributes, child order, one failure per testcase."""
    root = ET.fromstring(junit_xml(_mixed(), now=NOW))
    assert not root.attrib and {c.tag for c in root} == {"testsuite"}
    for suite in root:
        assert {"name", "tests", "failures", "errors", "time", "timestamp", "hostname", "id", "package"} <= set(
            suite.attrib
        )
        tags = [c.tag for c in suite]
        assert tags == ["properties", *["testcase"] * (len(tags) - 3), "system-out", "system-err"]
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
        for case in suite.findall("testcase"):
            assert {"name", "classname", "time"} <= set(case.attrib)
            assert [c.tag for c in case] in ([], ["failure"])
            float(case.get("time"))
        float(suite.get("time"))
        dt.datetime.strptime(suite.get("timestamp"), "%Y-%m-%dT%H:%M:%S")


def test_xml_text_drops_nothing_but_makes_invalid_characters_visible():
    assert xml_text("tab\tok\n\x07\ud800") == "tab\tok\n\\x07\\ud800"
    assert xml_text("x" * 10, limit=4) == "xxxx… (6 more characters)"


def test_the_summary_has_a_threshold_table_per_model_and_the_grid_counts():
    md = summary_markdown(_mixed())
    assert md.startswith("## ❌ Bakeoff gate failed: capitals.yaml")
    assert "### ❌ a" in md and "### ✅ b" in md
    assert "| pass_rate | 50.0% (2/4 cells passed) | ≥ 0.9 | ❌ |" in md
    assert "| cost_usd | $0.04 | ≤ 1 | ✅ |" in md
    assert "| pass_rate | 100.0% (4/4 cells passed) | ≥ 0.9 | ✅ |" in md
    assert "Cells (test × prompt): 4 · 2 passed · 1 failed a check · 1 call errors · 0 not run" in md
    assert "| 1 | 1/2 | 0 | 1 | 0 |\n| 2 | 1/2 | 1 | 0 | 0 |" in md  # per prompt: passed, failed, errors, not run
    assert "- test 2 (South &lt;America&gt; &amp; co) · prompt 1: error: RateLimited: slow down" in md
    assert "<America>" not in md


def test_the_summary_says_when_a_value_is_missing_and_when_the_batch_stopped():
    results = [_result("a", "t1-p1", cost_usd=None)]
    md = summary_markdown(_gate(results, [Threshold("cost_usd", "max", 1)], status="stopped"))
    assert "**The batch did not finish (stopped)**: Stopped by the user" in md
    assert "| cost_usd | no data: 1 of 1 cells are unpriced: no price for a in pricing.yaml, so the total" in md
    assert "3 not run" in md


def test_markdown_text_escapes_html_and_table_syntax_on_one_line():
    assert md_text("a|b\n<script>*x*</script>") == "a\\|b &lt;script&gt;\\*x\\*&lt;/script&gt;"
    assert md_text("y" * 400, limit=10) == "y" * 9 + "…"


# ---- the documented commands ----------------------------------------------------------------------------


def _documented_gate_commands() -> list[str]:
    root = Path(__file__).resolve().parents[2]
    workflow = yaml.safe_load((root / "docs" / "github-actions-gate.yml").read_text())
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    doc = (root / "docs" / "ci-gate.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", doc, flags=re.S)
    return [cmd for cmd in [*runs, *(b.replace("\\\n", " ") for b in blocks)] if "bakeoff gate" in cmd]


def test_the_documented_gate_commands_parse_with_known_metrics_and_flags():
    commands = _documented_gate_commands()
    assert len(commands) >= 4  # two workflow jobs, two examples in the doc
    for command in commands:
        argv = shlex.split(command.split("-m bakeoff", 1)[1])
        args = cli._parser().parse_args(argv)
        assert args.command == "gate" and args.model and args.file == "examples/capitals.yaml"
        assert thresholds_from_args(args)  # every metric known, every limit a number
        assert (Path(__file__).resolve().parents[2] / args.file).is_file()
