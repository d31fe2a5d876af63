"""Pre-run cost estimate for the Compare selection and the budget cap that can refuse a run."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import pandas as pd
import streamlit as st

from bakeoff.catalog.config import Catalog, UnknownModel
from bakeoff.catalog.estimate import CostEstimate, check_budget, estimate_run_cost
from metrics.cost import format_usd
from ui import state


def budget_setting() -> Decimal | None:
    """Sidebar: the most one run may cost (blank = no cap)."""
    text = st.text_input(
        "Budget cap (USD)",
        key="compare_budget", persist_state=state.KEEP_ACROSS_PAGES,
        placeholder="no cap",
        help="The most one comparison (all models, all repeats) may cost. A run whose estimated upper bound (every "
        "answer at max tokens, times repeats) is above this is refused before any request is sent. Unpriced API "
        "models cannot be bounded, so a cap refuses them too.",
    )
    if not text.strip():
        return None
    try:
        cap = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        st.warning(f"Budget cap {text!r} is not a number; no cap applies.")
        return None
    if cap < 0:
        st.warning("A budget cap cannot be negative; no cap applies.")
        return None
    return cap


def md_dollars(text: str) -> str:
    r"""Dollar signs shown as such: two in one markdown string would otherwise typeset the text between as LaTeX.

    >>> md_dollars("from $1 to $2")
    'from \\$1 to \\$2'
    """
    return text.replace("$", "\\$")


def estimate(
    cat: Catalog, refs: Sequence[str], system: str, prompt: str, max_tokens: int, repeats: int
) -> CostEstimate | None:
    """The upper-bound estimate, or None when there is nothing to estimate yet (no model or prompt)."""
    if not refs or not prompt.strip():
        return None
    try:
        return estimate_run_cost(cat, list(refs), [(system.strip() or None, prompt)], max_tokens, repeats)
    except UnknownModel:
        return None  # the run itself will say which model is unknown


def estimate_frame(est: CostEstimate) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": r.model_ref,
                "calls": r.calls,
                "input tokens (est.)": r.input_tokens,
                "max output tokens / call": r.max_output_tokens,
                "up to (USD)": format_usd(r.usd) if r.usd is not None else ("local compute" if r.local else "unpriced"),
                "basis": r.basis,
            }
            for r in est.rows
        ]
    )


def render_estimate(est: CostEstimate | None, cap: Decimal | None) -> str | None:
    """A one-line estimate with its per-model breakdown; returns why the cap refuses the run, if it does."""
    if est is None:
        return None
    refusal = check_budget(est, cap)
    line = f"Estimated cost: {est.summary()}"
    if cap is not None:
        line += f" · cap {format_usd(cap)}"
    with st.popover(md_dollars(line), icon=":material/payments:", use_container_width=False):
        st.caption("Upper bound before sending: input counted with tiktoken, every answer assumed to reach max "
                   "tokens. The real cost, from the providers' reported usage, is shown after the run.")
        st.table(estimate_frame(est).set_index("model"))
    return refusal
