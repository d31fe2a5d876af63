"""Refusing one model before its request is sent: unavailable, over its output limit or context window."""

from __future__ import annotations

from bakeoff.catalog import url_policy
from metrics.tokens import estimate_tokens
from providers import conversation, registry
from providers.base import (
    Availability,
    BadRequest,
    ConfigError,
    CountsTokens,
    ModelSpec,
    NotFound,
    ProviderError,
    Request,
    Unreachable,
)


def _unavailable_error(spec: ModelSpec, av: Availability) -> ProviderError:
    detail = av.detail or av.state.replace("_", " ")
    if av.state == "not_downloaded":
        return NotFound(f"{spec.display_id} is not available offline: {detail}")
    if av.state == "unreachable":
        return Unreachable(f"{spec.display_id} is unreachable: {detail}")
    return ConfigError(f"{spec.display_id} is not configured: {detail}")


def prompt_text(req: Request) -> str:
    """The text a request's input tokens are counted on: system, earlier turns and prompt (all are billed)."""
    return conversation.counted_text(req)


def preflight(spec: ModelSpec, req: Request) -> None:
    """Refuse before sending what the model cannot take: a broken conversation, over its output limit or
    context window. The context check is an estimate (tiktoken, or the local model's tokenizer on the bare
    text); a local engine repeats it exactly on the encoded prompt."""
    conversation.check_turns(req)
    try:  # before check(), which may already probe the URL
        url_policy.check_model_url(spec.provider, spec.base_url)
    except url_policy.RefusedURL as exc:
        raise ConfigError(f"{spec.display_id}: {exc}") from None
    provider = registry.get(spec.provider)
    av = provider.check(spec)
    if not av.ok:
        raise _unavailable_error(spec, av)
    if spec.max_output_tokens is not None and req.max_tokens > spec.max_output_tokens:
        raise BadRequest(
            f"Max tokens {req.max_tokens} is above {spec.display_id}'s output limit of {spec.max_output_tokens}."
        )
    if spec.context_window is not None:  # unknown window: nothing to check against, the provider decides
        text = prompt_text(req)
        counted = provider.count_tokens(spec, text) if isinstance(provider, CountsTokens) else None
        tokens = counted if counted is not None else estimate_tokens(text, spec.model)
        conversation.check_context(spec, req, tokens, window=spec.context_window, exact=False)


def request_tokens(spec: ModelSpec, req: Request) -> int:
    """What a request counts against a tokens/min limit: its prompt (estimated) plus max_tokens."""
    return estimate_tokens(prompt_text(req), spec.model) + req.max_tokens
