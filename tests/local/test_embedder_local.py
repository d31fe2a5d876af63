"""The bundled all-MiniLM-L6-v2 embedder, for real: similarity and agreement behave as a reader expects."""

from __future__ import annotations

import numpy as np
import pytest

from bakeoff.records import Run
from bakeoff.runner.scoring import score_results
from metrics.similarity import agreement, semantic_similarity
from providers import embedder
from tests.unit.test_scoring import _result

pytestmark = pytest.mark.local


@pytest.fixture(scope="module")
def minilm():
    return embedder.load_embedder("cpu")


def test_real_model_identical_text_is_about_one(minilm):
    text = "Bakeoff compares language models side by side."
    assert semantic_similarity(text, text, embed=minilm) == pytest.approx(1.0, abs=1e-5)
    vecs = minilm([text, "another"])
    assert vecs.shape == (2, embedder.DIMENSIONS)
    assert np.linalg.norm(vecs, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


def test_real_model_paraphrase_beats_unrelated(minilm):
    ref = "The meeting was moved to Friday afternoon."
    paraphrase = "They rescheduled the meeting for Friday after lunch."
    unrelated = "Photosynthesis converts light into chemical energy in plants."
    close = semantic_similarity(paraphrase, ref, embed=minilm)
    far = semantic_similarity(unrelated, ref, embed=minilm)
    assert close > 0.6 > 0.2 > far


def test_real_model_agreement_singles_out_the_odd_answer(minilm):
    outputs = [
        "The capital of France is Paris.",
        "Paris is France's capital city.",
        "France's capital is Paris.",
        "Bananas are rich in potassium.",
    ]
    scores = agreement(outputs, embed=minilm)
    assert min(scores[:3]) > scores[3]
    assert scores.index(min(scores)) == 3


def test_real_embedder_scores_a_paraphrase_above_an_unrelated_answer(real_embedder):
    run = Run(prompt="Why is the sky blue?", model_refs=["a", "b", "c"],
              reference="Sunlight is scattered by air molecules, and blue light scatters the most.")
    results = [
        _result(run, "a", "Air molecules scatter blue sunlight more than red light."),
        _result(run, "b", "Molecules in the air scatter short blue wavelengths of sunlight most strongly."),
        _result(run, "c", "My favourite pasta recipe uses garlic and basil."),
    ]
    score_results(run, results)
    a, b, c = (r.scores for r in results)
    assert a["semantic_similarity"] > 0.6 > c["semantic_similarity"]
    assert min(a["agreement"], b["agreement"]) > c["agreement"]
    assert all(not r.score_notes for r in results)
