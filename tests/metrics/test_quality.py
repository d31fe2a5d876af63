from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from metrics import quality as q

# (prediction, reference) pairs chosen to exercise stemming, punctuation, unicode, repeats and empties
PAIRS = [
    ("The cats are running quickly to the house.", "A cat ran quickly into the house!"),
    ("Paris is the capital of France.", "The capital of France is Paris."),
    ("It was 42, not 41 — as computed by Dr. Smith's script.", "The answer is 42."),
    ("the the the the", "the cat"),
    ("Ünïcode café naïve façade", "unicode cafe naive facade"),
    ("Line one.\nLine two has more words in it.", "Line one. Line two has words."),
    ("", "something"),
    ("completely unrelated", "nothing in common here"),
]


@pytest.mark.parametrize(("pred", "ref"), PAIRS)
def test_rouge_matches_rouge_score_exactly(pred, ref):
    expected = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True).score(ref, pred)
    assert q.rouge1(pred, ref) == expected["rouge1"].fmeasure
    assert q.rouge2(pred, ref) == expected["rouge2"].fmeasure
    assert q.rougeL(pred, ref) == expected["rougeL"].fmeasure


def test_rouge_uses_the_stemmer_and_scores_the_prediction_against_the_reference():
    # "cats"/"cat" and "running"/"run" only match with stemming on
    assert q.rouge1("cats running", "cat run") == 1.0
    # precision and recall differ here, so swapping target and prediction would still give the same F;
    # check one hand-computed value instead: 2 of 3 prediction unigrams in a 4-word reference
    # P = 2/3, R = 2/4 -> F = 2PR/(P+R) = 4/7
    assert q.rouge1("red green blue", "red green yellow black") == pytest.approx(4 / 7, rel=1e-15)


@pytest.mark.parametrize(("pred", "ref"), PAIRS)
def test_bleu_and_chrf_match_sacrebleu_sentence_scores_exactly(pred, ref):
    assert q.bleu(pred, ref) == sacrebleu.sentence_bleu(pred, [ref]).score
    assert q.chrf(pred, ref) == sacrebleu.sentence_chrf(pred, [ref]).score


def test_sentence_bleu_known_value():
    # 6-gram hypothesis vs reference: precisions 5/6, 3/5, 1/4, 1/3 (sacrebleu 2.6.0, 13a, exp smoothing)
    assert q.bleu("the cat sat on the mat", "the cat is on the mat") == pytest.approx(37.99178428257963, abs=1e-9)


def test_corpus_scores_pool_statistics_and_match_sacrebleu_exactly():
    preds = [p for p, _ in PAIRS]
    refs = [r for _, r in PAIRS]
    assert q.corpus_bleu(preds, refs) == sacrebleu.corpus_bleu(preds, [refs]).score
    assert q.corpus_chrf(preds, refs) == sacrebleu.corpus_chrf(preds, [refs]).score
    # pooled, not an average of sentence scores
    mean_sentence = sum(q.bleu(p, r) for p, r in PAIRS) / len(PAIRS)
    assert q.corpus_bleu(preds, refs) != pytest.approx(mean_sentence)


def test_corpus_scores_refuse_misaligned_batches():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        q.corpus_bleu(["a", "b"], ["a"])


@pytest.mark.parametrize(
    ("pred", "ref", "em", "qem"),
    [
        ("Paris", "Paris", 1.0, 1.0),
        ("  Paris\n", "Paris", 1.0, 1.0),
        ("paris", "Paris", 0.0, 1.0),
        ("The Paris.", "paris", 0.0, 1.0),
        ("Paris, France", "Paris", 0.0, 0.0),
        ("an apple", "apple!", 0.0, 1.0),
        ("", "", 1.0, 1.0),
    ],
)
def test_exact_and_quasi_exact_match(pred, ref, em, qem):
    assert (q.exact_match(pred, ref), q.quasi_exact_match(pred, ref)) == (em, qem)


def test_token_f1_follows_the_squad_script():
    # SQuAD: normalise, then bag-of-words overlap with multiplicity
    assert q.token_f1("Denver Broncos", "Denver Broncos") == 1.0
    assert q.token_f1("the Denver Broncos team", "Denver Broncos") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert q.token_f1("a b b", "b b b c") == pytest.approx(2 / 3)  # "a" is an article: dropped
    assert q.token_f1("x b b", "b b b c") == pytest.approx(2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4))
    assert q.token_f1("nothing shared", "entirely different") == 0.0
    assert q.token_f1("the a an", "") == 1.0  # both normalise to nothing
    assert q.token_f1("word", "the") == 0.0


def test_normalize_answer_is_squads():
    assert q.normalize_answer("The  Quick, brown FOX!") == "quick brown fox"
    assert q.normalize_answer("theatre an-apple") == "theatre anapple"  # articles only as whole words


def test_lengths():
    assert q.word_count("one two\tthree\n\nfour") == 4
    assert q.word_count("") == 0
    assert q.char_count("naïve\n") == 6


def test_flesch_reading_ease_formula_and_heuristics():
    # 2 sentences, 8 words, syllables: this(1) sentence(2) is(1) short(1) readability(5) matters(2)
    # to(1) people(2) = 15  ->  206.835 - 1.015 * 4 - 84.6 * 15/8
    text = "This sentence is short. Readability matters to people."
    assert q.flesch_reading_ease(text) == pytest.approx(206.835 - 1.015 * 4 - 84.6 * 15 / 8)
    simple = q.flesch_reading_ease("The cat sat on the mat. The dog ran.")
    hard = q.flesch_reading_ease(
        "Institutional considerations notwithstanding, the interdisciplinary committee deliberated "
        "extensively regarding organizational responsibilities."
    )
    assert simple > 90 > 30 > hard
    assert q.flesch_reading_ease("") is None and q.flesch_reading_ease("!!! ...") is None


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "I cannot assist with creating malware.",
        "I’m unable to provide that information.",  # curly apostrophe
        "As an AI language model, I do not have opinions.",
        "Sure, let me look. Actually, I must decline this request.",
        "  i WON'T do that.",
    ],
)
def test_refusals_detected(text):
    assert q.is_refusal(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here's a recipe for pancakes.",
        "The function cannot be called twice; I can't stress this enough... here is the fix.",
        "I can't help noticing the bug is on line 3. Here is the fix.",
        "",
    ],
)
def test_non_refusals_not_flagged(text):
    assert q.is_refusal(text) is False


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ('{"a": 1}', True),
        ("[1, 2, 3]", True),
        ('"just a string"', True),
        ("  42  ", True),
        ('```json\n{"a": [1, {"b": null}]}\n```', True),
        ('```\n{"a": 1}\n```', True),
        ('{"a": 1,}', False),
        ("{'a': 1}", False),
        ('Here is the JSON: {"a": 1}', False),
        ('{"a": NaN}', False),
        ("Infinity", False),
        ("", False),
        ('{"a": 1} {"b": 2}', False),
    ],
)
def test_is_json(text, ok):
    assert q.is_json(text) is ok
