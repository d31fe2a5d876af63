"""One card per model: the answer, then the figures that decide a choice."""

from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

from bakeoff.records import Result
from metrics.cost import format_usd
from metrics.latency import HELP
from ui.tables import TOKENS_LABEL

STATUS_BADGE = {
    "queued": ("queued", "gray"),
    "running": ("running", "blue"),
    "ok": ("done", "green"),
    "error": ("failed", "red"),
    "interrupted": ("interrupted", "orange"),
    "timeout": ("timed out", "orange"),
    "cancelled": ("stopped", "gray"),
}
_IMAGE = re.compile(r"!\[")


def safe_markdown(text: str) -> str:
    """Model output as markdown without remote images (no tracking pixels); HTML stays escaped."""
    return _IMAGE.sub(r"!\\[", text)


def _fmt(value: float | None, fmt: str, unit: str) -> str:
    return "unknown" if value is None else f"{value:{fmt}}{unit}"


def render_card(r: Result) -> None:
    label, color = STATUS_BADGE.get(r.status, (r.status, "gray"))
    with st.container(border=True):
        head = f"**{r.model_ref}** :{color}-badge[{label}]"
        if r.precision:
            head += f" :violet-badge[{r.precision}]"
        st.markdown(head)
        if r.progress and not r.done:
            st.caption(f"⏳ {r.progress}")
        if r.output:
            st.markdown(safe_markdown(r.output))
        elif r.status == "running":
            st.caption("waiting for the first token…")
        if r.error:
            show = st.error if r.status == "error" else st.warning
            show(f"**{r.error.cls}**: {r.error.message}" + (f"\n\n{r.error.hint}" if r.error.hint else ""))
        if r.done:
            _figures(r)


def _figures(r: Result) -> None:
    tokens = TOKENS_LABEL.get(r.tokens_source or "", "unknown")
    cost = format_usd(r.cost_usd) + (f" · {r.cost_basis}" if r.cost_basis else "")
    lines = [
        f"TTFT **{_fmt(r.ttft_s, '.2f', ' s')}** · total **{_fmt(r.e2e_s, '.2f', ' s')}** · "
        f"**{_fmt(r.output_tokens_per_s, '.1f', ' tok/s')}**",
        f"tokens in/out **{r.input_tokens if r.input_tokens is not None else '?'} / "
        f"{r.output_tokens if r.output_tokens is not None else '?'}** ({tokens})",
        f"cost **{cost}** · finish **{r.finish_reason or 'unknown'}**"
        + (f" · attempts {r.attempts}" if r.attempts > 1 else ""),
    ]
    if r.provider_meta.get("temperature_ignored"):
        lines.append("temperature not applied: this API version fixes sampling")
    if r.memory_bytes:
        lines.append(f"weights in memory **{r.memory_bytes / 1e6:,.0f} MB** ({r.precision})")
    st.caption("  \n".join(lines), help="  \n".join(f"{k}: {v}" for k, v in HELP.items()))


def render_cards(results: Sequence[Result], per_row: int = 4) -> None:
    for start in range(0, len(results), per_row):
        row = results[start : start + per_row]
        for col, r in zip(st.columns(per_row), row, strict=False):
            with col:
                render_card(r)
