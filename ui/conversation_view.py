"""Conversations on Compare and History: reading a run's earlier turns, the newest turn, the follow-up box.

The cards draw each model's earlier turns and conversation total (ui/cards.py).

A follow-up goes to every model of the conversation with the conversation's own settings (not the
sidebar's); each model continues its own thread (bakeoff/runner/conversation.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import streamlit as st

from bakeoff.catalog.config import Catalog, UnknownModel
from bakeoff.catalog.estimate import check_budget, estimate_cells
from bakeoff.jobs.registry import Jobs
from bakeoff.jobs.runs import start_run
from bakeoff.records import Result, Run
from bakeoff.runner.conversation import EarlierTurn, earlier_runs, next_turn, thread_text, threads
from bakeoff.runner.fan_out import InvalidRun
from bakeoff.store.store import Store
from ui.cards import safe_markdown

FOLLOWUP = "compare_followup"
_ERROR = "compare_followup_error"
_CACHE = "conversation_threads"  # session: run_id -> its threads (earlier turns do not change)


def threads_for(store: Store, run: Run) -> dict[str, list[EarlierTurn]]:
    """Each model's earlier turns in this run's conversation; read from the store once per run and session."""
    if run.turn <= 1 and not run.history:
        return {}
    cache = st.session_state.setdefault(_CACHE, {})
    if run.run_id not in cache:
        chain = store.conversation(run.conversation_id) if run.turn > 1 else []
        cache.clear()  # one conversation at a time is shown: keep only this one
        cache[run.run_id] = threads(run, earlier_runs(chain, run))
    return cache[run.run_id]


def render_turn_header(run: Run) -> None:
    """The newest user turn above the cards, for a conversation past its first turn."""
    if run.turn > 1:
        st.markdown(f"**Turn {run.turn}** of this conversation · every model continues its own thread")
        with st.chat_message("user"):
            st.markdown(safe_markdown(run.prompt))


def _refusal(cat: Catalog, run: Run, cap: Decimal | None) -> str | None:
    """Why the budget cap refuses this turn (each model's thread counted), or None."""
    if cap is None:
        return None
    cells = [(ref, run.params.system, thread_text(run, ref)) for ref in run.model_refs]
    try:
        return check_budget(estimate_cells(cat, cells, run.params.max_tokens), cap)
    except UnknownModel:
        return None  # the run itself will say which model is unknown


def _send(run: Run, results: Sequence[Result], cat: Catalog, store: Store, jobs: Jobs,
          cap: Decimal | None, on_start: Callable[[Run], None]) -> None:
    nxt = next_turn(run, results, st.session_state.get(FOLLOWUP, ""))
    try:
        if refusal := _refusal(cat, nxt, cap):
            raise InvalidRun(refusal)
        start_run(jobs, nxt, cat, store)
    except InvalidRun as exc:
        st.session_state[_ERROR] = str(exc)
        return
    st.session_state[FOLLOWUP] = ""
    on_start(nxt)


def render_followup(run: Run, results: Sequence[Result], cat: Catalog, store: Store, jobs: Jobs, *,
                    cap: Decimal | None, on_start: Callable[[Run], None]) -> None:
    """The box that sends the next user turn to every model of this conversation; on_start gets the new run."""
    with st.container(border=True):
        st.markdown(f"**Follow-up** · turn {run.turn + 1}")
        st.text_area(
            "Your next message", key=FOLLOWUP, height=80, placeholder="Ask a follow-up question…",
            help="Sent to every model of this conversation, each continuing its own thread (its own earlier "
            "answers), with the conversation's settings. A model that failed a turn continues without it.",
        )
        st.button("Send follow-up", key="compare_followup_send", type="primary", icon=":material/send:",
                  on_click=_send, args=(run, list(results), cat, store, jobs, cap, on_start))
        if error := st.session_state.pop(_ERROR, None):
            st.error(error)
