"""AppTest of the sample-size planner on the Batch page: a finished two-model pilot gives the fixed-N size (normal
approximation) and the adaptive run's simulated items; a smaller difference to detect needs more items."""

from __future__ import annotations

import re

import pytest

from bakeoff.batch.input import parse_items
from bakeoff.batch.runner import Batch, run_batch_blocking

MODELS = {
    "models": {
        "alpha": {"provider": "scripted", "model": "alpha", "kind": "commercial", "options": {"chunks": ["yes"]}},
        "beta": {
            "provider": "scripted",
            "model": "beta",
            "kind": "commercial",
            "options": {"replies": [["even", "yes"]], "chunks": ["no"]},  # right on even items only
        },
    }
}
# 20 items, alpha right on all, beta on the 10 even ones: differences 1 × 10 and 0 × 10, sd = √(20/19 · 1/4)
CSV = "id,prompt,reference\n" + "".join(f"q{i},Item {i} is {'even' if i % 2 == 0 else 'odd'},yes\n" for i in range(20))


@pytest.fixture
def page(start_app):
    at = start_app(MODELS, {"prices": {}}, timeout=60)
    from ui import state

    pilot = Batch(items=parse_items(CSV.encode(), "pilot.csv"), model_refs=["alpha", "beta"], name="pilot.csv")
    outcome = run_batch_blocking(pilot, state.catalog(), state.store())
    assert outcome.status == "done"
    at.switch_page("app_pages/batch.py").run()
    assert not at.exception
    return at


def text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_a_pilot_sizes_a_fixed_test_and_simulates_the_adaptive_run(page):
    assert page.selectbox(key="plan_metric").value == "exact_match"  # the bounded metrics only
    assert "e2e_s" not in page.selectbox(key="plan_metric").options
    shown = text(page)
    assert "Pilot: **20** items both answered; alpha − beta = **+0.5** on exact_match" in shown
    assert "standard deviation 0.513 per item" in shown
    assert not any("runs large" in c.value for c in page.caption)  # a batch that ran in full
    # ((1.95996 + 0.84162) · 0.51299 / 0.5)² = 8.26 → 9 items
    assert "a paired test needs **9 items** (18 calls) to detect 0.5 at α = 0.05 with power 0.8" in shown
    adaptive = re.search(r"about \*\*(\d+) items\*\* on average .* in \*\*(\d+)%\*\* of 300 simulated runs", shown)
    assert adaptive is not None
    assert 9 < int(adaptive[1]) < 200 and int(adaptive[2]) == 100  # dearer than a test that knew the difference
    assert any("--until-decided --metric exact_match --alpha 0.05 --max-items 500" in c.value for c in page.code)

    at = page.number_input(key="plan_delta").set_value(0.2).run()
    assert not at.exception
    shown = text(at)
    assert "needs **52 items** (104 calls) to detect 0.2" in shown  # (2.80158 · 0.51299 / 0.2)² = 51.6
    smaller = re.search(r"about \*\*(\d+) items\*\* on average", shown)
    assert int(smaller[1]) > int(adaptive[1])

    at = at.selectbox(key="plan_alpha").set_value(0.01).run()
    assert "at α = 0.01" in text(at)
    at = at.selectbox(key="plan_b").set_value("alpha").run()
    assert any("Pick two different models" in c.value for c in at.caption)


def test_a_pilot_that_stopped_once_decided_warns_its_difference_runs_large(page):
    from bakeoff.batch.store import list_batches, set_batch_status
    from ui import state

    (pilot,) = list_batches(state.store())
    set_batch_status(state.store(), pilot["batch_id"], "decided", "decided: alpha is better on exact_match")
    at = page.run()
    assert any("so that difference runs large" in c.value for c in at.caption)
