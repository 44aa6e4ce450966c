"""GET a user-named URL under a :class:`dubbing.netpolicy.UrlPolicy`.

Each hop (the URL, then every redirect) is checked after its host is resolved, and the request
goes to the checked address itself (the Host header and TLS server name keep the host's name), so
no name is resolved twice and no refused address ever receives a packet.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from .netpolicy import Target, UrlPolicy, UrlRefused

MAX_REDIRECTS = 5


def pinned_url(target: Target) -> str:
    """``target.url`` with its host replaced by the checked address."""
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    return urlunsplit((target.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))


def host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    name = f"[{target.host}]" if ":" in target.host else target.host
    return name if target.port == default else f"{name}:{target.port}"


@contextmanager
def get(url: str, policy: UrlPolicy, timeout_s: float = 60.0) -> Iterator[httpx.Response]:
    """The streamed response of the last hop; :class:`UrlRefused` before any packet leaves for a refused hop."""
    with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            target = policy.check(url)
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            request = client.build_request(
                "GET", pinned_url(target), headers={"Host": host_header(target)}, extensions=extensions
            )
            response = client.send(request, stream=True)
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                response.close()
                continue
            try:
                yield response
            finally:
                response.close()
            return
    raise UrlRefused(f"more than {MAX_REDIRECTS} redirects")
