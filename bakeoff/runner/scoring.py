"""Quality scores for a finished run: what lands in each Result's `scores`, `checks` and `score_notes`.

Called by bakeoff.runner.engine.execute after the answers are in, so the CLI and the dashboard score alike.
Every answer that finished (status ok) gets:
  * the reference-free metrics of metrics.registry (length, readability, refusal, JSON validity);
  * with a reference (Run.reference, an empty string counts): exact / quasi-exact match, token F1,
    ROUGE, BLEU, chrF and semantic similarity to the reference;
  * with three answers or more: agreement, its mean semantic similarity to the other answers (with two, both
    answers get the same figure, which says nothing about which is better);
  * the user's assertions (Run.assertions): one entry each in `checks`, and `assertions_passed` = the
    share of the checks that ran which passed (a check that could not run, e.g. a broken regex, is
    reported in `checks` and left out of the share).
Embeddings come from the bundled all-MiniLM-L6-v2, loaded lazily once per process, on a background thread
as soon as every request of a run that will want it is out (LazyEmbedder.warm), so the load overlaps the
calls without slowing their start (SDK imports, request builds). If it cannot be
loaded, or BAKEOFF_EMBEDDINGS=off, the embedding scores are skipped and `score_notes` says why; a metric
that fails is skipped with a note too. Scoring never fails a run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence

import numpy as np

from bakeoff.records import Result, Run
from metrics import registry
from metrics.assertions import KINDS, Assertion, check_all
from metrics.registry import MetricInfo
from metrics.similarity import Embed, agreement

log = logging.getLogger(__name__)

AGREEMENT_MIN_ANSWERS = 3  # with two answers agreement is one number shared by both
EMBEDDINGS_ENV = "BAKEOFF_EMBEDDINGS"  # "off": skip semantic similarity and agreement (no model load)

# Scores computed across a run rather than per output; described here like registered metrics.
RUN_SCORES: dict[str, MetricInfo] = {
    "agreement": MetricInfo(
        "agreement",
        agreement,
        "Mean semantic similarity to the other models' answers (consensus; a hint, not proof of correctness)",
        (-1.0, 1.0),
        True,
        False,
        needs_embedder=True,
    ),
    "assertions_passed": MetricInfo(
        "assertions_passed",
        check_all,
        "Share of your checks (contains, regex, JSON schema…) this answer passed",
        (0.0, 1.0),
        True,
        False,
    ),
}


def score_info(name: str) -> MetricInfo | None:
    """Metadata for any score name a Result may carry (registered metric or run-level score)."""
    if name in RUN_SCORES:
        return RUN_SCORES[name]
    return registry.all_metrics().get(name)


# ---- the embedder, loaded once per process --------------------------------------------------


class LazyEmbedder:
    """Loads the embedder on first use, once per process; remembers a failure instead of retrying."""

    def __init__(self, loader: Callable[[], Embed]):
        self._loader = loader
        self._lock = threading.Lock()
        self._embed: Embed | None = None
        self._failure: str | None = None
        self._warming: threading.Thread | None = None
        self._warm_lock = threading.Lock()  # never held while loading: warm() must not block the event loop

    @staticmethod
    def _off() -> bool:
        return os.environ.get(EMBEDDINGS_ENV, "").strip().lower() in {"off", "0", "false", "no"}

    def get(self) -> tuple[Embed | None, str | None]:
        """(embed, None) when available, else (None, why not); waits for a load in progress."""
        if self._off():
            return None, f"semantic scores are off ({EMBEDDINGS_ENV}={os.environ[EMBEDDINGS_ENV]})"
        with self._lock:
            if self._embed is None and self._failure is None:
                try:
                    self._embed = self._loader()
                except Exception as exc:  # missing package, broken weights, out of memory...
                    log.exception("could not load the sentence embedder")
                    self._failure = f"the embedding model could not be loaded ({type(exc).__name__}: {exc})"
            if self._failure is not None:
                return None, self._failure
            return self._embed, None

    def warm(self) -> threading.Thread | None:
        """Start loading on a background thread, once, so a later get() finds it loaded or waits less.

        Returns the loading thread (None when already loaded, failed, off, or loading).
        """
        with self._warm_lock:
            if self._off() or self._warming is not None or self._embed is not None or self._failure is not None:
                return None
            self._warming = thread = threading.Thread(target=self.get, name="bakeoff-embedder-load", daemon=True)
        thread.start()
        return thread

    def reset(self, loader: Callable[[], Embed] | None = None) -> None:
        """Forget the loaded model or failure (tests; after installing a missing package)."""
        with self._lock, self._warm_lock:
            self._loader = loader or self._loader
            self._embed = None
            self._failure = None
            self._warming = None


def _default_loader() -> Embed:
    from providers.embedder import load_embedder

    return load_embedder()


EMBEDDER = LazyEmbedder(_default_loader)


def _memo(embed: Embed) -> Embed:
    """Embed each distinct text once per scoring (the reference and every answer are reused)."""
    cache: dict[str, np.ndarray] = {}

    def embed_once(texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in cache]
        if new:
            for text, row in zip(new, embed(new), strict=True):
                cache[text] = np.asarray(row)
        return np.stack([cache[t] for t in texts]) if texts else embed([])

    return embed_once


# ---- user assertions as text ------------------------------------------------------------------

_CHECK_NAMES = {k.replace("_", "-"): k for k in KINDS} | {"json": "is_json", "schema": "json_schema"}
CHECK_SYNTAX = (
    "One check per line: `contains: TEXT`, `not-contains: TEXT`, `regex: PATTERN`, `not-regex: PATTERN`, "
    "`json` (the answer is JSON), `json-schema: {…}`. Add `/i` to ignore case (`contains/i: paris`)."
)


class InvalidCheck(ValueError):
    """A check line that cannot be read; the message names the line."""


def parse_checks(text: str) -> list[Assertion]:
    """Assertions from the one-per-line syntax the Compare page and the CLI accept.

    >>> [(a.kind, a.value, a.case_sensitive) for a in parse_checks("contains/i: Paris\\njson\\n\\nregex: \\\\d+")]
    [('contains', 'Paris', False), ('is_json', None, True), ('regex', '\\\\d+', True)]
    >>> parse_checks("sounds: good")
    Traceback (most recent call last):
    bakeoff.runner.scoring.InvalidCheck: check line 1: unknown check 'sounds'; use contains, not-contains, regex, \
not-regex, is-json, json-schema, json, schema
    """
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        head, sep, value = line.partition(":")
        name = head.strip().lower()
        case_sensitive = not name.endswith("/i")
        name = name.removesuffix("/i").strip()
        kind = _CHECK_NAMES.get(name)
        if kind is None:
            raise InvalidCheck(f"check line {number}: unknown check {name!r}; use {', '.join(_CHECK_NAMES)}")
        value = value.strip()
        if kind == "is_json":
            out.append(Assertion("is_json"))
            continue
        if not sep or not value:
            raise InvalidCheck(f"check line {number}: {name} needs a value after ':'")
        out.append(Assertion(kind, value, case_sensitive))  # type: ignore[arg-type]
    return out


def check_label(a: Assertion) -> str:
    """Short human label of a check.

    >>> check_label(Assertion("contains", "Paris", case_sensitive=False)), check_label(Assertion("is_json"))
    ("contains (any case) 'Paris'", 'is json')
    """
    name = a.kind.replace("_", " ") + ("" if a.case_sensitive else " (any case)")
    if a.value is None:
        return name
    if isinstance(a.value, str) and a.kind != "json_schema":
        return f"{name} {a.value[:40]!r}"
    return name


# ---- scoring --------------------------------------------------------------------------------


def _note(res: Result, text: str) -> None:
    if text not in res.score_notes:
        res.score_notes.append(text)


def _metric_scores(res: Result, reference: str | None, embed: Embed | None) -> None:
    for name, info in registry.all_metrics().items():
        if info.needs_reference and reference is None:
            continue
        if info.needs_embedder and embed is None:
            continue
        try:
            res.scores.update(registry.compute(res.output, reference, embed=embed, names=[name]))
        except Exception as exc:  # one broken metric must not cost the others
            log.exception("metric %s failed on %s", name, res.result_id)
            _note(res, f"{name} not computed: {type(exc).__name__}: {exc}")


def _checks(res: Result, assertions: Sequence[Assertion]) -> None:
    outcomes = check_all(res.output, assertions)
    res.checks = [
        {
            "kind": a.kind,
            "value": a.value,
            "case_sensitive": a.case_sensitive,
            "label": check_label(a),
            "passed": o.passed,
            "detail": o.detail,
            "error": o.error,
        }
        for a, o in zip(assertions, outcomes, strict=True)
    ]
    ran = [o.passed for o in outcomes if o.passed is not None]
    if ran:
        res.scores["assertions_passed"] = sum(ran) / len(ran)
    if len(ran) < len(outcomes):
        _note(res, f"{len(outcomes) - len(ran)} check(s) could not run; see the checks")


def wants_embedder(run: Run, answers: int) -> bool:
    """Whether scoring `answers` answers of this run will embed: a reference, or enough answers to agree."""
    return run.reference is not None or answers >= AGREEMENT_MIN_ANSWERS


def score_results(run: Run, results: Sequence[Result], *, embedder: LazyEmbedder | None = None) -> None:
    """Fill scores, checks and score_notes of every finished answer in place. Never raises."""
    scored = [r for r in results if r.status == "ok"]
    for r in scored:
        r.scores, r.checks, r.score_notes = {}, [], []
    if not scored:
        return
    embed: Embed | None = None
    if wants_embedder(run, len(scored)):
        embed, why = (embedder or EMBEDDER).get()
        if embed is None:
            for r in scored:
                _note(r, f"semantic similarity and agreement skipped: {why}")
        else:
            embed = _memo(embed)
    for r in scored:
        _metric_scores(r, run.reference, embed)
        if run.assertions:
            try:
                _checks(r, run.assertions)
            except Exception as exc:
                log.exception("checks failed on %s", r.result_id)
                _note(r, f"checks not run: {type(exc).__name__}: {exc}")
    if embed is not None and len(scored) >= AGREEMENT_MIN_ANSWERS:
        try:
            values = agreement([r.output for r in scored], embed=embed)
        except Exception as exc:
            log.exception("agreement failed")
            for r in scored:
                _note(r, f"agreement not computed: {type(exc).__name__}: {exc}")
        else:
            for r, value in zip(scored, values, strict=True):
                if value is not None:
                    r.scores["agreement"] = value
