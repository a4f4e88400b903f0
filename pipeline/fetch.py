"""HTTP(S) fetching of feeds and pages, guarded against server-side request forgery.

A feed URL or a feed item's link is written by whoever wrote the feed or the source config,
so it must not make the pipeline read the host's own services: ``http://127.0.0.1:…``,
the cloud metadata address ``169.254.169.254``, a router on ``10.0.0.1``. Every request here:

* is http or https, to a host whose address is public: private, loopback, link-local,
  multicast, reserved and unspecified addresses (IPv4 and IPv6, IPv4-mapped included) are
  refused unless the operator names their network in ``NEWSDESK_FETCH_PRIVATE``;
* is checked on the address actually connected to (the socket's peer), so a name that
  resolves to a public address when checked and a private one when connecting (DNS
  rebinding) is refused too;
* follows at most ``MAX_REDIRECTS`` redirects by hand, each target checked like the first
  URL (a public page redirecting to ``localhost:6379`` is refused);
* has a timeout and a size cap.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urljoin, urlsplit

from pipeline.formats.base import Refused

TIMEOUT_SECONDS = 20
MAX_REDIRECTS = 5
USER_AGENT = "newsdesk-ingest/0.1"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"127.0.0.1/32, 10.1.0.0/16"`` -> networks (the operator's NEWSDESK_FETCH_PRIVATE)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.replace(";", ",").split(",")
                 if part.strip())


def address_refusal(address: str, allowed: tuple[Network, ...] = ()) -> str | None:
    """Why ``address`` may not be fetched from, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed):
        return None
    for test, what in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
                       (ip.is_multicast, "multicast"), (ip.is_unspecified, "unspecified"),
                       (ip.is_reserved, "reserved"), (ip.is_private, "private")):
        if test:
            return f"{ip} is a {what} address"
    return None


def _checked(sock: socket.socket, url: str, allowed: tuple[Network, ...]) -> None:
    peer = sock.getpeername()[0]
    why = address_refusal(peer, allowed)
    if why:
        sock.close()
        raise Refused("fetch_refused", f"{url}: {why}; only public addresses are fetched (an operator may allow "
                                       "a network with NEWSDESK_FETCH_PRIVATE)")


class _HTTP(http.client.HTTPConnection):
    allowed: tuple[Network, ...] = ()
    url = ""

    def connect(self) -> None:
        super().connect()
        _checked(self.sock, self.url, self.allowed)


class _HTTPS(http.client.HTTPSConnection):
    allowed: tuple[Network, ...] = ()
    url = ""

    def connect(self) -> None:  # check the peer before TLS: nothing is sent to a refused address
        http.client.HTTPConnection.connect(self)
        _checked(self.sock, self.url, self.allowed)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def _resolve_check(host: str, port: int, url: str, allowed: tuple[Network, ...]) -> None:
    """Refuse before connecting when any address of the name is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused("fetch_failed", f"could not fetch {url}: {exc}") from exc
    for info in infos:
        why = address_refusal(info[4][0], allowed)
        if why:
            raise Refused("fetch_refused", f"{url}: {host} resolves to {why}; only public addresses are fetched "
                                           "(an operator may allow a network with NEWSDESK_FETCH_PRIVATE)")


def fetch_url(url: str, max_bytes: int, *, allowed: tuple[Network, ...] = ()) -> bytes:
    """GET an http(s) URL (redirects followed and re-checked) with a timeout and a size cap."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused("unsupported_url", f"only http(s) URLs are fetched, not {current!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        _resolve_check(parts.hostname, port, current, allowed)
        cls = _HTTPS if parts.scheme == "https" else _HTTP
        kwargs = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
        conn = cls(parts.hostname, port, timeout=TIMEOUT_SECONDS, **kwargs)
        conn.allowed, conn.url = allowed, current
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                current = urljoin(current, resp.getheader("Location"))
                continue
            if resp.status != 200:
                raise Refused("fetch_failed", f"could not fetch {current}: HTTP {resp.status} {resp.reason}")
            data = resp.read(max_bytes + 1)
        except OSError as exc:  # refused, reset, timeout, TLS
            raise Refused("fetch_failed", f"could not fetch {current}: {exc}") from exc
        except http.client.HTTPException as exc:
            raise Refused("fetch_failed", f"could not fetch {current}: {type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
        if len(data) > max_bytes:
            raise Refused("file_too_large", f"{current} is over the limit of {max_bytes} bytes")
        return data
    raise Refused("fetch_failed", f"{url}: more than {MAX_REDIRECTS} redirects")
