"""`python -m bakeoff batch suite.yaml` end to end on scripted models (in process, configured by files and
environment like a user's shell): a 2-prompt × 3-test suite on two models, --json and --out carry each cell's
prompt, template, vars, test and verdict; a resume sends nothing; a missing variable exits 2 before any call."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from bakeoff.cli import main

MODELS = {
    "models": {
        "alpha": {
            "provider": "scripted",
            "model": "alpha",
            "kind": "commercial",
            "options": {"replies": [["France", "Paris"], ["Peru", "Lima"], ["Japan", "Tokyo"]], "usage": [12, 3]},
        },
        "beta": {
            "provider": "scripted",
            "model": "beta",
            "kind": "commercial",
            # right on the question, wrong when asked for one word about Japan
            "options": {
                "replies": [["France", "Paris"], ["Peru", "Lima"], ["Japan. One", "Kyoto"], ["Japan", "Tokyo"]]
            },
        },
    }
}
PRICING = {
    "prices": {"alpha": [{"as_of": "2024-01-01", "source": "https://example.test", "input": 1.0, "output": 2.0}]}
}
SUITE = """\
description: Capitals, two phrasings
prompts:
  - "What is the capital of {{country}}?"
  - "Name the capital city of {{country}}. One word."
defaultTest:
  reference: "{{capital}}"
  assert: ["contains/i: {{capital}}"]
tests:
  - vars: {country: France, capital: Paris}
  - vars: {country: Peru, capital: Lima}
    description: South America
  - vars: {country: Japan, capital: Tokyo}
"""


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(MODELS))
    (tmp_path / "pricing.yaml").write_text(yaml.safe_dump(PRICING))
    monkeypatch.setenv("BAKEOFF_MODELS", str(tmp_path / "models.yaml"))
    monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", str(tmp_path / "cli.db"), "batch", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_a_suite_runs_prompts_by_tests_by_models_and_every_cell_says_where_it_came_from(cli, scripted, tmp_path):
    (tmp_path / "suite.yaml").write_text(SUITE)
    code, out, err = cli("suite.yaml", "--model", "alpha", "--model", "beta", "--json", "--out", "cells.csv")
    assert code == 0, err
    assert "2 prompts × 3 tests × 2 models × 1 = 12 cells" in err
    payload = json.loads(out)
    results = payload["results"]
    assert len(results) == 12 and len(scripted.requests) == 12
    japan = next(r for r in results if r["model"] == "beta" and r["test"] == 3 and r["prompt_index"] == 2)
    assert japan["prompt"] == "Name the capital city of Japan. One word."
    assert japan["prompt_template"] == "Name the capital city of {{country}}. One word."
    assert json.loads(japan["vars"]) == {"capital": "Tokyo", "country": "Japan"}
    assert japan["reference"] == "Tokyo" and japan["output"] == "Kyoto"
    assert japan["passed"] is False and japan["failed_checks"].startswith("contains (any case) 'Tokyo'")
    peru = next(r for r in results if r["test"] == 2)
    assert peru["test_description"] == "South America" and peru["passed"] is True
    rates = {(p["model"], p["prompt"]): (p["passed"], p["judged"]) for p in payload["by_prompt"]}
    assert rates == {("alpha", 1): (3, 3), ("alpha", 2): (3, 3), ("beta", 1): (3, 3), ("beta", 2): (2, 3)}
    assert {a["model"]: a["pass_rate"] for a in payload["aggregates"]} == {"alpha": 1.0, "beta": pytest.approx(5 / 6)}
    frame = pd.read_csv(tmp_path / "cells.csv", encoding="utf-8-sig")
    assert {"prompt_index", "prompt_template", "vars", "test", "passed"} <= set(frame.columns) and len(frame) == 12

    again_code, again_out, again_err = cli("--resume", payload["batch_id"])
    assert again_code == 0, again_err
    assert len(scripted.requests) == 12  # nothing sent again
    assert "beta · prompt 2: 2/3 passed (67%)" in again_out


def test_a_missing_variable_exits_2_naming_it_the_test_and_the_prompt_and_sends_nothing(cli, scripted, tmp_path):
    (tmp_path / "suite.yaml").write_text(SUITE.replace("{country: Peru, capital: Lima}", "{country: Peru}"))
    code, out, err = cli("suite.yaml", "--model", "alpha", "--json")
    assert code == 2 and out == ""
    assert "suite.yaml: test 2 (South America), reference: no variable `capital` (the test's vars: country)" in err
    (tmp_path / "prompt.yaml").write_text(SUITE.replace("{{country}}. One", "{{ land }}. One"))
    code, _, err = cli("prompt.yaml", "--model", "alpha")
    assert code == 2 and "test 1, prompt 2 'Name the capital city of {{ land }}. One word.': no variable `land`" in err
    (tmp_path / "check.yaml").write_text(SUITE.replace("contains/i:", "contain/i:"))
    code, _, err = cli("check.yaml", "--model", "alpha")
    assert code == 2 and "test 1, assert 1" in err and "unknown check 'contain'" in err
    assert scripted.requests == []
