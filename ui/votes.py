"""Human votes on the Compare page: one panel per pair of answers, optionally blind (Chatbot Arena style).

In blind mode the cards are shuffled and labelled "Model A", "Model B"...; names, figures and scores
come back once every pair has a vote (or the user reveals them). Votes are stored by bakeoff.store.store and
feed the Leaderboard page.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Mapping, Sequence

import streamlit as st

from bakeoff.records import Result, Vote, VoteOutcome
from bakeoff.store.store import Store

BLIND_RUNS = "compare_blind_runs"  # session: run ids started with blind mode on
REVEALED = "compare_revealed"  # session: blind run ids whose names are shown
OUTCOME_TEXT: dict[VoteOutcome, str] = {
    "a": "{a} is better",
    "b": "{b} is better",
    "tie": "Tie",
    "both_bad": "Both bad",
}
ICONS: dict[VoteOutcome, str] = {
    "a": ":material/arrow_back:",
    "b": ":material/arrow_forward:",
    "tie": ":material/drag_handle:",
    "both_bad": ":material/thumb_down:",
}


def blind_order(results: Sequence[Result], run_id: str) -> list[Result]:
    """The results shuffled the same way on every rerun (seeded by the run), so position gives nothing away."""
    order = list(results)
    random.Random(run_id).shuffle(order)
    return order


def blind_aliases(results: Sequence[Result], run_id: str) -> dict[str, str]:
    """result_id -> "Model A", "Model B"... in the blind order."""
    letters = itertools.chain(string.ascii_uppercase, (f"{a}{b}" for a in string.ascii_uppercase for b in "123456789"))
    return {r.result_id: f"Model {letter}" for r, letter in zip(blind_order(results, run_id), letters, strict=False)}


def vote_pairs(results: Sequence[Result]) -> list[tuple[Result, Result]]:
    """Every pair of finished answers, in display order."""
    answered = [r for r in results if r.status == "ok" and r.output.strip()]
    return list(itertools.combinations(answered, 2))


def _pair_key(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


def started_blind(run_id: str) -> None:
    st.session_state.setdefault(BLIND_RUNS, set()).add(run_id)


def is_blind(run_id: str, results: Sequence[Result], store: Store) -> bool:
    """Blind now: started blind, not revealed, and some pair still lacks a vote (then it reveals itself)."""
    if run_id not in st.session_state.get(BLIND_RUNS, set()) or run_id in st.session_state.get(REVEALED, set()):
        return False
    pairs = vote_pairs(results)
    voted = {_pair_key(v.model_a, v.model_b) for v in store.votes_for(run_id)}
    if pairs and all(_pair_key(a.model_ref, b.model_ref) in voted for a, b in pairs):
        reveal(run_id)
        return False
    return True


def reveal(run_id: str) -> None:
    st.session_state.setdefault(REVEALED, set()).add(run_id)


def _cast(store: Store, vote: Vote) -> None:
    store.save_vote(vote)


def render_vote_panel(
    results: Sequence[Result], store: Store, *, run_id: str, aliases: Mapping[str, str] | None, key: str
) -> None:
    """One row of vote buttons per pair of answers; shows the vote already cast, which a click replaces."""
    pairs = vote_pairs(results)
    if not pairs:
        return
    existing = {_pair_key(v.model_a, v.model_b): v for v in store.votes_for(run_id)}
    st.subheader("Your vote")
    st.caption(
        "Which answer is better? Votes are stored and feed the Leaderboard page"
        + (" — names are hidden until you have voted on every pair." if aliases else ".")
    )
    for i, (a, b) in enumerate(pairs):
        name_a = aliases.get(a.result_id, a.model_ref) if aliases else a.model_ref
        name_b = aliases.get(b.result_id, b.model_ref) if aliases else b.model_ref
        with st.container(border=True):
            st.markdown(f"**{name_a}** vs **{name_b}**")
            cols = st.columns(4)
            for col, outcome in zip(cols, ("a", "b", "tie", "both_bad"), strict=True):
                vote = Vote(
                    run_id=run_id,
                    model_a=a.model_ref,
                    model_b=b.model_ref,
                    result_a=a.result_id,
                    result_b=b.result_id,
                    outcome=outcome,
                    blind=aliases is not None,
                )
                col.button(
                    OUTCOME_TEXT[outcome].format(a=name_a, b=name_b),
                    key=f"{key}_vote_{run_id}_{i}_{outcome}",
                    icon=ICONS[outcome],
                    on_click=_cast,
                    args=(store, vote),
                    width="stretch",
                )
            cast = existing.get(_pair_key(a.model_ref, b.model_ref))
            if cast is not None:
                shown_a = name_a if cast.model_a == a.model_ref else name_b
                shown_b = name_b if cast.model_a == a.model_ref else name_a
                said = OUTCOME_TEXT[cast.outcome].format(a=shown_a, b=shown_b)
                st.caption(
                    f"Your vote: **{said}**" + (" (cast blind)" if cast.blind else "") + " — click to change it."
                )
