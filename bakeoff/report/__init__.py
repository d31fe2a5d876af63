"""Shareable reports: one self-contained HTML file per run or batch (no Streamlit, no network).

`build(store, id)` finds out which kind the id names; the CLI (`python -m bakeoff report`) and the dashboard's
"Download report (HTML)" buttons use the same builders.
"""

from __future__ import annotations

from bakeoff.batch.store import batch_results, get_batch
from bakeoff.report.batch_page import batch_html
from bakeoff.report.run_page import run_html
from bakeoff.store.store import Store

__all__ = ["UnknownId", "batch_html", "build", "run_html"]


class UnknownId(LookupError):
    """No run and no batch has this id."""


def build(store: Store, report_id: str) -> str:
    """The report of the run or batch with this id (a batch id is looked up first: both are random hex)."""
    batch = get_batch(store, report_id)
    if batch is not None:
        return batch_html(batch, batch_results(store, report_id))
    found = store.get_run(report_id)
    if found is None:
        raise UnknownId(f"no run or batch with id {report_id!r} in {store.display_url}")
    run, results = found
    return run_html(run, results, judgments=store.judgments_for(report_id), votes=store.votes_for(report_id))
