"""`python -m bakeoff batch --until-decided` end to end on scripted models: a clearly better model is named after
fewer cells than the batch holds, equal models run to the cap and are "not decided", a suite decides on its pass
verdict (two models, or two prompts on one), a resume keeps working, and a metric that cannot be bounded exits 2
before any call."""

from __future__ import annotations

import json

import pytest
import yaml

from bakeoff.batch.store import batch_results, get_batch
from bakeoff.cli import main
from bakeoff.store.store import Store

MODELS = {
    "models": {
        name: {"provider": "scripted", "model": name, "kind": "commercial", "options": options}
        for name, options in {
            "strong": {"chunks": ["yes"]},
            "weak": {"chunks": ["no"]},
            "twin": {"chunks": ["yes"]},
            "picky": {"replies": [["One word", "no"]], "chunks": ["yes"]},  # right on prompt 1, wrong on prompt 2
        }.items()
    }
}
ITEMS = 60
CSV = "id,prompt,reference\n" + "".join(f"q{i},Question {i}: is it so?,yes\n" for i in range(ITEMS))
SUITE = {
    "prompts": ["Is {{n}} a number?", "Is {{n}} a number? One word."],
    "defaultTest": {"assert": ["contains/i: yes"]},
    "tests": [{"vars": {"n": i}} for i in range(30)],
}


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(MODELS))
    (tmp_path / "pricing.yaml").write_text(yaml.safe_dump({"prices": {}}))
    (tmp_path / "items.csv").write_text(CSV)
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(SUITE))
    monkeypatch.setenv("BAKEOFF_MODELS", str(tmp_path / "models.yaml"))
    monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", str(tmp_path / "cli.db"), "batch", *args])
        out, err = capsys.readouterr()
        return code, out, err

    run.store = lambda: Store(f"sqlite:///{tmp_path / 'cli.db'}")
    return run


def test_a_clearly_better_model_stops_early_and_is_named(cli, scripted):
    args = ("items.csv", "--model", "weak", "--model", "strong", "--until-decided", "--metric", "exact_match")
    code, out, err = cli(*args, "--seed", "3", "--concurrency", "1", "--json")
    assert code == 0, err
    assert f"until decided: weak vs strong on exact_match at α 0.05, {ITEMS} items in random order" in err
    result = json.loads(out)
    decision = result["adaptive"]
    assert decision["decided"] and decision["better"] == "strong"
    assert decision["used"] == decision["seen"] == 17 and decision["available"] == ITEMS  # 1 − 1 on every item
    assert decision["high"] <= 0 and decision["mean"] == -1.0
    assert len(scripted.requests) == len(result["results"]) == 34 < 2 * ITEMS  # concurrency 1: nothing in flight
    assert result["status"] == "decided"
    assert "decided: strong is better on exact_match: weak − strong = -1, 95% CS [-1, " in err
    assert "after 17 of 60 items" in err and "resume with" not in err

    stored = get_batch(cli.store(), result["batch_id"])
    assert stored.status == "decided" and stored.note.startswith("decided: strong is better")
    asked = [int(r.prompt.split()[1].rstrip(":")) for _, r in scripted.requests[::2]]
    assert asked != sorted(asked)  # a random order …
    assert [i.item_id for i in stored.items[:17]] == [f"q{n}" for n in asked]  # … stored, for a resume to follow

    code, out, err = cli("--resume", result["batch_id"], "--until-decided", "--metric", "exact_match")
    assert code == 0 and len(scripted.requests) == 34  # decided from the saved cells: nothing sent
    assert "decided: strong is better on exact_match" in out

    code, _, err = cli("--resume", result["batch_id"])  # without the flag, the rest runs
    assert code == 0, err
    assert len(scripted.requests) == 2 * ITEMS
    assert len(batch_results(cli.store(), result["batch_id"])) == 2 * ITEMS


def test_with_concurrency_the_cells_in_flight_when_it_decides_finish_and_feed_it_in_order(cli, scripted):
    args = ("items.csv", "--model", "strong", "--model", "weak", "--until-decided", "--metric", "exact_match")
    code, out, err = cli(*args, "--concurrency", "8", "--json")
    assert code == 0, err
    decision = json.loads(out)["adaptive"]
    assert decision["better"] == "strong" and decision["used"] == 17
    # Cells start in the batch's order, so what ran is a prefix: every item that finished fed the CS, in that
    # order, and at most the last item started has one model's cell only (the stop came between its two cells).
    assert decision["seen"] >= 17 and len(scripted.requests) - 2 * decision["seen"] in (0, 1)


def test_equal_models_run_to_the_cap_and_are_not_decided(cli, scripted):
    args = ("items.csv", "--model", "strong", "--model", "twin", "--until-decided", "--metric", "exact_match")
    code, out, err = cli(*args, "--max-items", "12")
    assert code == 1
    assert "12 items in random order (of 60)" in err
    assert "not decided: 95% CS [" in out and "on strong − twin (exact_match) after 12 of 12 items." in out
    assert len(scripted.requests) == 24
    assert "resume with: python -m bakeoff batch --resume" not in err  # it ran to its cap: nothing left


def test_a_suite_decides_on_its_pass_verdict_for_two_models_or_two_prompts(cli, scripted):
    code, out, err = cli("suite.yaml", "--model", "strong", "--model", "weak", "--until-decided", "--json")
    assert code == 0, err
    decision = json.loads(out)["adaptive"]
    assert (decision["metric"], decision["better"], decision["unit_name"]) == ("pass", "strong", "items")
    assert decision["used"] == 17 and decision["available"] == 60  # 2 prompts × 30 tests

    code, out, err = cli("suite.yaml", "--model", "picky", "--until-decided", "--seed", "1")
    assert code == 0, err
    assert "until decided: picky · prompt 1 vs picky · prompt 2 on pass at α 0.05, 30 tests in random order" in err
    assert "decided: picky · prompt 1 is better on pass" in out and "after 17 of 30 tests" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--metric", "e2e_s"), "e2e_s has no upper bound"),
        (("--metric", "words"), "words has no direction"),
        (("--metric", "flesch_reading_ease"), "flesch_reading_ease has no finite range"),
        (("--metric", "nope"), "Unknown metric 'nope'"),
        (("--metric", "pass"), "`pass` is a test suite's verdict"),
        (("--metric", "agreement"), "batch cells are scored alone"),
        ((), "needs --metric"),
        (("--metric", "exact_match", "--alpha", "1.5"), "--alpha must be between 0 and 1"),
        (("--metric", "exact_match", "--max-items", "0"), "--max-items must be at least 1"),
        (("--metric", "exact_match", "--model", "twin"), "compares two arms"),
    ],
)
def test_a_metric_or_setting_it_cannot_use_exits_2_before_any_call(cli, scripted, extra, message):
    code, out, err = cli("items.csv", "--model", "strong", "--model", "weak", "--until-decided", *extra)
    assert code == 2 and out == ""
    assert message in err
    assert scripted.requests == []


def test_the_adaptive_flags_alone_are_refused_and_a_reference_metric_needs_references(cli, scripted, tmp_path):
    code, _, err = cli("items.csv", "--model", "strong", "--model", "weak", "--metric", "exact_match")
    assert code == 2 and "--metric and --max-items go with --until-decided" in err
    (tmp_path / "bare.csv").write_text("prompt\nhello\nhi\n")
    code, _, err = cli("bare.csv", "--model", "strong", "--model", "weak", "--until-decided", "--metric", "token_f1")
    assert code == 2 and "token_f1 needs a reference, and 2 of 2 items have none" in err
    assert scripted.requests == []
