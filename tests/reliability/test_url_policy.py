"""Custom base URLs: which hosts may be called, no redirects, and no key sent where it was not paired."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from bakeoff.catalog import url_policy
from bakeoff.catalog.config import Catalog, CatalogEntry, load_catalog
from bakeoff.catalog.url_policy import RefusedURL, check_base_url
from bakeoff.records import Params, Run
from bakeoff.runner.engine import run_blocking
from bakeoff.runner.fan_out import RetryPolicy
from tests.fakes import ollama_wire
from tests.fakes.server import FakeServer, Reply
from tests.integration.wires import KEYS, MARKER, WIRES, Wire

ONCE = RetryPolicy(max_attempts=1)

ALWAYS_REFUSED = [
    "ftp://api.example.com/v1",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "gopher://127.0.0.1:70/",
    "api.example.com/v1",  # no scheme
    "http://",  # no host
    "http://user:secret@api.example.com/v1",  # a credential inside the URL
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.169.254.:80/",  # trailing dot
    "http://169.254.0.1/",  # anywhere in 169.254/16
    "http://169.254.170.2/v2/credentials",  # ECS task credentials
    "http://2852039166/",  # 169.254.169.254 as one decimal number
    "http://0xA9FEA9FE/",  # ... as hex
    "http://0251.0376.0251.0376/",  # ... as octal
    "http://169.254.43518/",  # ... as a.b.c
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]:8080/",
    "http://[febf:ffff::1]/",  # the top of fe80::/10
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
    "http://metadata/computeMetadata/v1/",
    "http://100.100.100.200/latest/meta-data/",
]
ALLOWED_EVERYWHERE = [
    "https://api.openai.com/v1",
    "https://api.together.xyz/v1",
    "http://api.example.com:8080/v1",
    "https://[2606:4700::1111]/v1",
    "https://8.8.8.8/v1",
]
LOCAL = [
    "http://127.0.0.1:11434",
    "http://localhost:8000/v1",
    "http://LOCALHOST./v1",
    "http://[::1]:8080/v1",
    "http://0.0.0.0:8000/",
    "http://10.1.2.3/v1",
    "http://172.16.0.9/v1",
    "http://192.168.1.20:1234/v1",
    "http://100.64.0.1/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://gpu-box.internal:8000/v1",
    "http://printer.local/",
    "http://vllm.localhost/v1",
]


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
@pytest.mark.parametrize("shared", [False, True], ids=["single-user", "shared"])
def test_always_refused(url: str, shared: bool) -> None:
    with pytest.raises(RefusedURL, match="refused: "):
        check_base_url(url, shared=shared, resolve=False)


@pytest.mark.parametrize("url", ALLOWED_EVERYWHERE)
def test_public_urls_are_allowed(url: str) -> None:
    assert check_base_url(url, shared=False) == url
    assert check_base_url(url, shared=True, resolve=False) == url


@pytest.mark.parametrize("url", LOCAL)
def test_private_and_loopback_only_refused_in_a_shared_deployment(url: str) -> None:
    assert check_base_url(url, shared=False) == url  # a local vLLM / Ollama is the point of a laptop install
    with pytest.raises(RefusedURL, match=url_policy.SHARED_ENV):
        check_base_url(url, shared=True, resolve=False)


def test_shared_deployment_resolves_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """A public-looking name that points at a private address is refused too (resolution is checked)."""
    answers = {
        "sneaky.example.com": "10.0.0.5",
        "meta.example.com": "169.254.169.254",
        "ok.example.com": "93.184.215.14",
    }

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror("unknown")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(RefusedURL, match=r"resolves to 10\.0\.0\.5"):
        check_base_url("https://sneaky.example.com/v1", shared=True)
    with pytest.raises(RefusedURL, match="metadata"):
        check_base_url("https://meta.example.com/v1", shared=False, resolve=True)
    assert check_base_url("https://ok.example.com/v1", shared=True)
    assert check_base_url("https://unresolvable.example.com/v1", shared=True)  # fails later as Unreachable


def test_shared_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(url_policy.SHARED_ENV, raising=False)
    assert not url_policy.shared_deployment()
    for value in ("1", "true", "YES", "on"):
        monkeypatch.setenv(url_policy.SHARED_ENV, value)
        assert url_policy.shared_deployment()
    monkeypatch.setenv(url_policy.SHARED_ENV, "0")
    assert not url_policy.shared_deployment()


def test_models_yaml_entry_with_a_refused_url_is_reported_and_skipped(tmp_path: Path) -> None:
    models = {
        "models": {
            "good": {"provider": "openai_compatible", "model": "m", "kind": "local", "base_url": "http://127.0.0.1:8000/v1"},
            "imds": {"provider": "openai_compatible", "model": "m", "kind": "local",
                     "base_url": "http://169.254.169.254/latest"},
            "gopher": {"provider": "openai_compatible", "model": "m", "kind": "local", "base_url": "gopher://x/"},
        }
    }
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(models))
    (tmp_path / "pricing.yaml").write_text("prices: {}\n")
    cat = load_catalog(tmp_path / "models.yaml", tmp_path / "pricing.yaml")
    assert list(cat.entries) == ["good"]
    problems = {p.path: p.reason for p in cat.problems}
    assert "metadata" in problems["models.imds.base_url"]
    assert "only http:// and https://" in problems["models.gopher.base_url"]


def test_shared_deployment_refuses_a_local_catalog_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(url_policy.SHARED_ENV, "1")
    with pytest.raises(ValueError, match="shared deployment"):
        CatalogEntry(provider="ollama", model="m", kind="local", base_url="http://127.0.0.1:11434")


@pytest.mark.parametrize("provider", list(WIRES))
def test_a_refused_environment_url_is_never_called(
    provider: str, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDKs' own variables (OPENAI_BASE_URL, OLLAMA_HOST, ...) go through the same policy, before any probe."""
    wire = WIRES[provider]
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    wire.serve(fake, wire.ok(["must not be asked"], 1, 1))
    monkeypatch.setenv(url_policy.SHARED_ENV, "1")
    monkeypatch.setenv(wire.url_env, wire.base_url(fake))  # 127.0.0.1: refused when shared
    cat = Catalog(entries={"m": CatalogEntry(provider=provider, model=wire.model, kind="commercial")})
    (r,) = run_blocking(Run(prompt="hi", model_refs=["m"], params=Params(timeout_s=5)), cat, None, policy=ONCE)
    assert (r.status, r.error.cls) == ("error", "ConfigError")
    assert "shared deployment" in r.error.message and "127.0.0.1" in r.error.message
    assert fake.requests == [] and r.attempts == 0


# ---- redirects --------------------------------------------------------------------------------


def _run_against(wire: Wire, base_url: str, **entry: object) -> object:
    cat = Catalog(
        entries={
            "m": CatalogEntry(
                provider=wire.provider,
                model=wire.model,
                kind="local" if wire.provider == "ollama" else "commercial",
                base_url=base_url,
                **entry,  # type: ignore[arg-type]
            )
        }
    )
    (r,) = run_blocking(Run(prompt="hi", model_refs=["m"], params=Params(timeout_s=5)), cat, None, policy=ONCE)
    return r


@pytest.mark.parametrize("provider", list(WIRES))
def test_no_sdk_follows_a_redirect(provider: str, servers, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 307 to another port (another origin) is an error naming the target; the target sees nothing."""
    wire = WIRES[provider]
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    origin, elsewhere = servers(), servers()
    wire.serve(elsewhere, wire.ok(["stolen"], 1, 1))
    target = elsewhere.url + wire.path
    if provider == "ollama":
        origin.on("GET", ollama_wire.TAGS_PATH, ollama_wire.tags(wire.model))
    origin.on("POST", wire.path, Reply(status=307, headers={"location": target}))
    r = _run_against(wire, wire.base_url(origin), api_key_env=wire.key_env)
    assert r.status == "error" and r.output == ""
    assert r.error.http_status == 307 or provider == "ollama", r.error  # the ollama SDK drops the status
    assert "redirect" in r.error.message.lower() or "307" in r.error.message, r.error
    assert elsewhere.requests == [], "a redirect was followed"
    assert len(origin.requests_to(wire.path)) == 1
    assert MARKER not in r.error.message


# ---- keys go only where they were paired --------------------------------------------------------


def _keys_seen(server: FakeServer) -> list[str]:
    seen = []
    for req in server.requests:
        for name in ("authorization", "x-api-key", "x-goog-api-key"):
            if name in req.headers:
                seen.append(req.headers[name])
    return seen


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "cohere"])
def test_default_key_is_never_sent_to_an_unpaired_base_url(
    provider: str, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = WIRES[provider]
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", f"tok-{MARKER}-anthropic-bearer")
    wire.serve(fake, wire.ok(["hello"], 1, 1))
    r = _run_against(wire, wire.base_url(fake))  # a custom base_url, no api_key_env
    assert (r.status, r.error.cls) == ("error", "ConfigError")
    assert "api_key_env" in r.error.message and wire.key_env in r.error.message
    assert fake.requests == []  # nothing sent at all, so no key either
    assert MARKER not in r.error.message


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "cohere"])
def test_the_paired_key_is_the_only_one_sent(provider: str, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wire = WIRES[provider]
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MY_GATEWAY_KEY", "gw-key-0123456789")
    wire.serve(fake, wire.ok(["hello"], 1, 1))
    r = _run_against(wire, wire.base_url(fake), api_key_env="MY_GATEWAY_KEY")
    assert r.status == "ok", r.error
    seen = _keys_seen(fake)
    assert seen and all("gw-key-0123456789" in v for v in seen)
    assert not any(MARKER in v for v in seen)


def test_openai_compatible_without_a_key_gets_a_placeholder(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wire = WIRES["openai"]
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["OPENAI_API_KEY"])
    fake.on("GET", "/v1/models", Reply(status=200, body=b'{"data": []}'))
    wire.serve(fake, wire.ok(["hello"], 1, 1))
    cat = Catalog(entries={"m": CatalogEntry(provider="openai_compatible", model="m", kind="local",
                                             base_url=wire.base_url(fake))})
    (r,) = run_blocking(Run(prompt="hi", model_refs=["m"]), cat, None, policy=ONCE)
    assert r.status == "ok", r.error
    assert not any(MARKER in v for v in _keys_seen(fake))


def test_ollama_key_goes_only_to_the_host_it_was_set_for(servers, monkeypatch: pytest.MonkeyPatch) -> None:
    wire = WIRES["ollama"]
    paired, other = servers(), servers()
    for server in (paired, other):
        wire.serve(server, wire.ok(["hello"], 1, 1))
    monkeypatch.setenv("OLLAMA_API_KEY", f"ollama-{MARKER}-key")
    monkeypatch.setenv("OLLAMA_HOST", paired.url)
    cat = Catalog(
        entries={
            "env-host": CatalogEntry(provider="ollama", model=wire.model, kind="local"),
            "custom": CatalogEntry(provider="ollama", model=wire.model, kind="local", base_url=other.url),
        }
    )
    results = run_blocking(Run(prompt="hi", model_refs=["env-host", "custom"]), cat, None, policy=ONCE)
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    assert _keys_seen(paired) and all(MARKER in v for v in _keys_seen(paired))
    assert _keys_seen(other) == []  # neither the chat nor the /api/tags probe carried it
