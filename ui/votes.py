"""Human votes on the Compare page: one panel per pair of answers, optionally blind (Chatbot Arena style).

In blind mode the cards are shuffled and labelled "Model A", "Model B"...; names, figures and scores
come back once every pair has a vote, or the answers are ranked (or the user reveals them). Votes and rankings
are stored by bakeoff.store.store and feed the Leaderboard page.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Mapping, Sequence

import streamlit as st

from bakeoff.catalog.choices import ref_label
from bakeoff.records import Ranking, Result, Vote, VoteOutcome
from bakeoff.store.store import Store
from ui import state

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


def answered(results: Sequence[Result]) -> list[Result]:
    return [r for r in results if r.status == "ok" and r.output.strip()]


def vote_pairs(results: Sequence[Result]) -> list[tuple[Result, Result]]:
    """Every pair of finished answers, in display order."""
    return list(itertools.combinations(answered(results), 2))


def _pair_key(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


def started_blind(run_id: str) -> None:
    st.session_state.setdefault(BLIND_RUNS, set()).add(run_id)


def is_blind(run_id: str, results: Sequence[Result], store: Store) -> bool:
    """Blind now: started blind, not revealed, unranked, and some pair still lacks a vote (then it reveals itself)."""
    if run_id not in st.session_state.get(BLIND_RUNS, set()) or run_id in st.session_state.get(REVEALED, set()):
        return False
    pairs = vote_pairs(results)
    voted = {_pair_key(v.model_a, v.model_b) for v in store.votes_for(run_id)}
    all_voted = bool(pairs) and all(_pair_key(a.model_ref, b.model_ref) in voted for a, b in pairs)
    if all_voted or store.ranking_for(run_id) is not None:
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
        name_a = aliases.get(a.result_id, a.model_ref) if aliases else ref_label(state.catalog(), a.model_ref)
        name_b = aliases.get(b.result_id, b.model_ref) if aliases else ref_label(state.catalog(), b.model_ref)
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
    render_ranking_panel(results, store, run_id=run_id, aliases=aliases, key=key)


def render_ranking_panel(
    results: Sequence[Result], store: Store, *, run_id: str, aliases: Mapping[str, str] | None, key: str
) -> None:
    """With 3+ answers: pick them all, best first, and save; shows the ranking already saved.

    No ties: Plackett-Luce (the Leaderboard's ranking board) models a strict order, and two answers
    you find equally good are what the pairwise Tie vote is for.
    """
    shown = answered(results)
    if len(shown) < 3:
        return
    by_id = {r.result_id: r for r in shown}

    def name(result_id: str) -> str:
        ref = by_id[result_id].model_ref
        return aliases.get(result_id, ref) if aliases else ref_label(state.catalog(), ref)

    saved = store.ranking_for(run_id)
    st.subheader("Or rank them all")
    st.caption(
        "Pick every answer, best first: the order you pick them in is the ranking (no ties — a tie is "
        "what the pair votes above are for). Rankings feed the Plackett-Luce board on the Leaderboard page"
        + (" — saving one reveals the names." if aliases else ".")
    )
    order = st.multiselect(
        "Best to worst",
        list(by_id),
        default=[r for r in saved.results if r in by_id] if saved else None,
        format_func=name,
        key=f"{key}_rank_{run_id}",
        placeholder="Click the best answer first…",
    )
    complete = len(order) == len(shown)
    ranking = (
        Ranking(run_id, [by_id[r].model_ref for r in order], list(order), blind=aliases is not None)
        if complete
        else None
    )
    st.button(
        "Save ranking",
        key=f"{key}_rank_save_{run_id}",
        icon=":material/format_list_numbered:",
        disabled=not complete,
        on_click=store.save_ranking,
        args=(ranking,),
    )
    if saved is not None:
        said = " > ".join(f"**{ref_label(state.catalog(), m)}**" for m in saved.models)  # saving revealed the names
        blind = " (saved blind)" if saved.blind else ""
        st.caption(f"Your ranking: {said}{blind} — clear it and pick again to change it.")
