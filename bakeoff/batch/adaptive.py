"""`batch --until-decided`: a paired comparison that stops once an anytime-valid confidence sequence separates the arms.

Two arms are two models (paired by item), or one model on a suite's two prompts (paired by test). Before a
new batch starts, its units (items, or tests) are shuffled (seeded by --seed) and capped at --max-items,
and the batch is stored in that order, so a resume goes on in the same order. As a unit's cells land, its
difference A − B on the metric (each arm's mean over repeats) feeds the confidence sequence of
metrics/sequential.py in that random order: a unit that finishes early waits for those before it, so the
order calls happen to finish in (which may depend on the answers) cannot bias it; the price is that a slow
early item holds the decision back while later calls go on. Once the CS excludes 0 the runner's graceful
`stop` is set: no new cell starts; the calls in flight finish, are saved, and feed the CS too (it stays
valid at any stopping time). A resume with --until-decided replays the saved cells and goes on from there.

Each answer's metric is scaled into [0, 1], so a paired difference lies in [-1, 1]:
  * pass (a suite's verdict; the default for suites): 1 passed, 0 failed, and a failed call is a fail;
  * a score with a known range [lo, hi]: (s − lo) / (hi − lo); e.g. exact_match, token_f1, rouge* are
    [0, 1] already, bleu and chrf [0, 100], semantic_similarity [-1, 1]. Reports convert back to its units.
Refused before any call (exit 2): latency, speed and cost (no upper bound, and a clipping range would be a
guess), scores with no better direction (words) or no finite range (flesch_reading_ease), reference
metrics when an item has no reference, and agreement (batch cells are scored one answer at a time).
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakeoff.batch.cells import BatchRefused
from bakeoff.batch.input import BatchItem
from bakeoff.batch.progress import BatchOutcome
from bakeoff.batch.results import PASS, SPEED_COST, Arm, verdict
from bakeoff.batch.store import Batch, set_batch_status
from bakeoff.batch.suite import SuiteInfo
from bakeoff.records import Result
from bakeoff.runner.scoring import RUN_SCORES, score_info
from bakeoff.store.store import Store
from metrics import registry
from metrics.sequential import BettingCS

DECIDED = "decided"  # the batch status once the CS has separated the arms and stopped the batch
NOT_PER_CELL = {"agreement"}  # run-level scores a batch cell never gets: it is scored alone


@dataclass(frozen=True)
class Metric:
    """A bounded metric and how one answer's value maps into [0, 1]."""

    name: str
    low: float
    high: float
    higher_is_better: bool

    @property
    def span(self) -> float:
        return self.high - self.low

    def value(self, r: Result) -> float | None:
        """This answer's metric scaled into [0, 1]; None when it has none (a failed call has no score).

        >>> m = Metric("chrf", 0.0, 100.0, True)
        >>> m.value(Result("r", "a", "p", "m", status="ok", scores={"chrf": 62.5}))
        0.625
        """
        if self.name == PASS:
            v = verdict(r)
            return None if v is None else float(v)
        s = r.scores.get(self.name) if r.status == "ok" else None
        if s is None or not math.isfinite(s):
            return None
        return min(1.0, max(0.0, (s - self.low) / self.span))


def bounded_scores() -> list[str]:
    """Scores an adaptive batch can use: a direction and a finite range."""
    infos = {**registry.all_metrics(), **RUN_SCORES}
    return sorted(
        n
        for n, i in infos.items()
        if i.higher_is_better is not None and all(map(math.isfinite, i.range)) and n not in NOT_PER_CELL
    )


def _is_suite(items: Iterable[BatchItem]) -> bool:
    return any(SuiteInfo.from_metadata(i.metadata) is not None for i in items)


def metric_for(name: str | None, items: Sequence[BatchItem]) -> Metric:
    """The metric to decide on, or BatchRefused saying why it cannot be bounded or computed here."""
    suite = _is_suite(items)
    usable = f"use {'pass or ' if suite else ''}a score with a known range: {', '.join(bounded_scores())}"
    if name is None:
        if not suite:
            raise BatchRefused(f"--until-decided on a prompt file needs --metric; {usable}.")
        name = PASS
    if name == PASS:
        if not suite:
            raise BatchRefused(f"`pass` is a test suite's verdict and this is a plain prompt file; {usable}.")
        if not any((info := SuiteInfo.from_metadata(i.metadata)) and info.asserts for i in items):
            raise BatchRefused("The suite has no checks (`assert`), so nothing passes or fails; add checks.")
        return Metric(PASS, 0.0, 1.0, True)
    if name in SPEED_COST:
        raise BatchRefused(f"{name} has no upper bound, so no confidence sequence can bound its mean; {usable}.")
    if name in NOT_PER_CELL:
        raise BatchRefused(f"{name} compares several answers to one prompt; batch cells are scored alone. {usable}.")
    info = score_info(name)
    if info is None:
        raise BatchRefused(f"Unknown metric {name!r}; {usable}.")
    if info.higher_is_better is None or not all(map(math.isfinite, info.range)):
        why = "no direction (higher is not better)" if info.higher_is_better is None else "no finite range"
        raise BatchRefused(f"{name} has {why}; {usable}.")
    missing = sum(i.reference is None for i in items)
    if info.needs_reference and missing:
        raise BatchRefused(f"{name} needs a reference, and {missing} of {len(items)} items have none.")
    if name == "assertions_passed" and not suite:
        raise BatchRefused(f"assertions_passed needs a suite's checks; {usable}.")
    return Metric(name, float(info.range[0]), float(info.range[1]), bool(info.higher_is_better))


@dataclass(frozen=True)
class Pairing:
    """The two arms, and the unit they pair on: an item for two models, a suite test for two prompts."""

    a: Arm
    b: Arm

    @classmethod
    def of(cls, batch: Batch) -> Pairing:
        models = batch.model_refs
        if len(models) == 2:
            return cls(Arm(models[0]), Arm(models[1]))
        prompts = sorted({i.prompt_index for it in batch.items if (i := SuiteInfo.from_metadata(it.metadata))})
        if len(models) == 1 and len(prompts) == 2:
            return cls(Arm(models[0], prompts[0]), Arm(models[0], prompts[1]))
        raise BatchRefused(
            "--until-decided compares two arms: give two --model, or one --model and a suite with two prompts."
        )

    @property
    def unit_name(self) -> str:
        return "tests" if self.a.prompt is not None else "items"

    def unit(self, item_id: str | None, metadata: dict[str, Any]) -> str | None:
        if self.a.prompt is None:
            return item_id
        info = SuiteInfo.from_metadata(metadata)
        return None if info is None else f"test {info.test}"

    def side(self, r: Result) -> int | None:
        """0 for arm A, 1 for arm B, None for neither."""
        prompt = None
        if self.a.prompt is not None:
            info = SuiteInfo.from_metadata(r.item_metadata)
            prompt = info.prompt_index if info is not None else None
        here = Arm(r.model_ref, prompt)
        return 0 if here == self.a else 1 if here == self.b else None


def unit_difference(results: Iterable[Result], pairing: Pairing, metric: Metric) -> float | None:
    """A − B on one unit, each arm's scaled metric averaged over its repeats; None unless both arms have one."""
    sides: tuple[list[float], list[float]] = ([], [])
    for r in results:
        side, v = pairing.side(r), metric.value(r)
        if side is not None and v is not None:
            sides[side].append(v)
    if not sides[0] or not sides[1]:
        return None
    return sum(sides[0]) / len(sides[0]) - sum(sides[1]) / len(sides[1])


def differences(results: Iterable[Result], pairing: Pairing, metric: Metric) -> list[float]:
    """Every unit's scaled difference A − B (units without both arms left out), e.g. a pilot's for planning."""
    units: dict[str, list[Result]] = {}
    for r in results:
        unit = pairing.unit(r.item_id, r.item_metadata)
        if unit is not None and r.status != "cancelled":
            units.setdefault(unit, []).append(r)
    return [d for rs in units.values() if (d := unit_difference(rs, pairing, metric)) is not None]


def shuffle_units(items: Sequence[BatchItem], pairing: Pairing, seed: int | None, cap: int | None) -> list[BatchItem]:
    """Items with their units in random order (a unit's items stay together), at most `cap` units.

    >>> items = [BatchItem(str(i), f"p{i}") for i in range(6)]
    >>> pair = Pairing(Arm("a"), Arm("b"))
    >>> [i.item_id for i in shuffle_units(items, pair, seed=1, cap=4)]
    ['2', '3', '5', '0']
    """
    groups: dict[str | None, list[BatchItem]] = {}
    for item in items:
        groups.setdefault(pairing.unit(item.item_id, item.metadata), []).append(item)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    return [item for key in keys[:cap] for item in groups[key]]


@dataclass(frozen=True)
class Decision:
    """Where the confidence sequence stands: A − B in the metric's units, and how many units it took."""

    a: str
    b: str
    metric: str
    alpha: float
    unit_name: str
    decided: bool
    better: str | None
    low: float
    high: float
    mean: float | None
    used: int  # units the CS had seen when it decided (all it saw, if it did not)
    seen: int  # units fed in all, those that landed after the decision included
    available: int
    skipped: int  # finished units without the metric on both arms

    def line(self) -> str:
        """e.g. "decided: alpha is better on pass: alpha − beta = +0.8, 95% CS [+0.21, +1] after 17 of 40 items"."""
        cs = f"{1 - self.alpha:.0%} CS [{self.low:+.3g}, {self.high:+.3g}]"
        extra = [f"{self.seen - self.used} more finished in flight"] if self.seen > self.used else []
        extra += [f"{self.skipped} {self.unit_name} without {self.metric} on both sides"] if self.skipped else []
        tail = f" ({'; '.join(extra)})" if extra else ""
        of = f"after {self.used} of {self.available} {self.unit_name}{tail}"
        if not self.decided:
            return f"not decided: {cs} on {self.a} − {self.b} ({self.metric}) {of}."
        mean = f"{self.mean:+.3g}" if self.mean is not None else "—"
        return f"decided: {self.better} is better on {self.metric}: {self.a} − {self.b} = {mean}, {cs} {of}."

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Referee:
    """Feeds each finished unit to the confidence sequence in the batch's random order; stops the batch once decided."""

    batch: Batch
    pairing: Pairing
    metric: Metric
    alpha: float
    stop: threading.Event
    pool: int | None = None  # units in the file when --max-items drew a sample of them
    cs: BettingCS = field(init=False)
    order: list[str | None] = field(init=False)
    need: Counter = field(init=False)  # unit -> its cells
    landed: dict[str | None, list[Result]] = field(init=False, default_factory=dict)
    fed: int = field(init=False, default=0)
    skipped: int = field(init=False, default=0)
    decided_at: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.cs = BettingCS(self.alpha)
        units = [self.pairing.unit(i.item_id, i.metadata) for i in self.batch.items]
        self.order = list(dict.fromkeys(units))
        self.need = Counter({u: n * self.batch.repeats * len(self.batch.model_refs) for u, n in Counter(units).items()})

    def on_result(self, r: Result, cached: bool) -> None:
        """The runner's per-cell callback (cached cells first, in batch order); runs on the event loop's thread."""
        if r.status == "cancelled":  # aborted mid-answer: a resume sends it again
            return
        self.landed.setdefault(self.pairing.unit(r.item_id, r.item_metadata), []).append(r)
        while self.fed < len(self.order):
            unit = self.order[self.fed]
            if len(self.landed.get(unit, ())) < self.need[unit]:
                return
            self._feed(self.landed[unit])
            self.fed += 1

    def _feed(self, results: list[Result]) -> None:
        d = unit_difference(results, self.pairing, self.metric)
        if d is None:
            self.skipped += 1
            return
        self.cs.update(d)
        if self.decided_at is None and self.cs.excludes(0):
            self.decided_at = self.cs.n
            self.stop.set()

    def decision(self) -> Decision:
        s = self.metric.span
        low, high = self.cs.interval
        mean = self.cs.mean
        better = None
        if self.decided_at is not None:
            upper_side = low >= 0  # A − B > 0
            better = (self.pairing.a if upper_side == self.metric.higher_is_better else self.pairing.b).label
        return Decision(
            a=self.pairing.a.label,
            b=self.pairing.b.label,
            metric=self.metric.name,
            alpha=self.alpha,
            unit_name=self.pairing.unit_name,
            decided=self.decided_at is not None,
            better=better,
            low=low * s,
            high=high * s,
            mean=mean * s if mean is not None else None,
            used=self.decided_at if self.decided_at is not None else self.cs.n,
            seen=self.cs.n,
            available=len(self.order),
            skipped=self.skipped,
        )

    def finish(self, outcome: BatchOutcome, store: Store | None) -> Decision:
        """Record the decision as the batch's note (status `decided` when it stopped the batch) and return it."""
        decision = self.decision()
        ours = decision.decided and outcome.status == "stopped"
        outcome.status = DECIDED if ours else outcome.status
        outcome.note = " ".join(n for n in (decision.line(), None if ours else outcome.note) if n)
        outcome.batch.status, outcome.batch.note = outcome.status, outcome.note
        if store is not None:
            set_batch_status(store, outcome.batch.batch_id, outcome.status, outcome.note)
        return decision

    def plan(self) -> str:
        """e.g. "until decided: alpha vs beta on pass at α 0.05, 40 items in random order (of 100)"."""
        pool = f" (of {self.pool})" if self.pool is not None and self.pool > len(self.order) else ""
        return (
            f"until decided: {self.pairing.a.label} vs {self.pairing.b.label} on {self.metric.name} at α "
            f"{self.alpha:g}, {len(self.order)} {self.pairing.unit_name} in random order{pool}"
        )

    def resume_flags(self) -> str:
        return f" --until-decided --metric {self.metric.name} --alpha {self.alpha:g}"


def prepare(
    batch: Batch,
    stop: threading.Event,
    *,
    metric: str | None,
    alpha: float,
    max_items: int | None,
    seed: int | None,
    resumed: bool,
) -> Referee:
    """Check the settings; for a new batch shuffle and cap its units (in place). BatchRefused says what to fix."""
    if not 0 < alpha < 1:
        raise BatchRefused(f"--alpha must be between 0 and 1 (got {alpha:g}); 0.05 means a 95% confidence sequence.")
    if max_items is not None and max_items < 1:
        raise BatchRefused(f"--max-items must be at least 1 (got {max_items}).")
    if resumed and max_items is not None:
        raise BatchRefused("The cap was drawn when the batch started; resume without --max-items.")
    pairing = Pairing.of(batch)
    chosen = metric_for(metric, batch.items)
    pool = len({pairing.unit(i.item_id, i.metadata) for i in batch.items})
    if not resumed:
        batch.items = shuffle_units(batch.items, pairing, seed, max_items)
    return Referee(batch, pairing, chosen, alpha, stop, pool)
