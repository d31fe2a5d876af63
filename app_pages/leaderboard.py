"""Leaderboard: Bradley-Terry ratings from every human vote, Plackett-Luce ratings from every human ranking,
and Bradley-Terry again from judge verdicts."""

import streamlit as st

from bakeoff import leaderboard
from bakeoff.judging import pairwise_votes
from ui import state
from ui.leaderboard_view import render_board, render_ranking_board

store = state.store()
st.title("Leaderboard")
st.caption(
    "Ratings on the Elo scale from a Bradley-Terry fit over pairwise outcomes (Chatbot Arena's method): "
    f"95% intervals from {leaderboard.BOOTSTRAP_ROUNDS} bootstrap rounds; rank = 1 + the number of models "
    "whose interval lies entirely above this one's, so overlapping models share a rank. Ties and "
    "'both bad' count as half a win each way."
)

st.header("Human votes")
blind_only = st.toggle("Blind votes and rankings only", key="leaderboard_blind_only",
                       help="Count only votes and rankings made while the model names were hidden.")
human = leaderboard.as_triples(store.list_votes(blind_only=blind_only))
if human:
    render_board(human, key="leaderboard_human")
else:
    st.info("No votes yet: run a comparison on the Compare page and vote on each pair of answers "
            "(turn on **Blind mode** in its sidebar for unbiased votes). Every vote lands here.")

st.header("Human rankings (Plackett-Luce)")
st.caption(
    "Plackett-Luce reads a ranking as successive choices — the best of all the answers, then the best of the "
    "rest — so one ranking of n answers holds all its n(n-1)/2 pair preferences, and the places count too. "
    "Both boards are on the same Elo scale (400 points = 10:1 odds of being preferred), with the same ranks "
    f"and provisional rules; intervals come from {leaderboard.RANKING_ROUNDS} rounds of resampled rankings. "
    "They disagree when they rest on different runs, when pair votes hold ties or 'both bad' (a ranking has "
    "none), when pair preferences go round in a circle (A over B over C over A fits no ranking), or on places: with "
    "the same pair record, an answer always in the middle outrates one that swings between first and last."
)
ranked = leaderboard.as_orders(store.list_rankings(blind_only=blind_only))
if ranked:
    render_ranking_board(ranked, key="leaderboard_rankings")
else:
    st.info("No rankings yet: run 3 or more models on the Compare page and put their answers in order under "
            "**Or rank them all** (blind mode hides the names until you save). Every ranking lands here.")

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
