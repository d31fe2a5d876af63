"""Word-level diff between two answers, rendered as escaped markdown (model output never becomes HTML)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Literal

import streamlit as st

from bakeoff.records import Result

Op = Literal["same", "added", "removed"]
_TOKENS = re.compile(r"^\s+|\S+\s*")  # leading whitespace, then each word with the space after it
# Every ASCII punctuation character can be backslash-escaped in CommonMark; escaping them all keeps
# answers from turning into links, images, HTML, LaTeX ($), emoji shortcodes or colour directives (:red[...]).
_PUNCT = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")


def word_diff(a: str, b: str) -> list[tuple[Op, str]]:
    """The edit from a to b by words, as runs of same / removed / added text.

    Each word carries the whitespace after it and words are matched without it, so a shared space or a
    moved line break never counts as common ground; "same" runs show b's spacing.

    >>> word_diff("the cat sat", "the dog sat")
    [('same', 'the '), ('removed', 'cat '), ('added', 'dog '), ('same', 'sat')]
    """
    ta, tb = _TOKENS.findall(a), _TOKENS.findall(b)
    ka, kb = [t.strip() for t in ta], [t.strip() for t in tb]
    out: list[tuple[Op, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("same", "".join(tb[j1:j2])))
            continue
        if i2 > i1:
            out.append(("removed", "".join(ta[i1:i2])))
        if j2 > j1:
            out.append(("added", "".join(tb[j1:j2])))
    return out


def similarity(a: str, b: str) -> float:
    """Share of words the two answers have in common, in order (difflib ratio over word tokens), 0..1."""
    ta, tb = a.split(), b.split()
    if not ta and not tb:
        return 1.0
    return difflib.SequenceMatcher(None, ta, tb, autojunk=False).ratio()


def escape_markdown(text: str) -> str:
    r"""Text shown literally by st.markdown: punctuation backslash-escaped, line breaks kept.

    >>> escape_markdown("<b>*hi*</b> :red[x] $1")
    '\\<b\\>\\*hi\\*\\<\\/b\\> \\:red\\[x\\] \\$1'
    """
    return _PUNCT.sub(r"\\\1", text).replace("\n", "  \n")


def diff_markdown(ops: Sequence[tuple[Op, str]]) -> str:
    r"""Markdown of a word diff: removed text struck through on red, added text on green, all escaped.

    >>> diff_markdown([("same", "a "), ("removed", "b"), ("added", "c]")])
    'a :red-background[~~b~~]:green-background[c\\]]'
    """
    parts = []
    for op, text in ops:
        if op == "same":
            parts.append(escape_markdown(text))
            continue
        color, strike = ("red", "~~") if op == "removed" else ("green", "")
        lines = text.split("\n")  # a directive cannot span lines: mark each line's piece on its own
        marked = [
            f":{color}-background[{strike}{escape_markdown(line.strip())}{strike}]" if line.strip() else ""
            for line in lines
        ]
        pieces = [_keep_edges(line, m) for line, m in zip(lines, marked, strict=True)]
        parts.append("  \n".join(pieces))
    return "".join(parts)


def _keep_edges(line: str, marked: str) -> str:
    """Whitespace around a marked piece stays outside the directive (so ~~ ~~ stays valid markdown)."""
    if not marked:
        return escape_markdown(line)
    lead = line[: len(line) - len(line.lstrip())]
    trail = line[len(line.rstrip()) :]
    return lead + marked + trail


def render_diff(results: Sequence[Result], key: str) -> None:
    """Pick any two answers and see what the second changes from the first, word by word."""
    answered = [r for r in results if r.output]
    if len(answered) < 2:
        return
    with st.expander("Diff two answers", icon=":material/difference:"):
        names = [r.model_ref for r in answered]
        for side in ("a", "b"):  # another run's choice that this run does not have
            if st.session_state.get(f"{key}_diff_{side}") not in names:
                st.session_state.pop(f"{key}_diff_{side}", None)
        left, right = st.columns(2)
        a = left.selectbox("From", names, index=0, key=f"{key}_diff_a")
        b = right.selectbox("To", names, index=1, key=f"{key}_diff_b")
        if a == b:
            st.caption("Pick two different answers.")
            return
        ra, rb = (next(r for r in answered if r.model_ref == n) for n in (a, b))
        ops = word_diff(ra.output, rb.output)
        added = sum(len(t.split()) for op, t in ops if op == "added")
        removed = sum(len(t.split()) for op, t in ops if op == "removed")
        st.caption(
            f"{similarity(ra.output, rb.output):.0%} of words in common, in order · "
            f"{removed} word{'s' if removed != 1 else ''} only in {a} (struck through, red) · "
            f"{added} only in {b} (green)",
            help="Word-level diff (Python difflib). The similarity is difflib's ratio over the two answers' words.",
        )
        with st.container(border=True):
            st.markdown(diff_markdown(ops))
