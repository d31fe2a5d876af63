"""What the lab offers for a model: its transformers precisions and the GGUF files of the same weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.catalog.config import Catalog, CatalogEntry, resolve
from providers import registry
from providers.base import PRECISIONS, HasPrecisions


class InvalidLab(ValueError):
    """The lab cannot start: the message says what to change."""


@dataclass(frozen=True)
class Variant:
    ref: str  # what the runner takes: "smollm2-135m-instruct@bf16", "smollm2-135m-instruct-gguf"
    label: str  # "bf16 (transformers)", "Q4_1 GGUF (llama.cpp)"
    engine: str  # "transformers" | "llama.cpp"
    precision: str  # fp32 | bf16 | 8bit | 4bit (NF4) | fp4 | gguf


@dataclass(frozen=True)
class VariantOption:
    variant: Variant
    problem: str | None  # None: can run here; else why not (shown, and the option disabled)


def lab_models(catalog: Catalog) -> list[str]:
    """Catalog models the lab can quantize: in-process transformers models."""
    return [k for k, e in catalog.entries.items() if e.active and e.provider == "transformers"]


def gguf_companions(catalog: Catalog, model_id: str) -> list[str]:
    """llama.cpp entries that run the same weights file as `model_id` (same package and GGUF, or same path)."""
    base = catalog.entries.get(model_id)
    if base is None:
        return []

    def source(e: CatalogEntry) -> tuple[Any, ...]:
        o = e.options or {}
        if o.get("package"):
            return ("package", o.get("package"), o.get("gguf_file"), bool(o.get("assemble")))
        return ("path", str(Path(e.model).expanduser()))

    return [
        k for k, e in catalog.entries.items()
        if e.active and e.provider == "llamacpp" and source(e) == source(base)
    ]


def options(catalog: Catalog, model_id: str) -> list[VariantOption]:
    """Every variant the lab offers for `model_id`, each with why it cannot run here (None = it can)."""
    entry = catalog.entries.get(model_id)
    if entry is None or entry.provider != "transformers":
        raise InvalidLab(f"{model_id!r} is not a local transformers model in the catalog; pick one of "
                         f"{', '.join(lab_models(catalog)) or '(none)'}")
    spec = resolve(catalog, model_id)
    provider = registry.get("transformers")
    support = provider.precision_support(spec) if isinstance(provider, HasPrecisions) else {}
    offered = entry.precisions or list(PRECISIONS)
    out = []
    for p in PRECISIONS:
        reason = support.get(p) if p in offered else f"{model_id} does not offer {p} (models.yaml precisions)"
        out.append(VariantOption(Variant(f"{model_id}@{p}", f"{p} (transformers)", "transformers", p), reason))
    for gid in gguf_companions(catalog, model_id):
        gspec = resolve(catalog, gid)
        av = registry.get("llamacpp").check(gspec)
        label = _gguf_label(gid, catalog)
        out.append(VariantOption(Variant(gid, label, "llama.cpp", "gguf"), None if av.ok else av.detail))
    return out


def _gguf_label(model_id: str, catalog: Catalog) -> str:
    entry = catalog.entries[model_id]
    name = Path(entry.options.get("gguf_file") or entry.model).stem
    quant = name.rsplit(".", 1)[-1] if "." in name else "GGUF"
    return f"{quant} GGUF (llama.cpp)"
