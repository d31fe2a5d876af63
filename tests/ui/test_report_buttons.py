"""The "Download report (HTML)" buttons: on a finished run (Compare) and on a batch's results."""

from __future__ import annotations

from tests.ui import test_batch_page as batch_page
from tests.ui import test_compare_page as compare_page

REPORT = "Download report (HTML)"


def labels(at) -> set[str]:
    return {b.proto.label for b in at.get("download_button")}


def test_a_finished_run_offers_the_report_beside_csv_and_jsonl(start_app):
    at = start_app(compare_page.MODELS, compare_page.PRICING, timeout=30)
    assert REPORT not in labels(at)  # nothing to report before a run
    at = compare_page.wait_until_done(compare_page.run_compare(at, "Capital of France?", ["alpha", "beta"]))
    assert not at.exception
    assert {"Download CSV", "Download JSONL", REPORT} <= labels(at)
    button = next(b for b in at.get("download_button") if b.proto.label == REPORT)
    assert button.proto.help.startswith("One self-contained file")


def test_batch_results_offer_the_report_beside_the_exports(start_app):
    at = start_app(batch_page.MODELS, batch_page.PRICING, timeout=30)
    at.switch_page("app_pages/batch.py").run()
    assert REPORT not in labels(at)
    at = batch_page.fill(at, batch_page.CSV, ["alpha", "beta"])
    at.button(key="batch_start").click().run()
    at = batch_page.wait_until_done(at)
    assert not at.exception
    assert {"CSV", "JSONL", "PARQUET", REPORT} <= labels(at)
