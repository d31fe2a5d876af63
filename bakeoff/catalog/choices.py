"""What the model pickers list first and preselect, and how they name a model reference.

A first-time user presses Run on whatever is preselected, so the default pair must answer a chat prompt here and
now: ready (key present, server up, weights on disk) and chat-tuned. A base model only continues text, so it is
preselected only when nothing else can run, and then the page says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bakeoff.catalog.config import Catalog, CatalogEntry
from providers.base import Availability

BASE_MODEL_WHY = "a base model continues your text rather than answering it"


@dataclass(frozen=True)
class DefaultModels:
    model_ids: list[str]
    note: str | None  # why the preselection is not simply two chat models, for the page to show


def picker_order(catalog: Catalog, availability: Mapping[str, Availability]) -> list[str]:
    """Active model ids: ready ones first, then local before commercial, then by provider and id."""
    active = {k: e for k, e in catalog.entries.items() if e.active}

    def key(model_id: str) -> tuple[bool, bool, str, str]:
        e = active[model_id]
        return not _ready(availability, model_id), e.kind != "local", e.provider, model_id

    return sorted(active, key=key)


def default_models(catalog: Catalog, availability: Mapping[str, Availability], count: int = 2) -> DefaultModels:
    """Up to `count` ready chat models in picker order; ready base models only when no chat model is ready."""
    ready = [k for k in picker_order(catalog, availability) if _ready(availability, k)]
    chat = [k for k in ready if catalog.entries[k].chat_template]
    base = [k for k in ready if not catalog.entries[k].chat_template]
    if chat:
        skipped = base[: count - len(chat[:count])]
        note = None
        if skipped:
            note = f"{_names(catalog, skipped)} not preselected: {BASE_MODEL_WHY}. Pick it to compare anyway."
            if len(chat) == 1:
                note += (" Another chat model to compare with: add an API key, start a local server, or install "
                         "llama.cpp (the Models page says what each model needs).")
        return DefaultModels(chat[:count], note)
    if base:
        picked = base[:count]
        return DefaultModels(picked, f"No chat model is ready here, so {_names(catalog, picked)} preselected: "
                                     f"{BASE_MODEL_WHY}. Add an API key or start a local server for chat models.")
    return DefaultModels([], None)


def default_precision(entry: CatalogEntry, support: Mapping[str, str | None]) -> str | None:
    """The catalog's default precision if it can run here, else the first that can (support: None = runs)."""
    usable = [p for p in entry.precisions if support.get(p) is None]
    if entry.default_precision in usable:
        return entry.default_precision
    return usable[0] if usable else None


def ref_label(catalog: Catalog, ref: str) -> str:
    """A model reference as people read it, precision first: "8bit · SmolLM2 135M Instruct (bundled)".

    First, because chips and buttons cut their text at a fixed width (about 17 characters in a chip), and the
    precision is what tells two answers of one model apart.
    """
    model_id, _, precision = ref.partition("@")
    entry = catalog.entries.get(catalog.catalog_id(model_id) or model_id)
    name = (entry.label if entry is not None else None) or model_id
    return f"{precision} · {name}" if precision else name


def _ready(availability: Mapping[str, Availability], model_id: str) -> bool:
    found = availability.get(model_id)
    return found is not None and found.ok


def _names(catalog: Catalog, model_ids: list[str]) -> str:
    names = " and ".join(ref_label(catalog, k) for k in model_ids)
    return f"{names} {'is' if len(model_ids) == 1 else 'are'}"
