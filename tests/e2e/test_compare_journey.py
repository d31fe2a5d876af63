"""A newcomer's first minute in real Chromium: type a prompt, run the bundled models, export CSV."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.e2e.conftest import ARTIFACTS, wait_for_text

pytestmark = [pytest.mark.e2e, pytest.mark.local]


def test_prompt_run_cards_export(page, app_url):
    page.goto(app_url)
    page.get_by_role("heading", name="Compare").wait_for(timeout=60_000)
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("In one sentence, why is the sky blue?")
    page.get_by_role("button", name="Run").click()
    # the preselected models answer: ready chat models only, never the Gemma base model (bakeoff/catalog/choices.py);
    # first use converts the GGUF weights once (can take a minute on CI)
    page.get_by_role("heading", name="Comparison").wait_for(timeout=420_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
    body = wait_for_text(page, "smollm2-135m-instruct@fp32", "TTFT", "tok/s")
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)  # the comparison table
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)  # latency breakdown and tokens/s at least
    assert "Traceback" not in body
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    frame = pd.read_csv(io.BytesIO(open(info.value.path(), "rb").read()), encoding="utf-8-sig")
    models = list(frame["model"])  # with llama.cpp installed, the same model's GGUF is the other ready chat model
    assert "smollm2-135m-instruct@fp32" in models and not any(m.startswith("gemma") for m in models)
    assert (frame["status"] == "ok").all() and frame["output"].str.len().min() > 0
    assert frame["ttft_s"].gt(0).all() and frame["output_tokens"].gt(0).all()
