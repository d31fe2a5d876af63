"""Can this model run here, and at which precisions: the cheap checks the dashboard shows on every chip.

Lives in bakeoff/ so the UI asks the core rather than reaching into providers/ (the layering ruff enforces).
"""

from __future__ import annotations

from collections.abc import Callable

from bakeoff.catalog.config import Catalog, resolve
from providers import llamacpp_local, registry
from providers.base import Availability, HasPrecisions

LLAMACPP_INSTALL_HINT = llamacpp_local.INSTALL_HINT


def availability(catalog: Catalog, model_id: str) -> Availability:
    """Key present / server up / weights on disk. Never loads a model; a provider that cannot load is shown."""
    try:
        spec = resolve(catalog, model_id)
        return registry.get(spec.provider).check(spec)
    except Exception as exc:
        return Availability("unsupported", str(exc))


def readiness_map(
    catalog: Catalog, check: Callable[[str], Availability] | None = None
) -> dict[str, tuple[bool, str]]:
    """Active model id -> (runs here now?, what to set up otherwise), as the Advisor and the judge default take it.

    check: a model id's availability (the dashboard passes its cached one); default `availability` here.
    """
    check = check or (lambda model_id: availability(catalog, model_id))
    ready = {}
    for model_id, entry in catalog.entries.items():
        if entry.active:
            av = check(model_id)
            ready[model_id] = (av.ok, av.detail or av.state.replace("_", " "))
    return ready


def precision_support(catalog: Catalog, model_id: str) -> dict[str, str | None]:
    """Which precisions can run here for a model: None = yes, else why not.

    From what is installed, not by importing bitsandbytes: that import took 6 s of the Compare page's
    first render (bench/dashboard_responsiveness.py). A broken install still fails at load, with its reason.
    """
    spec = resolve(catalog, model_id)
    provider = registry.get(spec.provider)
    if isinstance(provider, HasPrecisions):
        return dict(provider.precision_support(spec, probe=False))
    return {p: None for p in spec.precisions}


def llamacpp_installed() -> bool:
    """Whether the optional llama.cpp engine is importable (GGUF precisions on the Quantization page)."""
    return llamacpp_local.installed()
