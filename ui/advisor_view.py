"""Rendering the Advisor's verdicts: each model with the rules that placed it, and the hand-off to Compare."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from bakeoff.advisor import RANK_ORDER, Advice, Handoff, Reason, Verdict
from ui.prefill import request_prefill

MARK = {True: ":green[:material/check_circle:]", False: ":red[:material/cancel:]", None: ":orange[:material/help:]"}
COMPARE_PAGE = "app_pages/compare.py"


def reason_line(r: Reason) -> str:
    return f"{MARK[r.passed]} **{r.rule}**: {r.text}"


def summary_frame(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [v.rank for v in verdicts],
            "model": [v.label for v in verdicts],
            "id": [v.model_id for v in verdicts],
            "capability": [v.capability.label if v.capability else "unknown" for v in verdicts],
            "ready": [READY.get(v.ready, "unknown") for v in verdicts],
            "est_per_m": [v.est_usd_per_million for v in verdicts],
            "est_monthly": [v.est_monthly_usd for v in verdicts],
            "ttft": [v.median_ttft_s for v in verdicts],
            "tok_s": [v.median_tokens_per_s for v in verdicts],
        }
    )


READY = {True: "ready", False: "set up first"}
SUMMARY_CONFIG = {
    "rank": st.column_config.NumberColumn("rank", format="%d"),
    "capability": st.column_config.TextColumn(
        "capability", help="Tier from a sourced parameter count (tiny < 1B, small < 15B, medium < 100B, large), else "
        "the vendor's own tier (flagship / mid / small). Not a benchmark; unknown = neither fact is in models.yaml."),
    "ready": st.column_config.TextColumn(
        "ready here", help="Key set, server up, weights on disk. Not ready: the card says what to set up."),
    "est_per_m": st.column_config.NumberColumn(
        "est. $/1M tok (blended)", format="$%.4f",
        help="Input and output prices weighted by your tokens per request. Local models: hardware $/hour over the "
        "measured output speed. — = no price and no measurement (unknown)."),
    "est_monthly": st.column_config.NumberColumn("est. $/month", format="$%.2f",
                                                 help="Blended $/1M × tokens per request × requests per month."),
    "ttft": st.column_config.NumberColumn("median TTFT (s)", format="%.3f",
                                          help="Measured on this machine (History); — = not measured yet."),
    "tok_s": st.column_config.NumberColumn("median output (tok/s)", format="%.1f",
                                           help="Measured on this machine (History); — = not measured yet."),
}


def render_verdict(v: Verdict) -> None:
    with st.container(border=True):
        title = f"#{v.rank} · {v.label}" if v.rank else v.label
        st.markdown(f"**{title}**  \n`{v.model_id}`")
        st.markdown("\n".join(f"- {reason_line(r)}" for r in v.reasons))


def render_advice(advice: Advice, compare_button: Callable[[], None]) -> None:
    """The shortlist (table, then `compare_button`, then one card per pick), then the rest, then the exclusions."""
    if not advice.shortlist:
        st.warning("No model passes every rule. The list below says which rule excluded each one: relax the "
                   "strictest (often the budget or the latency target) and the shortlist fills up.")
    else:
        st.subheader("Shortlist")
        st.caption(f"Ranked by {RANK_ORDER}.")
        st.dataframe(summary_frame(advice.shortlist), hide_index=True, column_config=SUMMARY_CONFIG,
                     key="advisor_summary", placeholder="—")
        compare_button()
        st.caption(f"{MARK[True]} rule met · {MARK[False]} rule failed (excluded) · {MARK[None]} could not be checked "
                   "(no price, no measurement yet, or unknown fact)")
        columns = st.columns(min(3, len(advice.shortlist)))
        for i, v in enumerate(advice.shortlist):
            with columns[i % len(columns)]:
                render_verdict(v)
    if advice.also_eligible:
        with st.expander(f"Also eligible, ranked lower ({len(advice.also_eligible)})"):
            for v in advice.also_eligible:
                st.markdown(f"**#{v.rank} {v.label}** (`{v.model_id}`)  \n" + reason_line(v.reasons[0]))
    if advice.excluded:
        with st.expander(f"Excluded ({len(advice.excluded)}) and why"):
            for v in advice.excluded:
                st.markdown(f"**{v.label}** (`{v.model_id}`)  \n" + "  \n".join(reason_line(r) for r in v.failed))


def render_compare_button(handoff: Handoff, labels: dict[str, str]) -> None:
    """"Compare these" with only the runnable picks; the others listed with what to set up for them."""
    n, of = len(handoff.model_ids), handoff.shortlisted
    names = ", ".join(labels[m] for m in handoff.model_ids) or "none"
    clicked = st.button(f"Compare these ({n})", type="primary", key="advisor_compare", disabled=not handoff.enough,
                        icon=":material/compare_arrows:", help=f"Open Compare with the ready ones selected: {names}.")
    if handoff.to_configure:
        fixes = "\n".join(f"- {fix} — for {', '.join(who)}" for fix, who in handoff.to_configure.items())
        if handoff.enough:
            st.info(f"{n} of the {of} shortlisted models can run here; Compare gets those. To add the others:\n"
                    + fixes, icon=":material/info:")
        else:
            st.warning(f"{'None' if n == 0 else 'Only one'} of the {of} shortlisted models can run here, too few to "
                       "compare. Set them up first, or turn on “Only models ready to run here”:\n" + fixes,
                       icon=":material/key:")
    if clicked:
        compare_these(handoff.model_ids)


def compare_these(model_ids: list[str]) -> None:
    """Pre-fill the Compare page's model picker (through ui.prefill, as History's re-run does) and go there."""
    request_prefill(st.session_state, model_refs=model_ids)
    st.switch_page(COMPARE_PAGE)
