"""Which addresses a URL the user names may reach: classification of IP addresses and the policy.

A URL input (``spec.input.url``) makes the cluster fetch what a user asks for, so a name that
resolves to the cloud's metadata service, a Pod, a node or the loopback interface must be
refused. :func:`classify` sorts an address into the kind of network it belongs to (an IPv4
address carried inside IPv6 — mapped, NAT64, 6to4 — counts as the IPv4 address); only ``public``
is reachable unless the policy lists the network. :class:`UrlPolicy` applies it to a URL after
resolving its host: every address the name resolves to must pass, and the caller connects to the
checked address (see :mod:`dubbing.safefetch`), so a second resolution cannot swap it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class AddressClass(StrEnum):
    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"  # RFC 1918 and IPv6 unique-local (fc00::/7)
    LINK_LOCAL = "link-local"  # 169.254.0.0/16 (cloud metadata: 169.254.169.254), fe80::/10
    SHARED = "shared"  # carrier-grade NAT, 100.64.0.0/10
    MULTICAST = "multicast"
    UNSPECIFIED = "unspecified"  # 0.0.0.0, ::
    BROADCAST = "broadcast"
    RESERVED = "reserved"  # documentation, benchmarking, 0.0.0.0/8, 240.0.0.0/4, IETF protocol assignments


_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_RESERVED = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
    )
]
_IPV6_RESERVED = [ipaddress.ip_network(n) for n in ("2001:db8::/32", "100::/64", "2001::/23")]


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped ``::ffff:a.b.c.d``, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def classify(address: IPAddress | str) -> AddressClass:
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return classify(inner)
    if ip.is_unspecified:
        return AddressClass.UNSPECIFIED
    if ip.is_loopback:
        return AddressClass.LOOPBACK
    if ip.is_link_local:
        return AddressClass.LINK_LOCAL
    if ip.is_multicast:
        return AddressClass.MULTICAST
    if isinstance(ip, ipaddress.IPv4Address):
        if ip == ipaddress.IPv4Address("255.255.255.255"):
            return AddressClass.BROADCAST
        if ip in _SHARED:
            return AddressClass.SHARED
        if any(ip in net for net in _IPV4_RESERVED):
            return AddressClass.RESERVED
    elif any(ip in net for net in _IPV6_RESERVED):
        return AddressClass.RESERVED
    if ip.is_private:
        return AddressClass.PRIVATE
    if ip.is_reserved or not ip.is_global:
        return AddressClass.RESERVED
    return AddressClass.PUBLIC


def parse_networks(items: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``10.0.0.0/8``, ``127.0.0.1`` (one address) …; ValueError names a bad one."""
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {item!r}") from None
    return tuple(out)


def permitted(address: IPAddress | str, allow: Sequence[IPNetwork] = ()) -> bool:
    """A public address, or one inside a network the policy lists."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if any(ip.version == net.version and ip in net for net in allow):
        return True
    return classify(ip) is AddressClass.PUBLIC


class UrlRefused(ValueError):
    """The URL may not be fetched (its scheme, or an address its host resolves to)."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UrlRefused(f"cannot resolve {host}: {error.strerror}") from None
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


@dataclass(frozen=True)
class Target:
    """A URL checked by the policy: connect to ``address``, send ``host`` as the Host."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


@dataclass(frozen=True)
class UrlPolicy:
    enabled: bool = False
    allow: tuple[IPNetwork, ...] = ()
    schemes: tuple[str, ...] = ("http", "https")
    resolver: Resolver = field(default=system_resolver, compare=False)

    def check(self, url: str) -> Target:
        """The address to connect to for ``url``, or :class:`UrlRefused` saying why not."""
        if not self.enabled:
            raise UrlRefused("URL inputs are turned off on this cluster (DUBBING_INPUT_URLS)")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            raise UrlRefused(f"scheme {scheme or '(none)'} is not allowed")
        host = parts.hostname
        if not host:
            raise UrlRefused("the URL has no host")
        if parts.username or parts.password:
            raise UrlRefused("credentials in the URL are not allowed")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UrlRefused("the URL's port is not a number") from None
        literal = _is_literal(host)
        addresses = [host] if literal else self.resolver(host, port)
        if not addresses:
            raise UrlRefused(f"{host} resolves to no address")
        for address in addresses:
            if not permitted(address, self.allow):
                what = "the URL's host is" if literal else f"{host} resolves to"
                raise UrlRefused(f"{what} a {classify(address)} address, which input URLs may not reach")
        return Target(url, scheme, host, port, addresses[0])


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
