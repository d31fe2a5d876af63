"""Journeys 2 and 3 in real Chromium against the wire-faithful fake servers.

(2) A commercial fan-out (OpenAI, Anthropic, Gemini, Cohere SDKs → fakes) where Anthropic rejects the key:
    its card shows the failure, the others complete, and the echoed key never reaches the page.
(3) History → open that run → re-run: a new run starts with the same settings and shows on Compare.
"""

from __future__ import annotations

import re

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, settle, wait_for_text
from tests.e2e.launch import streamlit_app
from tests.fakes.server import FakeServer
from tests.integration.wires import ANTHROPIC, COHERE, GEMINI, KEYS, MARKER, OPENAI

pytestmark = pytest.mark.e2e

MODELS = {
    "gpt-4o-mini": {"provider": "openai", "model": OPENAI.model, "kind": "commercial", "label": "GPT-4o mini"},
    "claude-haiku-4.5": {"provider": "anthropic", "model": ANTHROPIC.model, "kind": "commercial",
                         "label": "Claude Haiku 4.5"},
    "gemini-2.0-flash": {"provider": "gemini", "model": GEMINI.model, "kind": "commercial",
                         "label": "Gemini 2.0 Flash"},
    "command-a": {"provider": "cohere", "model": COHERE.model, "kind": "commercial", "label": "Command A"},
}
PRICING = {
    "prices": {
        "gpt-4o-mini": [{"as_of": "2024-07-18", "input": 0.15, "output": 0.60, "source": "https://openai.com/api/pricing/"}],
        "gemini-2.0-flash": [{"as_of": "2025-02-05", "input": 0.10, "output": 0.40,
                              "source": "https://ai.google.dev/gemini-api/docs/pricing"}],
    }
}
ANSWERS = {
    "gpt-4o-mini": ["Rayleigh", " scattering", " makes the sky blue."],
    "gemini-2.0-flash": ["Short", " wavelengths", " scatter more."],
    "command-a": ["Blue", " light", " scatters", " most."],
}


@pytest.fixture(scope="module")
def fakes_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fanout")
    (tmp / "models.yaml").write_text(yaml.safe_dump({"models": MODELS}))
    (tmp / "pricing.yaml").write_text(yaml.safe_dump(PRICING))
    fake = FakeServer().start()
    OPENAI.serve(fake, OPENAI.ok(ANSWERS["gpt-4o-mini"], 14, 9))
    GEMINI.serve(fake, GEMINI.ok(ANSWERS["gemini-2.0-flash"], 12, 7))
    COHERE.serve(fake, COHERE.ok(ANSWERS["command-a"], 11, 8))
    ANTHROPIC.serve(fake, ANTHROPIC.auth(KEYS["ANTHROPIC_API_KEY"]))  # echoes the key, as the real API does
    env = {"BAKEOFF_DB": str(tmp / "e2e.db"), "BAKEOFF_MODELS": str(tmp / "models.yaml"),
           "BAKEOFF_PRICING": str(tmp / "pricing.yaml")}
    for wire in (OPENAI, ANTHROPIC, GEMINI, COHERE):
        env |= wire.env(fake)
    try:
        with streamlit_app(env, ARTIFACTS / "streamlit-e2e-fanout.log") as url:
            yield url, fake
    finally:
        fake.stop()


def _pick(page, label: str) -> None:
    """Choose a model in the sidebar multiselect (retried: a script run landing mid-click closes the list)."""
    box = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect'] input")
    tags = page.locator("[data-testid='stSidebar'] [data-tag]")
    before = tags.count()
    for _ in range(4):
        try:
            box.click()
            box.fill(label)
            page.get_by_role("option", name=re.compile(re.escape(label))).first.click(timeout=15_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
        try:
            expect(tags).to_have_count(before + 1, timeout=15_000)
            return
        except AssertionError:
            continue
    page.screenshot(path=str(ARTIFACTS / "journey2-pick-failed.png"), full_page=True)
    raise AssertionError(f"could not pick {label}")


def _card(page, model: str):
    """The bordered card whose title is this model (the nearest block around its bold title)."""
    title = page.locator("[data-testid='stMarkdownContainer'] strong").get_by_text(model, exact=True).first
    return title.locator("xpath=ancestor::div[@data-testid='stVerticalBlock'][1]")


def test_journey_2_fan_out_with_one_failing_provider(page, fakes_app):
    url, fake = fakes_app
    page.goto(url)
    page.get_by_role("heading", name="Compare").wait_for(timeout=60_000)
    page.get_by_text("Type a prompt, pick models").wait_for(timeout=60_000)  # the first script run is over
    settle(page)
    # every key is set, so the default pair is two ready chat models, in picker order (provider, id)
    tags = page.locator("[data-testid='stSidebar'] [data-tag]")
    expect(tags).to_have_count(2, timeout=30_000)
    assert [t.split(" · ")[0] for t in tags.all_inner_texts()] == ["Claude Haiku 4.5", "Command A"]
    for label in ("GPT-4o mini", "Gemini 2.0 Flash"):
        _pick(page, label)
    page.keyboard.press("Escape")
    page.get_by_label("Prompt", exact=True).fill("Why is the sky blue?")
    page.get_by_role("heading", name="Compare").click()  # leaving the text area applies it
    # the pre-run estimate: 2 priced models bounded, the 2 unpriced named (never counted as $0)
    page.get_by_text("Estimated cost: 4 calls").wait_for(timeout=60_000)
    estimate = page.get_by_text("Estimated cost: 4 calls").inner_text()
    assert "2 unpriced (claude-haiku-4.5, command-a)" in estimate
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("heading", name="Comparison").wait_for(timeout=90_000)
    settle(page)
    page.wait_for_timeout(1500)  # plotly draws after the script run
    page.screenshot(path=str(ARTIFACTS / "journey2-fanout.png"), full_page=True)
    body = wait_for_text(page, "Rayleigh scattering makes the sky blue.", "Short wavelengths scatter more.",
                         "Blue light scatters most.")
    assert "Traceback" not in body and MARKER not in body  # the echoed key is redacted
    failed = _card(page, "claude-haiku-4.5")
    assert "AuthError" in failed.inner_text() and "failed" in failed.inner_text()
    assert "done" in _card(page, "gpt-4o-mini").inner_text()
    assert page.locator(".js-plotly-plot").count() >= 3  # latency, tokens/s, cost per call
    assert ANTHROPIC.requests(fake) == 1  # 401 is never retried
    assert all(w.requests(fake) == 1 for w in (OPENAI, GEMINI, COHERE))


def test_journey_3_history_open_and_rerun(page, fakes_app):
    url, fake = fakes_app
    page.goto(f"{url}/history")
    page.get_by_role("heading", name="History").wait_for(timeout=60_000)
    settle(page)
    wait_for_text(page, "1 run matches", "Why is the sky blue?")
    page.get_by_role("tab", name="Open a run").click()
    page.get_by_text("Rayleigh scattering makes the sky blue.").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "journey3-history-open.png"), full_page=True)
    page.get_by_role("button", name="Re-run with the same settings").click()
    page.get_by_role("heading", name="Compare").wait_for(timeout=60_000)
    page.get_by_role("heading", name="Comparison").wait_for(timeout=90_000)
    settle(page)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "journey3-rerun.png"), full_page=True)
    assert page.get_by_label("Prompt", exact=True).input_value() == "Why is the sky blue?"
    tags = page.locator("[data-testid='stSidebar'] [data-tag]").all_inner_texts()
    assert len(tags) == 4
    wait_for_text(page, "Blue light scatters most.")
    assert all(w.requests(fake) == 2 for w in (OPENAI, ANTHROPIC, GEMINI, COHERE))
    page.goto(f"{url}/history")
    page.get_by_role("heading", name="History").wait_for(timeout=60_000)
    settle(page)
    wait_for_text(page, "2 runs match")
    page.get_by_role("tab", name="Trends per model").click()
    page.locator(".js-plotly-plot >> visible=true").first.wait_for(timeout=30_000)  # the trend chart
    page.wait_for_timeout(1500)
    assert "Traceback" not in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "journey3-history-after.png"), full_page=True)
