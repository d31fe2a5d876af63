"""`python -m bakeoff gate suite.yaml` end to end on scripted models, configured by files and environment like a
user's shell: exit 0 when every model meets every threshold, 1 naming the model, metric, value and limit when one
does not (an unpriced model under a cost limit, no TTFT when every call failed), 2 with nothing sent for bad input;
the JUnit XML and the markdown summary (to a file and to $GITHUB_STEP_SUMMARY) written from the same run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml

from bakeoff.cli import main

REPLIES = [["France", "Paris"], ["Peru", "Lima"], ["Japan", "Tokyo"]]
MODELS = {
    "models": {
        "alpha": {"provider": "scripted", "model": "alpha", "kind": "commercial", "options": {"replies": REPLIES}},
        # right on the question, wrong when asked for one word about Japan; and no price
        "beta": {
            "provider": "scripted",
            "model": "beta",
            "kind": "commercial",
            "options": {"replies": [["Japan. One", "Kyoto"], *REPLIES]},
        },
        "broken": {
            "provider": "scripted",
            "model": "broken",
            "kind": "commercial",
            "options": {"fail": "AuthError", "chunks": ["x"]},
        },
    }
}
PRICE = {"as_of": "2024-01-01", "source": "https://example.test", "input": 1.0, "output": 2.0}
PRICING = {"prices": {"alpha": [PRICE], "broken": [PRICE]}}
SUITE = """\
prompts:
  - "What is the capital of {{country}}?"
  - "Name the capital city of {{country}}. One word."
defaultTest:
  assert: ["contains/i: {{capital}}"]
tests:
  - vars: {country: France, capital: Paris}
  - vars: {country: Peru, capital: Lima}
  - vars: {country: Japan, capital: Tokyo}
"""


@pytest.fixture
def gate(tmp_path, monkeypatch, capsys):
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(MODELS))
    (tmp_path / "pricing.yaml").write_text(yaml.safe_dump(PRICING))
    (tmp_path / "suite.yaml").write_text(SUITE)
    monkeypatch.setenv("BAKEOFF_MODELS", str(tmp_path / "models.yaml"))
    monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", str(tmp_path / "cli.db"), "gate", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_every_model_meeting_every_threshold_exits_0_and_writes_both_reports(gate, scripted, tmp_path, monkeypatch):
    summary_env = tmp_path / "step_summary.md"
    summary_env.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_env))
    code, out, err = gate(
        "suite.yaml",
        "--model",
        "alpha",
        "--min",
        "pass_rate=1",
        "--max",
        "cost_usd=0.50",
        "--max",
        "p95_ttft_s=30",
        "--junit",
        "junit.xml",
        "--summary",
        "summary.md",
    )
    assert code == 0, out + err
    assert len(scripted.requests) == 6
    assert "PASS alpha: 6/6 cells passed" in out and "gate passed" in out
    root = ET.parse(tmp_path / "junit.xml").getroot()
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("9", "0")  # 3 tests × 2 prompts + 3 thresholds
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## ✅ Bakeoff gate passed: suite.yaml")
    assert "| pass_rate | 100.0% (6/6 cells passed) | ≥ 1 | ✅ |" in summary
    assert summary_env.read_text() == "earlier step\n" + summary + "\n"  # appended, as GitHub expects


def test_a_model_below_the_pass_rate_fails_the_gate_naming_model_metric_value_and_limit(gate, scripted, tmp_path):
    code, out, err = gate(
        "suite.yaml", "--model", "alpha", "--model", "beta", "--min", "pass_rate=0.9", "--junit", "junit.xml"
    )
    assert code == 1, err
    assert "PASS alpha" in out and "FAIL beta: 5/6 cells passed, 1 failed a check" in out
    assert "gate failed" in out and "beta: pass_rate = 0.8333 (5/6 cells passed), limit ≥ 0.9" in out
    alpha, beta = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    assert (alpha.get("tests"), alpha.get("failures")) == ("7", "0")
    assert (beta.get("tests"), beta.get("failures")) == ("7", "2")
    failing = {c.get("name"): c.find("failure") for c in beta.findall("testcase") if c.find("failure") is not None}
    assert set(failing) == {"test 3 · prompt 2", "threshold pass_rate ≥ 0.9"}
    assert failing["test 3 · prompt 2"].get("message").startswith("contains (any case) 'Tokyo'")
    assert "answer (repeat 1): Kyoto" in failing["test 3 · prompt 2"].text


def test_an_unpriced_model_under_a_cost_limit_fails_with_the_reason(gate, scripted):
    code, out, _ = gate("suite.yaml", "--model", "beta", "--max", "cost_usd=100")
    assert code == 1
    assert "beta: cost_usd has no value (6 of 6 cells are unpriced: no price for beta in pricing.yaml" in out


def test_a_latency_limit_with_no_data_because_every_call_failed_fails_with_the_reason(gate, scripted, tmp_path):
    code, out, _ = gate("suite.yaml", "--model", "broken", "--max", "p95_ttft_s=2", "--summary", "s.md")
    assert code == 1
    assert "broken: p95_ttft_s has no value (every call failed: 6 of 6), limit ≤ 2" in out
    assert "6 call errors" in (tmp_path / "s.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min", "p99_ttft_s=1"], "unknown metric 'p99_ttft_s'; known: pass_rate, cost_usd"),
        (["--min", "pass_rate>0.9"], "write it as name=value"),
        (["--max", "cost_usd=cheap"], "'cheap' is not a number"),
        ([], "give at least one threshold"),
        (["--min", "pass_rate=0.9", "--model", "nope"], "nope"),
        (["--min", "pass_rate=0.9", "--junit", "missing/dir/out.xml"], "--junit missing/dir/out.xml: the folder"),
        (["--min", "pass_rate=0.9", "--repeats", "0"], "Repeats must be at least 1"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(gate, scripted, args, message):
    code, out, err = gate("suite.yaml", "--model", "alpha", *args)
    assert code == 2 and out == ""
    assert message in err
    assert scripted.requests == []


def test_a_bad_suite_or_a_prompt_list_exits_2_and_sends_nothing(gate, scripted, tmp_path):
    (tmp_path / "bad.yaml").write_text(SUITE.replace("{country: Peru, capital: Lima}", "{country: Peru}"))
    code, _, err = gate("bad.yaml", "--model", "alpha", "--min", "pass_rate=0.9")
    assert code == 2 and "test 2, assert 1" in err and "no variable `capital`" in err
    (tmp_path / "list.yaml").write_text("- prompt: hi\n")
    code, _, err = gate("list.yaml", "--model", "alpha", "--min", "pass_rate=0.9")
    assert code == 2 and "is a prompt list, not a test suite" in err
    code, _, err = gate("nowhere.yaml", "--model", "alpha", "--min", "pass_rate=0.9")
    assert code == 2 and "no such file" in err
    assert scripted.requests == []


def test_repeats_send_each_cell_again_and_count_in_the_pass_rate(gate, scripted):
    code, out, _ = gate("suite.yaml", "--model", "beta", "--repeats", "2", "--min", "pass_rate=0.8")
    assert code == 0, out
    assert len(scripted.requests) == 12
    assert "beta: pass_rate = 0.8333 (10/12 cells passed), limit ≥ 0.8" in out
