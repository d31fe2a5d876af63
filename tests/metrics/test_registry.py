from __future__ import annotations

import math

import numpy as np
import pytest

from metrics import registry

EXPECTED = {
    # name: (needs_reference, higher_is_better, value)
    "exact_match": (True, True, "float"),
    "quasi_exact_match": (True, True, "float"),
    "token_f1": (True, True, "float"),
    "rouge1": (True, True, "float"),
    "rouge2": (True, True, "float"),
    "rougeL": (True, True, "float"),
    "bleu": (True, True, "float"),
    "chrf": (True, True, "float"),
    "semantic_similarity": (True, True, "float"),
    "words": (False, None, "float"),
    "characters": (False, None, "float"),
    "flesch_reading_ease": (False, True, "float"),
    "is_refusal": (False, False, "bool"),
    "is_json": (False, True, "bool"),
}


def test_every_metric_is_registered_with_its_metadata():
    metrics = registry.all_metrics()
    assert set(metrics) == set(EXPECTED)
    for name, (needs_ref, higher, value) in EXPECTED.items():
        info = metrics[name]
        assert (info.name, info.needs_reference, info.higher_is_better, info.value) == (name, needs_ref, higher, value)
        low, high = info.range
        assert low < high
        assert info.description and not info.description.startswith(" ")
    assert metrics["semantic_similarity"].needs_embedder and not metrics["rouge1"].needs_embedder
    assert metrics["bleu"].range == (0.0, 100.0) and metrics["chrf"].range == (0.0, 100.0)


def _fake_embed(texts):
    # deterministic bag-of-letters vectors: enough to exercise the plumbing
    return np.array([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], dtype=float)


SAMPLES = [
    ("The quick brown fox jumps over the lazy dog.", "A quick brown fox jumped over a lazy dog."),
    ("I'm sorry, but I can't help with that.", "Paris"),
    ('{"answer": 42}', '{"answer": 42}'),
    ("", "non-empty reference"),
    ("x", ""),
]


@pytest.mark.parametrize(("pred", "ref"), SAMPLES)
def test_values_fall_inside_the_declared_ranges(pred, ref):
    scores = registry.compute(pred, ref, embed=_fake_embed)
    metrics = registry.all_metrics()
    for name, value in scores.items():
        low, high = metrics[name].range
        assert low - 1e-9 <= value <= high + 1e-9, (name, value)
        if metrics[name].value == "bool":
            assert value in (0.0, 1.0)
    assert set(scores) >= set(EXPECTED) - {"flesch_reading_ease"}  # undefined on empty text only


def test_compute_runs_only_what_the_inputs_allow():
    no_ref = registry.compute("Hello there, world.")
    assert set(no_ref) == {"words", "characters", "flesch_reading_ease", "is_refusal", "is_json"}
    with_ref = registry.compute("Hello there.", "Hello there.")
    assert with_ref["exact_match"] == 1.0 and "semantic_similarity" not in with_ref
    assert registry.compute("Hello there.", "Hello there.", embed=_fake_embed)["semantic_similarity"] == pytest.approx(
        1.0
    )
    assert registry.compute("   ")["words"] == 0.0 and "flesch_reading_ease" not in registry.compute("   ")
    assert registry.compute("yes", "yes", names=["bleu", "words"]).keys() == {"bleu", "words"}
    assert all(isinstance(v, float) and not math.isnan(v) for v in with_ref.values())


def test_unknown_names_and_clashing_registrations_are_refused():
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        registry.compute("x", names=["nope"])
    with pytest.raises(ValueError, match="already registered"):

        @registry.register("bleu", range=(0, 1), higher_is_better=True, needs_reference=True)
        def not_bleu(prediction: str, reference: str) -> float:
            return 0.0

    assert registry.get("bleu").fn.__module__ == "metrics.quality"
