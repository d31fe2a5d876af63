"""The bundled SmolLM2 as an LLM judge, for real (slow on CPU: about 100 s)."""

from __future__ import annotations

import json

import pytest

from bakeoff.catalog.config import load_catalog
from bakeoff.judging import JudgeSettings, judge_blocking, parse_rate
from metrics.judge import SCORE_MAX, SCORE_MIN
from tests.unit.test_judging import answered

pytestmark = pytest.mark.local


def test_real_smollm2_judge_end_to_end(store):
    """The bundled SmolLM2 judges for real; whatever it answers is parsed or recorded as a grader error."""
    cat = load_catalog()
    run, results = answered(
        store,
        {"good": "The capital of France is Paris.", "bad": "The capital of France is Berlin."},
        reference="Paris",
    )
    got = []
    for mode in ("rubric", "pairwise"):
        settings = JudgeSettings(judge_ref="smollm2-135m-instruct", mode=mode, max_tokens=160)
        got += judge_blocking(run, results, settings, cat, store)
    assert len(got) == 3  # two rubric judgments, one pairwise
    for j in got:
        assert j.calls and all(c["status"] == "ok" for c in j.calls), j.calls
        assert j.cost_basis == "local compute" and j.latency_s > 0
        if j.grader_error:
            assert j.error_message and j.score is None and j.verdict is None
        elif j.mode == "rubric":
            assert SCORE_MIN <= j.score <= SCORE_MAX
        else:
            assert j.verdict in ("a", "b", "tie")
    stored = store.judgments_for(run.run_id)
    assert [(s.judgment_id, s.grader_error, s.score, s.verdict) for s in stored] == [
        (j.judgment_id, j.grader_error, j.score, j.verdict) for j in got
    ]
    ok, total = parse_rate(stored)
    print(
        f"\nSmolLM2 judge: {ok}/{total} parsed; "
        + json.dumps([{"mode": j.mode, "score": j.score, "verdict": j.verdict, "error": j.error_message}
                      for j in stored])
    )
