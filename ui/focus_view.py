"""Focus: one answer full width, for answers too long to read in a card."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from bakeoff.records import Result
from ui.cards import is_long, safe_markdown


def render_focus(results: Sequence[Result], key: str) -> None:
    """A picker and the chosen answer at full width (as markdown, never HTML)."""
    answered = [r for r in results if r.output]
    if not answered:
        return
    names = [r.model_ref for r in answered]
    long = [r.model_ref for r in answered if is_long(r.output)]
    if st.session_state.get(f"{key}_focus") not in names:
        st.session_state.pop(f"{key}_focus", None)
    with st.expander("Focus on one answer" + (f" ({len(long)} long)" if long else ""),
                     icon=":material/open_in_full:"):
        chosen = st.selectbox("Answer", names, index=names.index(long[0]) if long else 0, key=f"{key}_focus",
                              help="Shows the whole answer at full width.")
        r = next(x for x in answered if x.model_ref == chosen)
        words = len(r.output.split())
        st.caption(f"{chosen} · {words} words · {len(r.output)} characters"
                   + (f" · {r.output_tokens} output tokens" if r.output_tokens is not None else ""))
        with st.container(border=True):
            st.markdown(safe_markdown(r.output))
