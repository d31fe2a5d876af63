"""Gemini `streamGenerateContent?alt=sse` frames, as in wire-formats/gemini.md.

Data-only SSE with CRLF line endings (as the recorded capture), no `event:` lines and no
terminator: the stream ends when the connection closes, the last chunk carrying `finishReason`.
`usageMetadata` is on every chunk and cumulative.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.fakes.server import Reply, json_reply

MODEL = "gemini-2.0-flash"


def stream_path(model: str = MODEL, version: str = "v1") -> str:
    return f"/{version}/models/{model}:streamGenerateContent"


def frame(payload: Any) -> bytes:
    # The capture has `", "`-style separators and CRLF endings: keep both.
    return b"data: " + json.dumps(payload, separators=(",", ": ")).encode() + b"\r\n\r\n"


def usage(
    prompt: int, candidates: int | None = None, thoughts: int | None = None, cached: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"promptTokenCount": prompt}
    total = prompt
    if candidates is not None:
        body["candidatesTokenCount"] = candidates
        total += candidates
    if thoughts is not None:
        body["thoughtsTokenCount"] = thoughts
        total += thoughts
    if cached is not None:
        body["cachedContentTokenCount"] = cached
    body["totalTokenCount"] = total
    body["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    return body


def frames(
    texts: Sequence[str],
    *,
    prompt_tokens: int = 7,
    output_tokens: int = 10,
    thoughts: Sequence[str] = (),
    thoughts_tokens: int | None = None,
    cached: int | None = None,
    finish: str | None = "STOP",
    response_id: str = "0J-HaJetAqv0jrEPwu-tsQ0",
) -> list[bytes]:
    """Thought chunks first (parts with `thought: true`), then answer text; finish on the last chunk."""
    out: list[bytes] = []
    for t in thoughts:
        out.append(
            frame(
                {
                    "candidates": [
                        {"content": {"parts": [{"text": t, "thought": True}], "role": "model"}, "index": 0}
                    ],
                    "usageMetadata": usage(prompt_tokens, thoughts=thoughts_tokens, cached=cached),
                    "modelVersion": MODEL,
                    "responseId": response_id,
                }
            )
        )
    for i, t in enumerate(texts):
        last = i == len(texts) - 1
        candidate: dict[str, Any] = {"content": {"parts": [{"text": t}], "role": "model"}, "index": 0}
        if last and finish is not None:
            candidate["finishReason"] = finish
        meta = usage(prompt_tokens, output_tokens if last else None, thoughts_tokens, cached)
        out.append(
            frame(
                {
                    "candidates": [candidate],
                    "usageMetadata": meta,
                    "modelVersion": MODEL,
                    "responseId": response_id,
                }
            )
        )
    return out


def stream_reply(
    texts: Sequence[str] = (),
    *,
    frame_list: Sequence[bytes] | None = None,
    drop_after: int | None = None,
    **kw: Any,
) -> Reply:
    return Reply(
        frames=list(frame_list) if frame_list is not None else frames(texts, **kw),
        content_type="text/event-stream",
        drop_after=drop_after,
    )


def error_reply(status: int, status_name: str, message: str, details: list[Any] | None = None) -> Reply:
    err: dict[str, Any] = {"code": status, "message": message, "status": status_name}
    if details is not None:
        err["details"] = details
    return json_reply({"error": err}, status=status)


def api_key_invalid(key: str) -> Reply:
    """Recorded 400 (Gemini answers a bad key with 400, not 401); DebugInfo echoes the key."""
    return error_reply(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
            {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": f"Invalid API key: {key}"},
        ],
    )


def resource_exhausted(retry_delay: str = "47s") -> Reply:
    return error_reply(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
        "\n* Quota exceeded for metric: generativelanguage.googleapis.com/"
        "generate_content_free_tier_requests, limit: 0, model: gemini-2.0-flash-lite\n"
        "Please retry in 47.174066935s.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/"
                        "generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
        ],
    )


def not_found(model: str) -> Reply:
    return error_reply(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version v1, or is not supported "
        "for generateContent. Call ListModels to see the list of available models and their "
        "supported methods.",
    )
