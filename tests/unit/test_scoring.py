"""Quality scoring in the engine: metrics, agreement, user checks, the lazy embedder, storage and the CLI."""

from __future__ import annotations

import json

import pytest
import yaml

from bakeoff import cli
from bakeoff.records import Result, Run
from bakeoff.runner import scoring
from bakeoff.runner.engine import run_blocking
from bakeoff.runner.scoring import InvalidCheck, LazyEmbedder, parse_checks, score_results
from metrics import registry
from metrics.assertions import Assertion
from metrics.registry import MetricInfo
from tests.conftest import scripted_catalog
from tests.fakes.embedding import bag_of_words


def _result(run: Run, model: str, output: str, status: str = "ok") -> Result:
    return Result(run_id=run.run_id, model_ref=model, provider="scripted", model=model, status=status, output=output)


def _counting(loader=lambda: bag_of_words):
    calls = []

    def load():
        calls.append(1)
        return loader()

    return LazyEmbedder(load), calls


def test_reference_free_metrics_always_and_reference_metrics_only_with_a_reference():
    run = Run(prompt="Capital of France?", model_refs=["a"])
    (res,) = results = [_result(run, "a", "Paris is the capital of France.")]
    embedder, calls = _counting()
    score_results(run, results, embedder=embedder)
    assert res.scores == registry.compute(res.output)  # exactly the registry's values
    assert {"words", "is_refusal", "is_json", "flesch_reading_ease"} <= set(res.scores)
    assert "rougeL" not in res.scores and "agreement" not in res.scores
    assert calls == []  # one answer, no reference: the embedder is not even loaded

    run.reference = "Paris"
    score_results(run, results, embedder=embedder)
    expected = registry.compute(res.output, "Paris", embed=bag_of_words)
    assert res.scores == pytest.approx(expected)
    for name in ("exact_match", "quasi_exact_match", "token_f1", "rouge1", "rouge2", "rougeL", "bleu", "chrf"):
        assert name in res.scores
    assert 0 < res.scores["semantic_similarity"] < 1
    assert calls == [1]


def test_agreement_across_answers_skips_failures_and_embeds_each_text_once():
    run = Run(prompt="Capital of France?", model_refs=["a", "b", "c", "d"])
    a = _result(run, "a", "Paris is the capital")
    b = _result(run, "b", "the capital is Paris")
    c = _result(run, "c", "bananas are yellow fruit")
    d = _result(run, "d", "", status="error")
    seen: list[list[str]] = []

    def spy():
        def embed(texts):
            seen.append(list(texts))
            return bag_of_words(texts)

        return embed

    score_results(run, [a, b, c, d], embedder=LazyEmbedder(spy))
    assert a.scores["agreement"] == pytest.approx(b.scores["agreement"])
    assert a.scores["agreement"] > c.scores["agreement"]
    assert d.scores == {} and d.checks == []  # a failed call is not scored
    flat = [t for batch in seen for t in batch]
    assert len(flat) == len(set(flat)) == 3


def test_embedder_failure_skips_those_scores_says_why_and_is_not_retried():
    def broken():
        raise OSError("weights not found")

    embedder, calls = _counting(broken)
    run = Run(prompt="q", model_refs=["a", "b"], reference="Paris")
    results = [_result(run, "a", "Paris"), _result(run, "b", "Lyon")]
    score_results(run, results, embedder=embedder)
    score_results(run, results, embedder=embedder)
    assert calls == [1]  # once per process, failure remembered
    for r in results:
        assert "semantic_similarity" not in r.scores and "agreement" not in r.scores
        assert "rougeL" in r.scores and "words" in r.scores  # everything else still scored
        assert r.score_notes == [
            "semantic similarity and agreement skipped: the embedding model could not be loaded "
            "(OSError: weights not found)"
        ]


def test_embeddings_can_be_switched_off(monkeypatch):
    monkeypatch.setenv(scoring.EMBEDDINGS_ENV, "off")
    embedder, calls = _counting()
    run = Run(prompt="q", model_refs=["a", "b", "c"])
    results = [_result(run, "a", "x"), _result(run, "b", "y"), _result(run, "c", "z")]
    score_results(run, results, embedder=embedder)
    assert calls == [] and "BAKEOFF_EMBEDDINGS=off" in results[0].score_notes[0]


def test_a_broken_metric_is_a_note_not_a_crash(monkeypatch):
    metrics = registry.all_metrics()

    def boom(text):
        raise ValueError("bad input")

    broken = MetricInfo("boom", boom, "explodes", (0.0, 1.0), True, False)
    monkeypatch.setattr(registry, "all_metrics", lambda: {**metrics, "boom": broken})
    run = Run(prompt="q", model_refs=["a"])
    (res,) = results = [_result(run, "a", "fine")]
    score_results(run, results, embedder=_counting()[0])
    assert "words" in res.scores and "boom" not in res.scores
    assert res.score_notes == ["boom not computed: ValueError: bad input"]


def test_user_checks_pass_fail_and_error_are_reported_and_the_share_counts_only_checks_that_ran():
    run = Run(
        prompt="q",
        model_refs=["a"],
        assertions=[
            Assertion("contains", "paris", case_sensitive=False),
            Assertion("not_contains", "As an AI"),
            Assertion("regex", r"\d{4}"),
            Assertion("regex", "(unclosed"),
            Assertion("json_schema", {"type": "object"}),
        ],
    )
    (res,) = results = [_result(run, "a", "Paris, since 508.")]
    score_results(run, results, embedder=_counting()[0])
    assert [c["passed"] for c in res.checks] == [True, True, False, None, False]
    assert res.checks[3]["error"].startswith("invalid regex")
    assert res.checks[0]["label"] == "contains (any case) 'paris'"
    assert res.scores["assertions_passed"] == pytest.approx(2 / 4)
    assert res.score_notes == ["1 check(s) could not run; see the checks"]


def test_check_syntax():
    got = parse_checks("contains: Paris\n# a comment\nnot-contains/i: as an ai\nregex: ^\\d+$\njson\n"
                       'json-schema: {"type": "object"}')
    assert [(a.kind, a.value, a.case_sensitive) for a in got] == [
        ("contains", "Paris", True),
        ("not_contains", "as an ai", False),
        ("regex", "^\\d+$", True),
        ("is_json", None, True),
        ("json_schema", '{"type": "object"}', True),
    ]
    with pytest.raises(InvalidCheck, match="line 2: contains needs a value"):
        parse_checks("json\ncontains:")
    with pytest.raises(InvalidCheck, match="unknown check 'startswith'"):
        parse_checks("startswith: x")


def test_engine_scores_after_the_run_and_stores_scores_checks_and_assertions(scripted, store):
    cat = scripted_catalog(a={"chunks": ["Paris", " is the capital."]}, b={"chunks": ["Lyon?"]},
                           bad={"fail": "AuthError", "http_status": 401})
    run = Run(prompt="Capital of France?", model_refs=["a", "b", "bad"], reference="Paris",
              assertions=[Assertion("contains", "Paris")])
    updates: list[tuple[str, bool]] = []
    results = run_blocking(run, cat, store, on_update=lambda r: updates.append((r.model_ref, bool(r.scores))))
    a, b, bad = results
    assert a.scores["assertions_passed"] == 1.0 and b.scores["assertions_passed"] == 0.0
    # two answers: agreement would be one figure both share, so it is left out
    assert "agreement" not in a.scores and "semantic_similarity" in a.scores and bad.scores == {}
    assert ("a", True) in updates  # the page hears about the scores
    got_run, stored = store.get_run(run.run_id)
    assert got_run.assertions == run.assertions and got_run.status == "done"
    by = {r.model_ref: r for r in stored}
    assert by["a"].scores == a.scores and by["a"].checks == a.checks
    assert by["b"].checks[0]["passed"] is False and by["bad"].scores == {}


def test_cli_json_prints_scores_and_checks(tmp_path, monkeypatch, capsys):
    models = {"models": {"alpha": {"provider": "scripted", "model": "alpha", "kind": "commercial",
                                   "options": {"chunks": ["Paris."]}}}}
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(models))
    (tmp_path / "pricing.yaml").write_text("prices: {}\n")
    monkeypatch.setenv("BAKEOFF_MODELS", str(tmp_path / "models.yaml"))
    monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
    code = cli.main(["--db", str(tmp_path / "c.db"), "run", "--prompt", "Capital?", "--model", "alpha",
                     "--reference", "Paris", "--assert-contains", "Paris", "--check", "regex/i: ^paris", "--json"])
    assert code == 0
    (res,) = json.loads(capsys.readouterr().out)["results"]
    assert res["scores"]["quasi_exact_match"] == 1.0 and res["scores"]["assertions_passed"] == 1.0
    assert [c["passed"] for c in res["checks"]] == [True, True]
    assert cli.main(["--db", str(tmp_path / "c.db"), "run", "--prompt", "x", "--model", "alpha",
                     "--check", "nonsense"]) == 2
    assert "unknown check" in capsys.readouterr().err


def test_two_answers_without_a_reference_get_no_agreement_and_load_no_embedder():
    embedder, calls = _counting()
    run = Run(prompt="q", model_refs=["a", "b", "c"])
    results = [_result(run, "a", "x y"), _result(run, "b", "x z"), _result(run, "c", "", status="error")]
    score_results(run, results, embedder=embedder)
    assert calls == [] and not any("agreement" in r.scores for r in results)
    assert not scoring.wants_embedder(run, 2) and scoring.wants_embedder(run, 3)
