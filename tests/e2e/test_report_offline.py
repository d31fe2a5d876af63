"""The shareable report in real Chromium with the network off: charts drawn, no console error, nothing requested.

Reports come from the CLI (a run with votes and verdicts, and a batch with a hostile answer) and from the
dashboard's "Download report (HTML)" button on History. Every request that is not file: or data: is aborted
and recorded, and the context is offline as well: a report that needed anything from the network fails here.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from bakeoff import cli
from bakeoff.batch.input import parse_items
from bakeoff.batch.runner import Batch, run_batch_blocking
from bakeoff.records import Judgment, Params, Run, Vote
from bakeoff.runner.engine import run_blocking
from bakeoff.store.store import Store
from metrics.assertions import Assertion
from tests.conftest import scripted_catalog
from tests.e2e.conftest import ARTIFACTS, settle
from tests.e2e.launch import streamlit_app

pytestmark = pytest.mark.e2e

PROMPT = "In one sentence, why is the sky blue?"
REFERENCE = "Air molecules scatter short blue wavelengths of sunlight more than long red ones (Rayleigh scattering)."
ANSWERS = {
    "gpt-4o-mini": "The sky looks blue because air molecules scatter the short, blue wavelengths of sunlight much "
    "more strongly than the long, red ones (Rayleigh scattering).",
    "claude-haiku-4.5": "Sunlight is scattered by the gas molecules of the atmosphere, and blue light, with its "
    "shorter wavelength, is scattered the most, so it reaches our eyes from every direction.",
    "smollm2-135m-instruct": "The sky is blue because it reflects the colour of the ocean.",
}
TIMING = {"gpt-4o-mini": (0.35, [24, 31]), "claude-haiku-4.5": (0.55, [26, 38]), "smollm2-135m-instruct": (0.12, None)}
HOSTILE = '<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2"> <iframe src=https://evil.example>'
BATCH_CSV = b"id,prompt,reference\nq1,What is the capital of France?,Paris\nq2,What is 2+2?,4\nq3,Say hi,hi\n"


def _catalog():
    models = {}
    for name, text in ANSWERS.items():
        delay, usage = TIMING[name]
        words = [w + " " for w in text.split(" ")]
        models[name] = {"chunks": words, "first_delay": delay, "chunk_delay": 0.02}
        models[name] |= {"usage": usage, "priced": True} if usage else {"kind": "local"}
    return scripted_catalog(**models)


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict:
    """A database with a run (a vote and judge verdicts on it) and a batch, and their reports written by the CLI.

    Requested before `browser`: sync Playwright keeps an event loop running, and the runner needs asyncio.run.
    """
    from bakeoff.runner import scoring
    from providers import registry
    from tests.fakes import embedding

    registry.register("scripted", "tests.fakes.scripted:ScriptedProvider")
    scoring.EMBEDDER.reset(embedding.load)  # module scope runs before the autouse light-embedder fixture
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "report.db"
    store = Store(f"sqlite:///{db}")
    batch_cat = scripted_catalog(
        alpha={"replies": [["France", "Paris"], ["2\\+2", "4"], ["hi", "hi"]], "usage": [12, 4], "priced": True},
        beta={"replies": [["France", "Lyon"], ["2\\+2", "4"], ["hi", HOSTILE]]},
    )
    batch = Batch(items=parse_items(BATCH_CSV, "set.csv"), model_refs=["alpha", "beta"], repeats=2)
    assert run_batch_blocking(batch, batch_cat, store).status == "done"
    time.sleep(1.1)  # History opens the newest run: the run, not one of the batch's cells (stamped in seconds)
    run = Run(
        prompt=PROMPT,
        model_refs=list(ANSWERS),
        reference=REFERENCE,
        params=Params(temperature=0.0, max_tokens=128),
        assertions=[Assertion("contains", "scatter", case_sensitive=False)],
    )
    assert [r.status for r in run_blocking(run, _catalog(), store)] == ["ok", "ok", "ok"]
    store.save_vote(Vote(run_id=run.run_id, model_a="gpt-4o-mini", model_b="smollm2-135m-instruct", outcome="a"))
    for model, score, why in (
        ("gpt-4o-mini", 9, "Correct and names the mechanism."),
        ("claude-haiku-4.5", 8, "Correct, a little long for one sentence."),
        ("smollm2-135m-instruct", 2, "A common misconception: the ocean does not colour the sky."),
    ):
        store.save_judgment(
            Judgment(run_id=run.run_id, judge_model="claude-haiku-4.5", mode="rubric", model_a=model, score=score,
                     criteria={"correctness": "Is it right?"}, rationale=why, batch_id="j1")
        )  # fmt: skip
    files = {}
    for name, report_id in (("run", run.run_id), ("batch", batch.batch_id)):
        files[name] = tmp / f"{name}.html"
        assert cli.main(["--db", str(db), "report", report_id, "--html", str(files[name])]) == 0
    return {"db": db, "run_id": run.run_id, "files": files, "tmp": tmp}


def open_offline(browser, path: Path, screenshot: str | None = None) -> dict:
    """Open the file with every non-file request aborted; wait for Plotly; report what the page did."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_offline(True)
    page = context.new_page()
    seen: dict = {"blocked": [], "requests": [], "console": [], "dialogs": []}

    def route(r) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            seen["blocked"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["console"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    try:
        page.goto(path.as_uri())
        charts = page.locator(".chart").count()
        page.wait_for_function(
            "n => document.querySelectorAll('.chart .main-svg').length >= n && window.Plotly !== undefined", arg=charts
        )
        page.wait_for_timeout(500)
        # what each chart drew: bars, points, lines or the heat map's image
        seen["drawn"] = page.eval_on_selector_all(
            ".chart", "cs => cs.map(c => c.querySelectorAll('.cartesianlayer .trace path, .heatmaplayer image').length)"
        )
        seen["pwned"] = page.evaluate("window.pwned")
        seen["text"] = page.inner_text("body")
        seen["hrefs"] = page.eval_on_selector_all("[href], [src]", "es => es.map(e => e.outerHTML.slice(0, 120))")
        if screenshot:
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    finally:
        context.close()
    return seen


def assert_clean(seen: dict) -> None:
    assert seen["blocked"] == [] and seen["console"] == [] and seen["dialogs"] == []
    assert all(u.startswith(("file:", "data:", "blob:")) for u in seen["requests"]), seen["requests"]
    assert seen["drawn"] and all(n > 0 for n in seen["drawn"]), seen["drawn"]
    assert seen["pwned"] is None and seen["hrefs"] == []


def test_run_report_offline(stored, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    seen = open_offline(browser, stored["files"]["run"], screenshot="report.png")
    assert_clean(seen)
    assert len(seen["drawn"]) == 5  # latency, throughput, cost, quality heat map, cost vs quality
    text = seen["text"]
    assert all(answer in text for answer in ANSWERS.values())
    assert "Judge verdicts" in text and "A common misconception" in text and "gpt-4o-mini better" in text


def test_batch_report_offline_keeps_a_hostile_answer_as_text(stored, browser):
    seen = open_offline(browser, stored["files"]["batch"], screenshot="report-batch.png")
    assert_clean(seen)
    assert "<script>window.pwned=1</script>" in seen["text"]  # shown as the model wrote it, never run
    assert "Paired comparison" in seen["text"] and "Item q3" in seen["text"]


def test_dashboard_download_is_the_same_offline_report(stored, browser):
    tmp = stored["tmp"]
    (tmp / "models.yaml").write_text(yaml.safe_dump({"models": {}}))
    (tmp / "pricing.yaml").write_text("prices: {}\n")
    env = {"BAKEOFF_DB": str(stored["db"]), "BAKEOFF_MODELS": str(tmp / "models.yaml"),
           "BAKEOFF_PRICING": str(tmp / "pricing.yaml")}  # fmt: skip
    with streamlit_app(env, ARTIFACTS / "streamlit-e2e-report.log") as url:
        context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        page = context.new_page()
        try:
            page.goto(f"{url}/history")
            page.get_by_role("heading", name="History").wait_for(timeout=60_000)
            settle(page)
            page.get_by_role("tab", name="Open a run").click()
            button = page.get_by_role("button", name="Download report (HTML)")
            button.wait_for(timeout=60_000)
            with page.expect_download(timeout=60_000) as info:
                button.click()
            saved = tmp / "from-dashboard.html"
            info.value.save_as(saved)
            assert info.value.suggested_filename == f"bakeoff-{stored['run_id']}.html"
        finally:
            context.close()
    seen = open_offline(browser, saved)
    assert_clean(seen)
    assert len(seen["drawn"]) == 5 and all(answer in seen["text"] for answer in ANSWERS.values())
