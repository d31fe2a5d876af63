"""Which base URLs Bakeoff may send a prompt (and a key) to.

A base URL comes from models.yaml, a provider's standard environment variable, or Settings. It is
checked before anything is sent (config loading skips a refused entry; the runner refuses a
refused model with a ConfigError naming the URL and the reason):

- only http and https, with a host, and no user or password inside the URL (a key belongs in
  the entry's api_key_env, not in a URL that is shown and stored);
- never a link-local or cloud-metadata address: 169.254.0.0/16 (169.254.169.254 is the AWS /
  GCP / Azure metadata service), fe80::/10, fd00:ec2::254 (AWS IPv6 metadata),
  metadata.google.internal and friends - in any spelling a resolver accepts (2852039166,
  0xA9FEA9FE, ::ffff:169.254.169.254, a trailing dot);
- with BAKEOFF_SHARED_DEPLOYMENT=1 (Bakeoff served to other people), also no loopback, private,
  unique-local, CGNAT or reserved address, no `localhost` / `*.internal` / `*.local` name, and a
  name is resolved so one that points at such an address is refused too.

Redirects are never followed (each provider's HTTP client is built with follow_redirects=False),
so a public URL cannot bounce a request to a refused one. DNS rebinding between this check and
the request is not covered: a shared deployment should also firewall the metadata address.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

SHARED_ENV = "BAKEOFF_SHARED_DEPLOYMENT"
SCHEMES = ("http", "https")

# Always refused, whatever the deployment.
METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
    }
)
ALWAYS_REFUSED_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # IPv4 link-local: 169.254.169.254 metadata, 169.254.170.2 ECS task credentials
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS IMDS over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
    )
)
# Refused too in a shared deployment.
SHARED_REFUSED_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",  # unique local
        "ff00::/8",
    )
)
SHARED_REFUSED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")


class RefusedURL(ValueError):
    """A base URL Bakeoff will not send requests to; the message says why and what to do."""


def shared_deployment() -> bool:
    """BAKEOFF_SHARED_DEPLOYMENT=1 (or true/yes/on): Bakeoff serves other people."""
    return os.environ.get(SHARED_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _as_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host string denotes, in any spelling the C resolver accepts, else None."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        ip = None
        if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and any(c.isdigit() for c in host):
            try:  # 2852039166, 0xA9FEA9FE, 169.254.43518: inet_aton's legacy forms
                ip = ipaddress.IPv4Address(socket.inet_aton(host))
            except OSError:
                ip = None
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return mapped
    return ip


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, shared: bool) -> str | None:
    if any(ip in net for net in ALWAYS_REFUSED_NETS if net.version == ip.version):
        return f"{ip} is a link-local / cloud metadata address"
    if shared and (
        any(ip in net for net in SHARED_REFUSED_NETS if net.version == ip.version)
        or ip.is_private
        or ip.is_loopback
        or ip.is_reserved
        or ip.is_unspecified
        or ip.is_multicast
    ):
        return f"{ip} is a loopback or private address, refused in a shared deployment ({SHARED_ENV}=1)"
    return None


def _resolve(host: str, port: int | None) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # unresolvable: the request itself will fail as Unreachable
    out = []
    for info in infos:
        ip = _as_ip(str(info[4][0]))
        if ip is not None:
            out.append(ip)
    return out


def check_base_url(url: str, *, shared: bool | None = None, resolve: bool | None = None) -> str:
    """Return `url` if Bakeoff may call it, else raise RefusedURL saying why.

    shared: apply the shared-deployment rules (default: BAKEOFF_SHARED_DEPLOYMENT).
    resolve: look the host name up and check every address (default: only when shared).

    >>> check_base_url("https://api.together.xyz/v1", shared=False)
    'https://api.together.xyz/v1'
    >>> check_base_url("http://169.254.169.254/latest", shared=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bakeoff.catalog.url_policy.RefusedURL: base URL http://169.254.169.254/latest refused: ... metadata address
    """
    shared = shared_deployment() if shared is None else shared
    resolve = shared if resolve is None else resolve
    text = str(url).strip()

    def refuse(reason: str) -> RefusedURL:
        return RefusedURL(f"base URL {text[:200]} refused: {reason}")

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise refuse(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise refuse(f"only http:// and https:// are allowed (got {parts.scheme or 'no scheme'}://)")
    if parts.username is not None or parts.password is not None:
        raise refuse("a URL must not carry a user name or password; put the key in the entry's api_key_env")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise refuse("it names no host")
    ip = _as_ip(host)
    if ip is not None:
        reason = _refusal(ip, shared)
        if reason:
            raise refuse(reason)
        return text
    if host in METADATA_HOSTS or host.endswith(".metadata.google.internal"):
        raise refuse(f"{host} is a cloud metadata service")
    if shared and (host == "localhost" or host.endswith(SHARED_REFUSED_SUFFIXES)):
        raise refuse(f"{host} is a local name, refused in a shared deployment ({SHARED_ENV}=1)")
    if resolve:
        for addr in _resolve(host, port):
            reason = _refusal(addr, shared)
            if reason:
                raise refuse(f"{host} resolves to {reason}")
    return text


def allowed(url: str, *, shared: bool | None = None) -> str | None:
    """None if `url` may be called, else the reason (for forms that show it beside the field)."""
    try:
        check_base_url(url, shared=shared)
    except RefusedURL as exc:
        return str(exc)
    return None


# The environment variable each provider's SDK reads its base URL from (see providers/*.py).
BASE_URL_ENVS = {
    "openai": "OPENAI_BASE_URL",
    "openai_compatible": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "gemini": "GOOGLE_GEMINI_BASE_URL",
    "cohere": "CO_API_URL",
    "ollama": "OLLAMA_HOST",
}


def effective_base_url(provider: str, base_url: str | None) -> str | None:
    """The URL a provider will call: the entry's base_url, else its SDK's variable; None = built-in default."""
    url = base_url or os.environ.get(BASE_URL_ENVS.get(provider, ""), "").strip() or None
    if url and provider == "ollama" and "://" not in url:
        url = f"http://{url}"  # OLLAMA_HOST may be host:port, as the ollama SDK accepts
    return url


def check_model_url(provider: str, base_url: str | None, *, shared: bool | None = None) -> None:
    """Raise RefusedURL if the model's effective base URL may not be called (built-in defaults pass)."""
    url = effective_base_url(provider, base_url)
    if url is not None:
        check_base_url(url, shared=shared)
