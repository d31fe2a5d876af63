"""How capable a catalog model is, as a coarse ordinal tier from facts models.yaml holds, with the basis in words.

The catalog holds no benchmark scores, so this never claims one. Two facts place a model:
  * a sourced parameter count (`params_b`): tiny < 1B, small < 15B, medium < 100B, large >= 100B. For a
    mixture of experts it is the *total* count: what the model knows is spread over every expert, and the
    active count governs speed per token, not capacity (Mixtral 8x7B, 12.9B active of 46.7B, matches or beats
    Llama 2 70B in its paper, arXiv:2401.04088);
  * else the vendor's own positioning (`tier`: flagship / mid / small), set only where the vendor's lineup
    names it, placed on the same scale as large / medium / small so one order covers both. That is where the
    vendor puts the model in its own lineup: a coarse convention, not a measurement.
Neither fact: unknown, shown as unknown. Base models (no chat template) complete text rather than follow
instructions, so `strength_order` puts them after every chat model whatever their size.
"""

from __future__ import annotations

from dataclasses import dataclass

from bakeoff.catalog.config import CatalogEntry

TINY, SMALL, MEDIUM, LARGE = 1, 2, 3, 4
SIZE_BANDS = ((100.0, LARGE, "large"), (15.0, MEDIUM, "medium"), (1.0, SMALL, "small"), (0.0, TINY, "tiny"))
VENDOR_TIERS = {"flagship": LARGE, "mid": MEDIUM, "small": SMALL}
# strongest first; unknown after every known tier above tiny, tiny last (a tiny model is known to be weak)
_POSITION = {LARGE: 0, MEDIUM: 1, SMALL: 2, None: 3, TINY: 4}


@dataclass(frozen=True)
class Capability:
    rank: int | None  # TINY..LARGE, higher = more capable; None = unknown
    label: str  # "large", "flagship", "unknown", ...
    basis: str  # the fact behind it, in words

    @property
    def tiny(self) -> bool:
        return self.rank == TINY

    def describe(self) -> str:
        """One phrase for a reason line, e.g. 'capability large (405B parameters, models.yaml)'."""
        return f"capability {self.label} ({self.basis})"


def _params(b: float) -> str:
    return f"{b * 1000:.0f}M" if b < 1 else f"{b:g}B"


def capability(entry: CatalogEntry) -> Capability:
    """The entry's tier: by sourced parameter count, else by the vendor's positioning, else unknown."""
    if entry.params_b is not None:
        rank, name = next((rank, name) for floor, rank, name in SIZE_BANDS if entry.params_b >= floor)
        moe = f", {_params(entry.active_params_b)} active per token; MoE placed by its total" \
            if entry.active_params_b is not None else ""
        return Capability(rank, name, f"{_params(entry.params_b)} parameters{moe}, models.yaml")
    if entry.tier is not None:
        return Capability(VENDOR_TIERS[entry.tier], entry.tier,
                          f"the vendor's {entry.tier} tier in its lineup, not a benchmark")
    return Capability(None, "unknown", "no sourced parameter count or vendor tier in models.yaml")


def strength_order(entry: CatalogEntry) -> tuple[bool, int]:
    """A sort key, strongest first: chat before base models, then large … small, unknown, tiny."""
    return (not entry.chat_template, _POSITION[capability(entry).rank])


def weak(entry: CatalogEntry) -> bool:
    """Tiny or a base model: too weak to trust with instructions such as a judge's rubric."""
    return capability(entry).tiny or not entry.chat_template
