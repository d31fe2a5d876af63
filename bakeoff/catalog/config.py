"""Load and validate models.yaml and pricing.yaml.

One bad entry is reported (file, key path, reason) and skipped; the rest still loads, so a typo
in one model never takes the dashboard down.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bakeoff.catalog import url_policy
from providers import registry
from providers.base import PRECISIONS, ModelSpec, Precision

ROOT = Path(__file__).resolve().parents[2]
Kind = Literal["commercial", "local"]
VendorTier = Literal["flagship", "mid", "small"]  # the vendor's own positioning in its lineup (catalog/capability.py)
STALE_AFTER_DAYS = 90  # the Compare page warns about price rows older than this


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Strict):
    """A provider's published limits for this model; the batch runner stays under them (bakeoff/runner/rate_limit.py).

    Entries naming the same `group` share one budget (an org-wide limit, or one vLLM server behind
    several entries); without a group each entry has its own.
    """

    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    group: str | None = None


class CatalogEntry(_Strict):
    """One models.yaml entry. Facts are optional: unknown stays None and shows as unknown."""

    provider: str
    model: str
    kind: Kind
    label: str | None = None
    open_weights: bool = False
    params_b: float | None = Field(default=None, gt=0)  # total parameters, billions
    active_params_b: float | None = Field(default=None, gt=0)  # MoE: parameters used per token
    tier: VendorTier | None = None  # hosted models without a parameter count: the vendor's lineup tier
    layers: int | None = Field(default=None, gt=0)  # transformer blocks (KV-cache size)
    kv_heads: int | None = Field(default=None, gt=0)  # key/value heads (GQA: fewer than query heads)
    head_dim: int | None = Field(default=None, gt=0)  # size of one attention head
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    license: str | None = None
    best_for: list[str] = []
    card_url: str | None = None
    facts_source: str | None = None  # where params/context/license come from
    facts_as_of: dt.date | None = None
    notes: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    chat_template: bool = True
    precisions: list[Precision] = []
    default_precision: Precision | None = None
    options: dict[str, Any] = {}
    active: bool = True  # False: kept for history/catalog, hidden from the picker
    rate_limit: RateLimit | None = None  # requests/tokens per minute, honoured by batch runs

    @field_validator("base_url")
    @classmethod
    def _allowed_base_url(cls, v: str | None) -> str | None:
        if v is not None:
            url_policy.check_base_url(v, resolve=False)  # names are resolved again before each call
        return v

    @field_validator("active_params_b")
    @classmethod
    def _active_le_total(cls, v: float | None, info: Any) -> float | None:
        total = info.data.get("params_b")
        if v is not None and total is not None and v > total:
            raise ValueError(f"active_params_b ({v}) exceeds params_b ({total})")
        return v


class LongContextTier(_Strict):
    """Rates for a request whose prompt is longer than `threshold_tokens`.

    As Google and Anthropic bill it: past the threshold the *whole* request (every input and
    output token) is billed at these rates, not only the tokens beyond it.
    """

    threshold_tokens: int = Field(gt=0)
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cached_input: Decimal | None = Field(default=None, ge=0)  # None: cached tokens billed as input


class Rates(NamedTuple):
    input: Decimal
    output: Decimal
    cached_input: Decimal | None
    reasoning: Decimal | None
    long_context: bool  # the long-context tier applied


class PriceRow(_Strict):
    """USD per 1M tokens from `as_of` on. Rows are dated so old runs keep their old price."""

    as_of: dt.date
    source: str
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cached_input: Decimal | None = Field(default=None, ge=0)
    reasoning: Decimal | None = Field(default=None, ge=0)  # None: billed as output
    long_context: LongContextTier | None = None
    checked: dt.date | None = None  # last confirmed against `source`; staleness counts from here
    imported: bool = False  # written by `python -m bakeoff prices import`; a row set by hand wins a tie
    notes: str | None = None

    def rates(self, input_tokens: int | None) -> Rates:
        """The rates for a request with this many prompt tokens (long-context tier past its threshold).

        >>> row = PriceRow(as_of="2025-01-01", source="s", input=1, output=2,
        ...                long_context={"threshold_tokens": 200000, "input": 3, "output": 4})
        >>> row.rates(200000).input, row.rates(200001).input, row.rates(200001).long_context
        (Decimal('1'), Decimal('3'), True)
        """
        tier = self.long_context
        if tier is not None and input_tokens is not None and input_tokens > tier.threshold_tokens:
            return Rates(tier.input, tier.output, tier.cached_input, self.reasoning, True)
        return Rates(self.input, self.output, self.cached_input, self.reasoning, False)


class LocalCompute(_Strict):
    """What an hour of this machine costs, to price local models' busy seconds."""

    usd_per_hour: Decimal | None = Field(default=None, ge=0)
    label: str = "local compute"
    source: str | None = None
    as_of: dt.date | None = None


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    path: str  # key path inside the file, e.g. "models.gpt-4o.context_window"
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.reason}" if self.path else f"{self.file}: {self.reason}"


@dataclass
class Catalog:
    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    prices: dict[str, list[PriceRow]] = field(default_factory=dict)  # sorted by as_of
    local_compute: LocalCompute = field(default_factory=LocalCompute)
    problems: list[ConfigProblem] = field(default_factory=list)

    def catalog_id(self, model_ref: str) -> str | None:
        """The models.yaml id a reference names: itself, or for a direct "provider/model" id the entry with the
        same provider and model (active first), so `openai/gpt-4o-mini` gets gpt-4o-mini's facts and prices."""
        ref = model_ref.partition("@")[0]
        if ref in self.entries:
            return ref
        provider, sep, model = ref.partition("/")
        if not sep:
            return None
        provider = PROVIDER_ALIASES.get(provider, provider)
        same = [key for key, e in self.entries.items() if e.provider == provider and e.model == model]
        return next((key for key in same if self.entries[key].active), same[0] if same else None)

    def price_on(self, model_id: str, day: dt.date) -> PriceRow | None:
        """The row in force on `day` (latest as_of <= day); None = unpriced. Direct ids price as their entry."""
        rows = [r for r in self.prices.get(self.catalog_id(model_id) or model_id, []) if r.as_of <= day]
        return rows[-1] if rows else None

    def stale_prices(
        self, model_refs: Iterable[str], today: dt.date, max_age_days: int = STALE_AFTER_DAYS
    ) -> str | None:
        """A warning naming the chosen models whose price in force today was last checked over max_age_days ago.

        None when every chosen, priced model has a recent row (unpriced models say so elsewhere).
        """
        old = []
        for model_id in dict.fromkeys(ref.partition("@")[0] for ref in model_refs):
            row = self.price_on(model_id, today)
            seen = max(row.as_of, row.checked or row.as_of) if row is not None else None
            if seen is not None and (today - seen).days > max_age_days:
                entry = self.entries.get(model_id)
                name = (entry.label if entry and entry.label else None) or model_id
                old.append(f"{name} (last checked {seen.isoformat()}, {(today - seen).days} days ago)")
        if not old:
            return None
        return (
            f"Prices last checked over {max_age_days} days ago: {', '.join(old)}. Providers change prices; check the "
            "sources in pricing.yaml or run `python -m bakeoff prices import` before trusting these costs."
        )


class _Loader(yaml.SafeLoader):
    """safe_load that also finds keys written twice in one mapping: PyYAML keeps the last one silently."""

    def load_noting_duplicates(self) -> tuple[Any, list[tuple[str, int, int]]]:
        """(the document, [(key path, line of the first, line of the one that wins)])."""
        try:
            node = self.get_single_node()
            if node is None:
                return None, []
            duplicates = list(_duplicates(node, "", set()))  # first: constructing merges `<<` keys into the node
            return self.construct_document(node), duplicates
        finally:
            self.dispose()


_MERGE = "tag:yaml.org,2002:merge"  # `<<: *anchor` overrides on purpose


def _duplicates(node: yaml.Node, path: str, seen: set[int]) -> Iterator[tuple[str, int, int]]:
    if id(node) in seen:  # an alias: already walked (and a recursive one would never end)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                yield from _duplicates(value, path, seen)
                continue
            name = f"{path}.{key.value}" if path else key.value
            line = key.start_mark.line + 1
            if (key.tag, key.value) in lines:
                yield name, lines[(key.tag, key.value)], line
            lines[(key.tag, key.value)] = line
            yield from _duplicates(value, name, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicates(item, f"{path}[{i}]", seen)


def _read_yaml(path: Path, problems: list[ConfigProblem]) -> dict[str, Any]:
    try:
        data, duplicates = _Loader(path.read_text(encoding="utf-8")).load_noting_duplicates()
    except FileNotFoundError:
        problems.append(ConfigProblem(path.name, "", "file not found"))
        return {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problems.append(ConfigProblem(path.name, where, f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return {}
    for key_path, first, last in duplicates:
        where = f"on line {first} and line {last}; line {last}'s" if first != last else f"on line {last}; the second"
        problems.append(ConfigProblem(path.name, key_path, f"written twice, {where} is used"))
    data = data or {}
    if not isinstance(data, dict):
        problems.append(ConfigProblem(path.name, "", "top level must be a mapping"))
        return {}
    return data


def _explain(exc: ValidationError) -> list[tuple[str, str]]:
    return [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]


def _section(data: dict[str, Any], key: str, file: str, problems: list[ConfigProblem]) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        problems.append(ConfigProblem(file, key, "must be a mapping of id -> entry"))
        return {}
    return value


def catalog_paths(models_path: Path | None = None, pricing_path: Path | None = None) -> tuple[Path, Path]:
    """models.yaml and pricing.yaml: the arguments, else BAKEOFF_MODELS / BAKEOFF_PRICING, else the repo's."""
    return (
        Path(models_path or os.environ.get("BAKEOFF_MODELS", ROOT / "models.yaml")),
        Path(pricing_path or os.environ.get("BAKEOFF_PRICING", ROOT / "pricing.yaml")),
    )


def load_catalog(models_path: Path | None = None, pricing_path: Path | None = None) -> Catalog:
    models_path, pricing_path = catalog_paths(models_path, pricing_path)
    cat = Catalog()

    models_data = _read_yaml(models_path, cat.problems)
    for model_id, raw in _section(models_data, "models", models_path.name, cat.problems).items():
        try:
            cat.entries[str(model_id)] = CatalogEntry.model_validate(raw)
        except ValidationError as exc:
            for loc, msg in _explain(exc):
                cat.problems.append(ConfigProblem(models_path.name, f"models.{model_id}.{loc}".rstrip("."), msg))

    pricing_data = _read_yaml(pricing_path, cat.problems)
    if "local_compute" in pricing_data:
        try:
            cat.local_compute = LocalCompute.model_validate(pricing_data["local_compute"])
        except ValidationError as exc:
            for loc, msg in _explain(exc):
                cat.problems.append(ConfigProblem(pricing_path.name, f"local_compute.{loc}".rstrip("."), msg))
    for model_id, rows in _section(pricing_data, "prices", pricing_path.name, cat.problems).items():
        model_id = str(model_id)
        if model_id not in cat.entries and not any(p.path.startswith(f"models.{model_id}.") for p in cat.problems):
            cat.problems.append(ConfigProblem(pricing_path.name, f"prices.{model_id}", "no such model in models.yaml"))
            continue
        if not isinstance(rows, list):
            cat.problems.append(ConfigProblem(pricing_path.name, f"prices.{model_id}", "must be a list of dated rows"))
            continue
        good: list[PriceRow] = []
        for i, raw in enumerate(rows):
            try:
                good.append(PriceRow.model_validate(raw))
            except ValidationError as exc:
                for loc, msg in _explain(exc):
                    cat.problems.append(
                        ConfigProblem(pricing_path.name, f"prices.{model_id}[{i}].{loc}".rstrip("."), msg)
                    )
        cat.prices[model_id] = sorted(good, key=lambda r: (r.as_of, not r.imported))  # same day: hand row wins
    return cat


class UnknownModel(ValueError):
    pass


# Short provider aliases accepted in "provider/model" ids.
PROVIDER_ALIASES = {"hf": "transformers", "huggingface": "transformers", "google": "gemini"}


def resolve(catalog: Catalog, model_ref: str) -> ModelSpec:
    """Turn a user's model reference into a ModelSpec.

    Accepts a models.yaml key or "provider/model", each with an optional "@precision" suffix
    for local models (e.g. "smollm2-135m-instruct@4bit", "hf/HuggingFaceTB/SmolLM2-135M-Instruct").
    """
    ref, _, precision = model_ref.strip().partition("@")
    if precision and precision not in PRECISIONS:
        raise UnknownModel(f"Unknown precision {precision!r} in {model_ref!r}; use one of {', '.join(PRECISIONS)}")
    known = catalog.catalog_id(ref)
    entry = catalog.entries[known] if known is not None else None
    model_id = ref
    if entry is None:
        provider, sep, model = ref.partition("/")
        provider = PROVIDER_ALIASES.get(provider, provider)
        if not sep or not model:
            known = ", ".join(sorted(k for k, e in catalog.entries.items() if e.active)[:12])
            raise UnknownModel(f"Unknown model {ref!r}. Use a models.yaml id ({known}, …) or provider/model.")
        if provider not in registry.names():
            raise UnknownModel(f"Unknown provider {provider!r} in {ref!r}; known: {', '.join(registry.names())}")
        local = provider in {"transformers", "ollama", "llamacpp"}
        entry = CatalogEntry(
            provider=provider,
            model=model,
            kind="local" if local else "commercial",
            precisions=list(PRECISIONS) if provider == "transformers" else [],
        )
    if precision and entry.provider != "transformers":
        raise UnknownModel(f"{model_ref!r}: a precision suffix only applies to in-process local models")
    if precision and entry.precisions and precision not in entry.precisions:
        raise UnknownModel(f"{model_ref!r}: offered precisions are {', '.join(entry.precisions)}")
    chosen = precision or entry.default_precision or ("fp32" if entry.provider == "transformers" else None)
    return ModelSpec(
        id=model_id,
        provider=entry.provider,
        model=entry.model,
        kind=entry.kind,
        base_url=entry.base_url,
        api_key_env=entry.api_key_env,
        context_window=entry.context_window,
        max_output_tokens=entry.max_output_tokens,
        chat_template=entry.chat_template,
        precision=chosen,  # type: ignore[arg-type]
        precisions=tuple(entry.precisions),
        options=dict(entry.options),
    )
