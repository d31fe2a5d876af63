"""Leaderboard: Bradley-Terry ratings from every human vote, and separately from judge verdicts."""

import streamlit as st

from bakeoff import leaderboard
from bakeoff.judging import pairwise_votes
from ui import state
from ui.leaderboard_view import render_board

store = state.store()
st.title("Leaderboard")
st.caption(
    "Ratings on the Elo scale from a Bradley-Terry fit over pairwise outcomes (Chatbot Arena's method): "
    f"95% intervals from {leaderboard.BOOTSTRAP_ROUNDS} bootstrap rounds; rank = 1 + the number of models "
    "whose interval lies entirely above this one's, so overlapping models share a rank. Ties and "
    "'both bad' count as half a win each way."
)

st.header("Human votes")
blind_only = st.toggle("Blind votes only", key="leaderboard_blind_only",
                       help="Count only votes cast while the model names were hidden.")
human = leaderboard.as_triples(store.list_votes(blind_only=blind_only))
if human:
    render_board(human, key="leaderboard_human")
else:
    st.info("No votes yet: run a comparison on the Compare page and vote on each pair of answers "
            "(turn on **Blind mode** in its sidebar for unbiased votes). Every vote lands here.")

st.header("LLM judge (pairwise verdicts)")
judged = store.list_judgments(mode="pairwise")
judges = sorted({j.judge_model for j in judged})
if not judges:
    st.info("No pairwise judge verdicts yet: on the Compare page, open **LLM-as-judge**, choose *Pairwise*, "
            "and press **Judge these answers**. Each verdict (both orders agreeing, else a tie) counts as a vote "
            "here; grader errors do not.")
else:
    judge = st.selectbox("Judge", judges, key="leaderboard_judge")
    mine = [j for j in judged if j.judge_model == judge]
    errors = sum(j.grader_error for j in mine)
    st.caption(f"{len(mine)} pairwise judgments by {judge}; {errors} grader error{'s' if errors != 1 else ''} "
               "left out.")
    verdicts = pairwise_votes(mine)
    if verdicts:
        render_board(verdicts, key="leaderboard_judge")
    else:
        st.info(f"Every pairwise judgment by {judge} was a grader error, so there is nothing to rate yet.")
