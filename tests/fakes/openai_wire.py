"""OpenAI Chat Completions frames (data-only SSE, `data: [DONE]`), as in wire-formats/openai.md.

Chunk shapes follow the recorded live stream (§3a): a role chunk with empty content, content
deltas, a finish chunk with an empty delta, then - only when the request asked for
`stream_options.include_usage` - a usage chunk whose `choices` is `[]`, then `[DONE]`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.fakes.server import Reply, json_reply

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
ID = "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL"
MODEL = "gpt-4o-2024-08-06"
FINGERPRINT = "fp_5050236cbd"


def _frame(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": ID,
        "object": "chat.completion.chunk",
        "created": 1727346168,
        "model": MODEL,
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        **extra,
    }


def usage(
    prompt: int = 14, completion: int = 30, cached: int | None = None, reasoning: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached is not None:
        body["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
    body["completion_tokens_details"] = {
        "reasoning_tokens": reasoning or 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    }
    return body


def frames(
    texts: Sequence[str],
    *,
    finish: str = "stop",
    usage_body: dict[str, Any] | None = None,
    null_usage: bool = False,
    done: bool = True,
) -> list[bytes]:
    """A whole stream. usage_body=None: no usage chunk (as llama.cpp server, or include_usage off).

    null_usage: every non-final chunk carries `"usage": null` (newer servers) instead of omitting it.
    """
    extra: dict[str, Any] = {"usage": None} if null_usage else {}
    out = [
        _frame(
            _chunk(
                [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": "", "refusal": None},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
                **extra,
            )
        )
    ]
    out += [
        _frame(
            _chunk([{"index": 0, "delta": {"content": t}, "logprobs": None, "finish_reason": None}], **extra)
        )
        for t in texts
    ]
    out.append(
        _frame(_chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}], **extra))
    )
    if usage_body is not None:
        out.append(_frame(_chunk([], usage=usage_body)))
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def stream_reply(
    texts: Sequence[str],
    *,
    headers: dict[str, str] | None = None,
    drop_after: int | None = None,
    first_delay: float = 0.0,
    between_delay: float = 0.0,
    **kw: Any,
) -> Reply:
    return Reply(
        frames=frames(texts, **kw),
        content_type="text/event-stream; charset=utf-8",
        headers={"x-request-id": "req_5f1c0ffee", **(headers or {})},
        drop_after=drop_after,
        first_delay=first_delay,
        between_delay=between_delay,
    )


def raw_stream_reply(frame_list: Sequence[bytes]) -> Reply:
    return Reply(frames=list(frame_list), content_type="text/event-stream")


def error_reply(
    status: int,
    message: str,
    *,
    type_: str,
    code: str | None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    return json_reply(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status=status,
        headers=headers,
    )


# Field-report bodies from wire-formats/openai.md §4 (messages verbatim).
def invalid_key(key_hint: str = "sk-proj-****MxYA") -> Reply:
    return error_reply(
        401,
        f"Incorrect API key provided: {key_hint}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        type_="invalid_request_error",
        code="invalid_api_key",
    )


def rate_limited(headers: dict[str, str]) -> Reply:
    return error_reply(
        429,
        "Rate limit reached for gpt-4 in organization org-********** on tokens per min "
        "(TPM): Limit 10000, Used 9348, Requested 5086. Please try again in 26.604s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        type_="tokens",
        code="rate_limit_exceeded",
        headers={
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-request-id": "req_testserver429",
            **headers,
        },
    )


def insufficient_quota() -> Reply:
    return error_reply(
        429,
        "You exceeded your current quota, please check your plan and billing details. For "
        "more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        type_="insufficient_quota",
        code="insufficient_quota",
    )


def server_error() -> Reply:
    return error_reply(
        500,
        "The server had an error processing your request. Sorry about that! You can retry "
        "your request, or contact us through our help center at help.openai.com if you keep "
        "seeing this error. (Please include the request ID e5c949c8ec2c86be225544e5eefcbe4d in "
        "your email.)",
        type_="server_error",
        code=None,
    )


def context_length() -> Reply:
    return error_reply(
        400,
        "This model's maximum context length is 4097 tokens. However, your messages resulted "
        "in 4363 tokens. Please reduce the length of the messages.",
        type_="invalid_request_error",
        code="context_length_exceeded",
        param="messages",
    )


def not_found(model: str) -> Reply:
    return error_reply(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        type_="invalid_request_error",
        code="model_not_found",
    )


def overloaded() -> Reply:
    return error_reply(
        503, "The engine is currently overloaded, please try again later", type_="server_error", code=None
    )


def models_list(*ids: str) -> Reply:
    return json_reply(
        {
            "object": "list",
            "data": [{"id": i, "object": "model", "created": 1686935002, "owned_by": "system"} for i in ids],
        }
    )
