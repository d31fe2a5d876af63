"""A finished run: cards, comparison table, charts and downloads."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from bakeoff import export
from bakeoff.records import Result, Run
from metrics.latency import HELP
from ui import charts
from ui.cards import render_cards
from ui.tables import comparison_frame

_COLUMNS = {
    "queue_s": st.column_config.NumberColumn("queue (s)", format="%.2f", help=HELP["queue_s"]),
    "ttft_s": st.column_config.NumberColumn("TTFT (s)", format="%.3f", help=HELP["ttft_s"]),
    "generation_s": st.column_config.NumberColumn("generation (s)", format="%.3f"),
    "e2e_s": st.column_config.NumberColumn("total (s)", format="%.3f", help=HELP["e2e_s"]),
    "tpot_ms": st.column_config.NumberColumn("TPOT (ms)", format="%.1f", help=HELP["tpot_s"]),
    "output_tokens_per_s": st.column_config.NumberColumn("tok/s", format="%.1f", help=HELP["output_tokens_per_s"]),
    "memory_mb": st.column_config.NumberColumn("memory (MB)", format="%.0f"),
    "cost_usd": None,
}


def render_run(run: Run, results: Sequence[Result], key: str) -> None:
    render_cards(results)
    frame = comparison_frame(results)
    st.subheader("Comparison")
    st.dataframe(frame, hide_index=True, column_config=_COLUMNS, key=f"{key}_table")
    if frame["ttft_s"].notna().any():
        left, right = st.columns(2)
        left.plotly_chart(charts.latency_breakdown(frame), key=f"{key}_latency")
        right.plotly_chart(charts.throughput(frame), key=f"{key}_throughput")
    a, b, _ = st.columns([1, 1, 4])
    a.download_button(
        "Download CSV",
        export.to_csv([(run, list(results))]),
        file_name=f"bakeoff-{run.run_id}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        icon=":material/download:",
    )
    b.download_button(
        "Download JSONL",
        export.to_jsonl([(run, list(results))]),
        file_name=f"bakeoff-{run.run_id}.jsonl",
        mime="application/jsonl",
        key=f"{key}_jsonl",
    )
