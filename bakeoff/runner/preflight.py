"""Refusing one model before its request is sent: unavailable, over its output limit or context window."""

from __future__ import annotations

from bakeoff.catalog import url_policy
from metrics.tokens import estimate_tokens
from providers import registry
from providers.base import (
    Availability,
    BadRequest,
    ConfigError,
    ContextLength,
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
    """The text a request's prompt tokens are counted on: system, the conversation so far and the prompt, as sent."""
    return "\n".join([*([req.system] if req.system else []), *(t.content for t in req.history), req.prompt])


def preflight(spec: ModelSpec, req: Request) -> None:
    """Refuse before sending what the model cannot take: over its output limit or context window."""
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
    if spec.context_window is not None:
        text = prompt_text(req)
        counted = provider.count_tokens(spec, text) if isinstance(provider, CountsTokens) else None
        prompt_tokens = counted if counted is not None else estimate_tokens(text, spec.model)
        if prompt_tokens + req.max_tokens > spec.context_window:
            what = f"Conversation of {len(req.history) // 2 + 1} turns" if req.history else "Prompt"
            raise ContextLength(
                f"{what} ({prompt_tokens} tokens{'' if counted is not None else ', estimated'}) + max tokens "
                f"({req.max_tokens}) exceed {spec.display_id}'s context window of {spec.context_window}."
            )


def request_tokens(spec: ModelSpec, req: Request) -> int:
    """What a request counts against a tokens/min limit: its prompt (estimated) plus max_tokens."""
    return estimate_tokens(prompt_text(req), spec.model) + req.max_tokens
