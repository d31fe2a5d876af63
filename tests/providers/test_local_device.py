"""BAKEOFF_LOCAL_DEVICE: which device the in-process transformers provider loads onto.

Runs on CPU without loading any weights: the selection is a pure function, and an explicit `cuda`
on a machine without CUDA must be refused (a ProviderError naming the variable) before anything
is imported, converted or loaded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from providers import local_device as ld
from providers import transformers_local as tl
from providers.base import ConfigError, ModelSpec, ProviderError, Request, Status, Unsupported
from providers.local_device import DEVICE_ENV, device_setting, select_device
from providers.local_weights import Weights
from providers.transformers_local import TransformersProvider

SPEC = ModelSpec(id="fake-local", provider="transformers", model="fake/local", kind="local", context_window=64)


def never_asked() -> bool:
    raise AssertionError("cuda_available() should not be called for an explicit cpu")


@pytest.mark.parametrize(
    ("value", "setting"),
    [
        (None, "auto"),
        ("", "auto"),
        ("  ", "auto"),
        ("auto", "auto"),
        ("cpu", "cpu"),
        ("CPU", "cpu"),
        (" cuda ", "cuda"),
        ("Cuda", "cuda"),
    ],
)
def test_env_values_are_parsed_leniently(value, setting):
    assert device_setting(value) == setting


@pytest.mark.parametrize("value", ["gpu", "cuda:0", "mps", "0"])
def test_unknown_values_are_a_config_error_naming_the_variable(value):
    with pytest.raises(ConfigError, match=DEVICE_ENV) as caught:
        select_device(value, lambda: True)
    assert repr(value) in str(caught.value) and "auto, cpu, cuda" in str(caught.value)


def test_auto_picks_cuda_only_when_it_is_there():
    assert select_device(None, lambda: False) == "cpu"
    assert select_device("auto", lambda: False) == "cpu"
    assert select_device(None, lambda: True) == "cuda"
    assert select_device("cuda", lambda: True) == "cuda"


def test_cpu_never_asks_about_cuda():
    assert select_device("cpu", never_asked) == "cpu"


def test_explicit_cuda_without_cuda_is_unsupported_not_a_traceback():
    with pytest.raises(Unsupported, match=f"{DEVICE_ENV}=cuda") as caught:
        select_device("cuda", lambda: False)
    assert "torch.cuda.is_available() is False" in str(caught.value)


def test_device_follows_the_environment(monkeypatch):
    monkeypatch.setattr(ld, "cuda_available", lambda: False)
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert ld.current_device() == "cpu"
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert ld.current_device() == "cpu"
    assert ld.device_problem() is None
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(Unsupported, match=DEVICE_ENV):
        ld.current_device()
    assert DEVICE_ENV in (ld.device_problem() or "")
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    assert "'tpu'" in (ld.device_problem() or "")


@pytest.fixture
def fake_weights(monkeypatch, tmp_path: Path) -> Weights:
    """Weights that must never be prepared: the device check has to refuse first."""
    weights = Weights(label="fake/local", key=f"test-device:{tmp_path}", folder=tmp_path / "never-made")

    def no_prepare() -> Path:
        raise AssertionError("weights were prepared although the device setting is unusable")

    monkeypatch.setattr(tl, "locate", lambda spec: weights)
    monkeypatch.setattr(Weights, "prepare", lambda self: no_prepare())
    return weights


def test_stream_refuses_explicit_cuda_without_cuda(monkeypatch, fake_weights):
    monkeypatch.setattr(ld, "cuda_available", lambda: False)
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    seen: list = []

    async def run() -> None:
        async for event in TransformersProvider().stream(SPEC, Request(prompt="hi", max_tokens=4)):
            seen.append(event)

    with pytest.raises(Unsupported, match=f"{DEVICE_ENV}=cuda"):
        asyncio.run(run())
    assert [type(e) for e in seen] == [Status]  # "loading ... (first use)", then the refusal
    with pytest.raises(Unsupported, match=DEVICE_ENV):
        TransformersProvider().load(SPEC)


def test_stream_refuses_an_unknown_setting_as_a_provider_error(monkeypatch, fake_weights):
    monkeypatch.setenv(DEVICE_ENV, "gpu")

    async def run() -> None:
        async for _ in TransformersProvider().stream(SPEC, Request(prompt="hi", max_tokens=4)):
            pass

    with pytest.raises(ProviderError, match=DEVICE_ENV):
        asyncio.run(run())


def test_check_reports_explicit_cuda_without_cuda(monkeypatch, fake_weights):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    monkeypatch.setattr(ld, "cuda_available", lambda: False)
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    availability = TransformersProvider().check(SPEC)
    assert availability.state == "unsupported" and DEVICE_ENV in availability.detail
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert TransformersProvider().check(SPEC).state == "ready"


def test_bitsandbytes_precisions_report_the_device_problem(monkeypatch):
    monkeypatch.setattr(ld, "cuda_available", lambda: False)
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    monkeypatch.setattr(tl.importlib.util, "find_spec", lambda name: object())  # "installed"
    problem = tl._bitsandbytes_problem()
    assert problem is not None and DEVICE_ENV in problem
