"""Text-quality metrics for one model output: with a reference answer, and without one.

With a reference, the definitions are the published ones, computed by the reference libraries where
one exists so numbers match what papers and leaderboards report:
  exact match, quasi-exact match   HELM: strings equal after strip / after SQuAD normalisation
  token F1                         SQuAD v1.1 evaluation script
  ROUGE-1/2/L F-measure            `rouge-score` (Google's re-implementation), Porter stemmer on.
                                   Its tokenizer keeps only [a-z0-9]: non-Latin text scores near 0
                                   or meaninglessly, so prefer chrF for such languages.
  BLEU, chrF                       `sacrebleu`, default settings (13a tokenizer; sentence BLEU with
                                   exponential smoothing and effective order), 0-100 scale

Without a reference: length, Flesch reading ease (English heuristic), refusal detection and JSON
validity. Every metric here is registered in metrics.registry with its range and direction.
"""

from __future__ import annotations

import functools
import json
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from metrics.registry import register

INF = float("inf")

# ---- normalisation (SQuAD v1.1 evaluate script) ------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, drop ASCII punctuation and the articles a/an/the, collapse whitespace (SQuAD).

    >>> normalize_answer("  The  Eiffel-Tower!  ")
    'eiffeltower'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


# ---- with a reference ----------------------------------------------------------------------


@register("exact_match", range=(0.0, 1.0), higher_is_better=True, needs_reference=True)
def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the output equals the reference, ignoring only surrounding whitespace (HELM).

    >>> exact_match("Paris\\n", "Paris"), exact_match("paris", "Paris")
    (1.0, 0.0)
    """
    return float(prediction.strip() == reference.strip())


@register("quasi_exact_match", range=(0.0, 1.0), higher_is_better=True, needs_reference=True)
def quasi_exact_match(prediction: str, reference: str) -> float:
    """1.0 when output and reference are equal after SQuAD normalisation (HELM's quasi-exact match).

    >>> quasi_exact_match("The answer is: Paris.", "paris"), quasi_exact_match("Paris.", "the  paris")
    (0.0, 1.0)
    """
    return float(normalize_answer(prediction) == normalize_answer(reference))


@register("token_f1", range=(0.0, 1.0), higher_is_better=True, needs_reference=True)
def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall after SQuAD normalisation (bag of words).

    When either side normalises to nothing, the score is 1.0 only if both do (SQuAD v2 rule).

    >>> round(token_f1("the cat sat on a mat", "cat on mat"), 4)  # 3 shared; P=3/4, R=3/3
    0.8571
    >>> token_f1("", ""), token_f1("the", "cat")
    (1.0, 0.0)
    """
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


@functools.lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures from one `rouge-score` call.

    >>> {k: round(v, 4) for k, v in rouge("the cats sat on the mat", "the cat is on the mat").items()}
    {'rouge1': 0.8333, 'rouge2': 0.6, 'rougeL': 0.8333}
    """
    scores = _rouge_scorer().score(reference, prediction)  # rouge-score takes (target, prediction)
    return {name: float(s.fmeasure) for name, s in scores.items()}


@register("rouge1", range=(0.0, 1.0), higher_is_better=True, needs_reference=True)
def rouge1(prediction: str, reference: str) -> float:
    """ROUGE-1 F-measure: unigram overlap (stemmed)."""
    return rouge(prediction, reference)["rouge1"]


@register("rouge2", range=(0.0, 1.0), higher_is_better=True, needs_reference=True)
def rouge2(prediction: str, reference: str) -> float:
    """ROUGE-2 F-measure: bigram overlap (stemmed)."""
    return rouge(prediction, reference)["rouge2"]


@register("rougeL", range=(0.0, 1.0), higher_is_better=True, needs_reference=True)
def rougeL(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure: longest common subsequence (stemmed, no sentence splitting)."""
    return rouge(prediction, reference)["rougeL"]


@register("bleu", range=(0.0, 100.0), higher_is_better=True, needs_reference=True)
def bleu(prediction: str, reference: str) -> float:
    """Sentence BLEU (sacrebleu defaults), 0-100. Noisy on one sentence: prefer `corpus_bleu` for batches.

    >>> round(bleu("the cat sat on the mat", "the cat sat on the mat"), 6)
    100.0
    """
    import sacrebleu

    return float(sacrebleu.sentence_bleu(prediction, [reference]).score)


@register("chrf", range=(0.0, 100.0), higher_is_better=True, needs_reference=True)
def chrf(prediction: str, reference: str) -> float:
    """Sentence chrF (character n-gram F-score, beta 2; sacrebleu defaults), 0-100.

    >>> round(chrf("the cat sat on the mat", "the cat sat on a mat"), 2)
    72.08
    """
    import sacrebleu

    return float(sacrebleu.sentence_chrf(prediction, [reference]).score)


def _reference_stream(predictions: Sequence[str], references: Sequence[str]) -> list[list[str]]:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    # sacrebleu wants reference *streams*: one list per reference set, aligned with the hypotheses.
    return [list(references)]


def corpus_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """BLEU over a batch (one reference per prediction): n-gram counts pooled, not sentence scores averaged.

    >>> round(corpus_bleu(["a b c d", "the cat"], ["a b c d", "the cat sat"]), 2)
    84.65
    """
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(predictions), _reference_stream(predictions, references)).score)


def corpus_chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    """chrF over a batch (one reference per prediction), statistics pooled over the corpus."""
    import sacrebleu

    return float(sacrebleu.corpus_chrf(list(predictions), _reference_stream(predictions, references)).score)


# ---- without a reference -------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


@register("words", range=(0.0, INF), higher_is_better=None, needs_reference=False)
def word_count(text: str) -> int:
    """Number of whitespace-separated words.

    >>> word_count("Hello,  world!\\nBye.")
    3
    """
    return len(text.split())


@register("characters", range=(0.0, INF), higher_is_better=None, needs_reference=False)
def char_count(text: str) -> int:
    """Number of characters (Unicode code points), whitespace included.

    >>> char_count("héllo ")
    6
    """
    return len(text)


def count_syllables(word: str) -> int:
    """English syllables by heuristic: vowel groups (y counts), minus a silent final 'e'; at least 1.

    >>> [count_syllables(w) for w in ["the", "cake", "table", "readability", "beautiful", "2026"]]
    [1, 1, 2, 5, 3, 1]
    """
    w = "".join(ch for ch in word.lower() if ch.isalpha())
    groups = len(re.findall(r"[aeiouy]+", w))
    if w.endswith("e") and not w.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(1, groups)


@register("flesch_reading_ease", range=(-INF, 121.22), higher_is_better=True, needs_reference=False)
def flesch_reading_ease(text: str) -> float | None:
    """Flesch reading ease: 206.835 - 1.015 words/sentence - 84.6 syllables/word (English).

    Higher reads easier (60-70 plain English, below 30 very hard). Syllables come from
    `count_syllables`, a heuristic, so expect a few points' difference from dictionary-based tools.
    None for text without words.

    >>> round(flesch_reading_ease("The cat sat on the mat."), 3)  # 6 words, 1 sentence, 6 syllables
    116.145
    >>> flesch_reading_ease("  ") is None
    True
    """
    words = _WORD.findall(text)
    if not words:
        return None
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    syllables = sum(count_syllables(w) for w in words)
    return 206.835 - 1.015 * (len(words) / sentences) - 84.6 * (syllables / len(words))


# Refusal detection follows promptfoo's is-refusal: openings that signal a refusal, plus phrases that
# signal one anywhere. Case-insensitive; curly apostrophes count as straight ones. Heuristic: it
# misses polite partial refusals and can flag an answer that quotes a refusal.
REFUSAL_PREFIXES: tuple[str, ...] = (
    "i'm sorry, but",
    "i am sorry, but",
    "i'm sorry, i can",
    "i'm sorry, i won",
    "sorry, but i",
    "i apologize, but",
    "my apologies, but",
    "i'm unable",
    "i am unable",
    "i'm not able",
    "i am not able",
    "as an ai",
    "unfortunately, i can't",
    "unfortunately, i cannot",
)
REFUSAL_PHRASES: tuple[str, ...] = (
    "i can't help with",
    "i cannot help with",
    "i can't assist",
    "i cannot assist",
    "i can't provide",
    "i cannot provide",
    "i can't comply",
    "i cannot comply",
    "i can't fulfill",
    "i cannot fulfill",
    "i can't do that",
    "i cannot do that",
    "i won't do that",
    "i will not do that",
    "i won't help",
    "i will not help",
    "i won't provide",
    "i will not provide",
    "i won't be able to help",
    "i'm unable to help",
    "i am unable to help",
    "i'm not able to help",
    "i must decline",
    "i'm not comfortable",
    "as an ai language model",
    "against my guidelines",
    "violates my guidelines",
    "i'm not allowed to",
)


@register("is_refusal", range=(0.0, 1.0), higher_is_better=False, needs_reference=False, value="bool")
def is_refusal(text: str) -> bool:
    """True when the output reads as a refusal (see REFUSAL_PREFIXES / REFUSAL_PHRASES).

    >>> is_refusal("I’m sorry, but I can’t help with that."), is_refusal("Sure! Here is the plan.")
    (True, False)
    >>> is_refusal("Sure. I can't help noticing it is late, so briefly: ...")  # 'help noticing' ≠ 'help with'
    False
    """
    t = " ".join(text.replace("’", "'").lower().split())
    return t.startswith(REFUSAL_PREFIXES) or any(p in t for p in REFUSAL_PHRASES)


_FENCE = re.compile(r"^```[ \t]*(?:json)?[ \t]*\n(.*?)\n?```$", re.DOTALL | re.IGNORECASE)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> Any:
    """Parse an output as strict JSON; one surrounding markdown ```json fence is allowed.

    Raises ValueError (json.JSONDecodeError is one) for anything else, including NaN / Infinity,
    which Python's json accepts but JSON does not.

    >>> parse_json('```json\\n{"a": [1, 2]}\\n```')
    {'a': [1, 2]}
    """
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    return json.loads(body, parse_constant=_reject_constant)


@register("is_json", range=(0.0, 1.0), higher_is_better=True, needs_reference=False, value="bool")
def is_json(text: str) -> bool:
    """True when the whole output is one JSON value (optionally in a ```json fence).

    >>> is_json('{"ok": true}'), is_json("Here you go: {\\"ok\\": true}"), is_json("NaN")
    (True, False, False)
    """
    try:
        parse_json(text)
    except ValueError:
        return False
    return True
