"""Real Chromium against a real `streamlit run` of the app (Debian chromium; never `playwright install`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.e2e.launch import streamlit_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("BAKEOFF_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]

pytestmark = pytest.mark.e2e


def settle(page) -> None:
    """Wait until Streamlit has finished the script run (its status widget disappears)."""
    page.wait_for_timeout(500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=60_000)


def wait_for_text(page, *texts: str, timeout: int = 60_000) -> str:
    """Wait until the page shows every text, then return the body.

    On a loaded machine the status widget can vanish before Streamlit starts the rerun, so a settled page is
    not yet proof the new output is there; the output itself is.
    """
    from playwright.sync_api import expect

    for text in texts:
        expect(page.locator("body")).to_contain_text(text, timeout=timeout)
    return page.inner_text("body")


@pytest.fixture(scope="session")
def app_url():
    """A first launch: no provider keys or base URLs from the developer's shell (tests/e2e/launch.py lists them)."""
    db = Path(tempfile.mkdtemp()) / "e2e.db"
    with streamlit_app({"BAKEOFF_DB": str(db)}, ARTIFACTS / "streamlit-e2e.log") as url:
        yield url


# Module scope: sync Playwright keeps an event loop running on the main thread while open, which would
# break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS,
                              downloads_path=str(ARTIFACTS))
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    pg = context.new_page()
    yield pg
    context.close()
