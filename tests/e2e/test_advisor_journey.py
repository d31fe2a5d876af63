"""Journey 4 in real Chromium: Advisor → "Compare these" → the Compare page opens with the shortlist picked.

Also visits Models and Settings and keeps a screenshot of each page under artifacts/.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS, settle, wait_for_text

pytestmark = pytest.mark.e2e


def test_advisor_shortlist_prefills_compare(page, app_url):
    page.goto(f"{app_url}/advisor")
    page.get_by_role("heading", name="Advisor").wait_for(timeout=60_000)
    page.get_by_text("Data must stay local (privacy)").click()
    settle(page)
    page.get_by_text("Only models ready to run here", exact=True).click()  # the warning quotes it too
    settle(page)
    page.get_by_role("heading", name="Shortlist").wait_for(timeout=30_000)
    wait_for_text(page, "runs on your machine or your own server", "ready to run here")
    settle(page)
    assert "Traceback" not in page.inner_text("body")
    page.wait_for_timeout(1500)  # let the summary table paint its canvas
    page.screenshot(path=str(ARTIFACTS / "advisor.png"), full_page=True)

    cards = page.get_by_text(re.compile(r"^#\d+ · ")).all_inner_texts()  # "#1 · SmolLM2 … (bundled)"
    labels = [card.split(" · ", 1)[1].splitlines()[0].strip() for card in cards]
    button = page.get_by_role("button", name="Compare these")
    assert button.inner_text().endswith(f"({len(labels)})") and labels
    button.click()
    try:
        page.get_by_role("heading", name="Compare").wait_for(timeout=120_000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "advisor-journey-failure.png"), full_page=True)
        raise
    settle(page)
    picker = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").first
    picker.wait_for(timeout=30_000)
    chosen = picker.inner_text()
    for label in labels:  # the shortlist, pre-filled in the sidebar's model picker
        assert label in chosen, (label, chosen)
    assert any("bundled" in label for label in labels)  # ready here without keys or internet
    page.get_by_label("Prompt", exact=True).wait_for(timeout=60_000)
    settle(page)
    assert "Traceback" not in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "advisor-to-compare.png"), full_page=True)


def test_models_and_settings_pages_render(page, app_url):
    page.goto(f"{app_url}/models")
    page.get_by_role("heading", name="Models").wait_for(timeout=60_000)
    settle(page)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert "Traceback" not in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "models.png"), full_page=True)

    page.goto(f"{app_url}/settings")
    page.get_by_role("heading", name="Settings").wait_for(timeout=60_000)
    settle(page)
    body = wait_for_text(page, "Local compute cost", "Default parameters")
    assert "Traceback" not in body
    page.screenshot(path=str(ARTIFACTS / "settings.png"), full_page=True)
