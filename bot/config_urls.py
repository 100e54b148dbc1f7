"""The chain section's endpoint URLs, checked as the clients will use them.

``chain.rpc_urls`` entries must be ``http://`` or ``https://`` URLs and ``chain.ws_urls``
entries ``ws://`` or ``wss://`` URLs, each with a host and, when given, a port in 1..65535,
without whitespace or control characters (what aiohttp and websockets refuse or cannot
connect to): before this, ``notaurl``, ``ftp://…`` and ``http://127.0.0.1:99999/…`` passed
``check-config`` and failed every request with ``InvalidUrlClientError``. Two entries of one
list naming one endpoint (scheme, host, port, path, query and credentials equal after
normalising case and the default port) are refused naming both: each would open its own
connection to the same node, and failover between them is no failover. Every message shows
a URL masked (``bot.safety.mask_url``: scheme, host and port), never its path or query.

Also :func:`one_report_per_chain_field`: the single ``chain:`` section is validated twice
(as ``chain`` and as ``chains.default``), so each of its problems is reported once, by the
path the user wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from bot.safety import mask_url

__all__ = ["RpcUrls", "WsUrls", "endpoint_url_problem", "one_report_per_chain_field"]

_BAD_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_DEFAULT_CHAIN = "default"  # bot.config_chains.DEFAULT_CHAIN (that module imports this one)


def _shown(url: str) -> str:
    """``url`` masked; when ``mask_url`` cannot parse it (a bad port), scheme and host only;
    ``<url>`` when even those cannot be shown as they are."""
    shown = mask_url(url)
    if _BAD_CHARACTERS.search(shown):  # a host with a space or a control character
        return "<url>"
    if shown != "<url>":
        return shown
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return "<url>"
    if not parts.scheme or not host or _BAD_CHARACTERS.search(parts.scheme + host):
        return "<url>"
    return f"{parts.scheme}://{host}/…"


def endpoint_url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Why ``url`` cannot be an endpoint with one of ``schemes`` (lowercase), or None.

    The reason shows the URL masked: scheme, host and port at most."""
    expected = " or ".join(schemes)
    if _BAD_CHARACTERS.search(url):
        return f"{_shown(url)} contains whitespace or control characters"
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced [ of an IPv6 host
        return f"{_shown(url)} is not a URL"
    if "://" not in url or parts.scheme.lower() not in schemes:
        return f"{_shown(url)} is not a URL with scheme {expected}"
    if not parts.hostname:
        return f"{_shown(url)} has no host"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        return f"{_shown(url)} has a port outside 1..65535"
    return None


def _endpoint_key(url: str) -> tuple[Any, ...]:
    """What makes two checked URLs one endpoint: case of scheme and host and an explicit
    default port do not matter, an empty path is ``/``; the fragment is never sent."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port if parts.port is not None else _DEFAULT_PORTS[scheme]
    path = parts.path or "/"
    return (scheme, parts.hostname, port, path, parts.query, parts.username, parts.password)


def _distinct(urls: list[str]) -> list[str]:
    """``urls`` when no two name one endpoint; ``ValueError`` naming the entries otherwise."""
    positions: dict[tuple[Any, ...], list[int]] = {}
    for index, url in enumerate(urls):
        positions.setdefault(_endpoint_key(url), []).append(index)
    repeated = [found for found in positions.values() if len(found) > 1]
    if not repeated:
        return urls
    described = []
    for found in repeated:
        entries = ", ".join(str(i) for i in found[:-1]) + f" and {found[-1]}"
        described.append(f"entries {entries} are one endpoint ({_shown(urls[found[0]])})")
    raise ValueError("; ".join(described) + ": list each endpoint once")


def _checked(schemes: tuple[str, ...]) -> AfterValidator:
    def check(url: str) -> str:
        problem = endpoint_url_problem(url, schemes)
        if problem is not None:
            raise ValueError(problem)
        return url

    return AfterValidator(check)


# The field types of ``ChainConfig.rpc_urls``/``ws_urls``: each entry checked (a problem is
# named ``chain.rpc_urls.<index>``), then the list for repeated endpoints (``chain.rpc_urls``)
RpcUrls = Annotated[
    list[Annotated[str, _checked(("http", "https"))]],
    Field(min_length=1),
    AfterValidator(_distinct),
]
WsUrls = Annotated[
    list[Annotated[str, _checked(("ws", "wss"))]],
    Field(max_length=8),
    AfterValidator(_distinct),
]


def _primary(data: Mapping[str, Any]) -> str | None:
    """The first chain's name as the user wrote ``chains:`` (a mapping or a named list)."""
    chains = data.get("chains")
    if isinstance(chains, Mapping) and chains:
        return str(next(iter(chains)))
    if isinstance(chains, list) and chains and isinstance(chains[0], Mapping):
        name = chains[0].get("name")
        return name if isinstance(name, str) else None
    return None


def one_report_per_chain_field(problems: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    """``problems`` (``field: reason`` lines) with each problem of the primary chain's section
    once, under the path the user wrote: ``chain.X`` for a ``chain:`` section (its copy
    ``chains.default.X`` dropped), ``chains.<first>.X`` for ``chains:`` (its copy ``chain.X``
    dropped). ``data`` is the config file's mapping; order is kept."""
    primary = _primary(data)
    if primary is None:
        copy, written = f"chains.{_DEFAULT_CHAIN}", "chain"
    else:
        copy, written = "chain", f"chains.{primary}"
    out: list[str] = []
    for line in problems:
        if line.startswith((copy + ".", copy + ":")):
            line = written + line[len(copy) :]
        if line not in out:
            out.append(line)
    return out
