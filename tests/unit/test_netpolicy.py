"""Address classification and the URL policy (pure), and a fetch refused before any packet leaves.

Only the last tests open sockets, and only on loopback: a listener that the policy must refuse to
reach (loopback is refused by default) and that must see no connection.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from dubbing import safefetch
from dubbing.netpolicy import AddressClass, UrlPolicy, UrlRefused, classify, parse_networks, permitted
from tests.fixtures.listener import CountingListener


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", AddressClass.PUBLIC),
        ("2606:4700:4700::1111", AddressClass.PUBLIC),
        ("127.0.0.1", AddressClass.LOOPBACK),
        ("127.255.0.9", AddressClass.LOOPBACK),
        ("::1", AddressClass.LOOPBACK),
        ("10.1.2.3", AddressClass.PRIVATE),
        ("172.16.0.1", AddressClass.PRIVATE),
        ("172.31.255.254", AddressClass.PRIVATE),
        ("192.168.1.1", AddressClass.PRIVATE),
        ("fd00::1", AddressClass.PRIVATE),  # unique local
        ("fc00::5", AddressClass.PRIVATE),
        ("169.254.169.254", AddressClass.LINK_LOCAL),  # the cloud metadata service
        ("169.254.0.1", AddressClass.LINK_LOCAL),
        ("fe80::1", AddressClass.LINK_LOCAL),
        ("100.64.0.1", AddressClass.SHARED),  # carrier-grade NAT
        ("100.127.255.254", AddressClass.SHARED),
        ("224.0.0.1", AddressClass.MULTICAST),
        ("239.255.255.250", AddressClass.MULTICAST),
        ("ff02::1", AddressClass.MULTICAST),
        ("0.0.0.0", AddressClass.UNSPECIFIED),
        ("::", AddressClass.UNSPECIFIED),
        ("255.255.255.255", AddressClass.BROADCAST),
        ("0.1.2.3", AddressClass.RESERVED),
        ("192.0.2.10", AddressClass.RESERVED),  # documentation
        ("198.18.0.1", AddressClass.RESERVED),  # benchmarking
        ("240.0.0.1", AddressClass.RESERVED),
        ("2001:db8::1", AddressClass.RESERVED),  # documentation
        # IPv4 inside IPv6 counts as the IPv4 address
        ("::ffff:169.254.169.254", AddressClass.LINK_LOCAL),
        ("::ffff:10.0.0.1", AddressClass.PRIVATE),
        ("::ffff:127.0.0.1", AddressClass.LOOPBACK),
        ("::ffff:8.8.8.8", AddressClass.PUBLIC),
        ("64:ff9b::a9fe:a9fe", AddressClass.LINK_LOCAL),  # NAT64 of 169.254.169.254
        ("2002:0a00:0001::1", AddressClass.PRIVATE),  # 6to4 of 10.0.0.1
    ],
)
def test_classify(address: str, kind: AddressClass) -> None:
    assert classify(address) is kind


def test_allow_list_opens_only_its_networks() -> None:
    allow = parse_networks(["10.20.0.0/16", "fd12::/16"])
    assert permitted("10.20.3.4", allow) and permitted("fd12::9", allow)
    assert not permitted("10.21.0.1", allow) and not permitted("169.254.169.254", allow)
    assert permitted("8.8.4.4") and not permitted("10.20.3.4")
    with pytest.raises(ValueError, match="not an address"):
        parse_networks(["10.0.0.0/33"])


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


def test_policy_checks_every_resolved_address() -> None:
    policy = UrlPolicy(
        enabled=True,
        resolver=_resolver(
            {"media.example": ["93.184.215.14"], "mixed.example": ["93.184.215.14", "10.0.0.7"], "meta": []}
        ),
    )
    target = policy.check("https://media.example/talk.mp4?x=1")
    assert (target.address, target.port, target.host) == ("93.184.215.14", 443, "media.example")
    with pytest.raises(UrlRefused, match="private") as info:
        policy.check("http://mixed.example/a.mp4")
    assert "10.0.0.7" not in str(info.value)  # no internal address in the message
    with pytest.raises(UrlRefused, match="link-local"):
        policy.check("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(UrlRefused, match="link-local"):
        policy.check("http://[::ffff:169.254.169.254]/")
    with pytest.raises(UrlRefused, match="no address"):
        policy.check("http://meta/")
    for bad in ("ftp://media.example/a", "file:///etc/passwd", "http://user:pw@media.example/", "gopher://x/"):
        with pytest.raises(UrlRefused):
            policy.check(bad)


def test_url_inputs_are_off_by_default() -> None:
    with pytest.raises(UrlRefused, match="turned off"):
        UrlPolicy(resolver=_resolver({"media.example": ["93.184.215.14"]})).check("https://media.example/a.mp4")


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    one = CountingListener()
    try:
        yield one
    finally:
        one.close()


def test_refused_url_reaches_nothing(listener: CountingListener) -> None:
    """Loopback is refused unless allowed: the fetch fails and the listener sees no connection."""
    for policy in (UrlPolicy(), UrlPolicy(enabled=True)):
        with pytest.raises(UrlRefused), safefetch.get(f"http://127.0.0.1:{listener.port}/x.mp4", policy):
            pass
        with pytest.raises(UrlRefused), safefetch.get(f"http://localhost:{listener.port}/x.mp4", policy):
            pass
    assert listener.connections == 0


def test_redirect_to_a_refused_address_is_not_followed(listener: CountingListener) -> None:
    """127.0.0.1 is allowed (as a test's stand-in for a public host); it redirects to 127.0.0.2, which is not."""

    target = f"http://127.0.0.2:{listener.port}/secret"
    inner = CountingListener("127.0.0.2")

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{inner.port}/secret")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        policy = UrlPolicy(enabled=True, allow=parse_networks(["127.0.0.1/32"]))
        url = f"http://127.0.0.1:{server.server_address[1]}/a.mp4"
        with pytest.raises(UrlRefused, match="loopback"), safefetch.get(url, policy):
            pass
        assert inner.connections == 0 and listener.connections == 0, target
    finally:
        server.shutdown()
        server.server_close()
        inner.close()
