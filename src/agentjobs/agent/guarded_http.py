"""One guarded HTTP GET, shared by the `http_get` tool and the RSS source.

Every hop (the first URL and each redirect) is resolved and must land on a public internet
address, and the connection goes to that checked address, so neither a redirect nor a DNS
answer that changes between check and connect can reach loopback, the private network or
a cloud metadata service. The body is capped in size, the whole exchange in time (an
overall deadline, not only a per-read timeout, so a server dripping bytes cannot hold the
caller), and only a few well-known charsets are decoded: some codecs Python ships (e.g.
punycode) are quadratic, so a server-chosen charset could burn minutes of CPU.
"""

from __future__ import annotations

import base64
import codecs
import email.message
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from agentjobs.agent.errors import AgentError, PermissionDenied
from agentjobs.agent.http_allow import DEFAULT_PORTS, normalize_host

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Canonical codecs.lookup() names of the charsets a body may be decoded with; all are linear.
ALLOWED_CHARSETS = frozenset(
    {"utf-8", "utf-8-sig", "ascii", "iso8859-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be"}
)
# NAT64 (RFC 6052) embeds an IPv4 address in the low 32 bits; a NAT64 gateway would reach it.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchFailed(AgentError):
    """The exchange could not complete: too many redirects, a bad Location, the deadline."""


class DeadlineExceeded(FetchFailed):
    """The whole exchange (connect, headers, body) took longer than its deadline."""

    def __init__(self, deadline_s: float) -> None:
        super().__init__(f"timed out: no complete answer within {deadline_s:g}s (the request's deadline)")


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the operating system's resolver, keeping the order it returns."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def non_global_reason(addr: IPAddress) -> str | None:
    """Why `addr` is not a public internet address, or None when it is."""
    if isinstance(addr, ipaddress.IPv6Address):
        # An IPv6 form that carries an IPv4 address reaches that IPv4 host, so judge the inner one.
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            inner = non_global_reason(embedded)
            if inner is not None:
                return f"{inner} (IPv4 {embedded} inside IPv6)"
    # Order matters only for the message: 169.254.x is link-local and private, say link-local.
    checks = (
        ("loopback", addr.is_loopback),
        ("unspecified", addr.is_unspecified),
        ("link-local", addr.is_link_local),
        # fec0::/10 is deprecated but still routed inside some sites; Python calls it global.
        ("site-local", isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local),
        ("multicast", addr.is_multicast),
        ("reserved", addr.is_reserved),
        ("private", addr.is_private),
    )
    for label, flagged in checks:
        if flagged:
            return label
    # Catches the rest, e.g. 100.64.0.0/10 (carrier-grade NAT) which is neither private nor global.
    return None if addr.is_global else "non-global"


@dataclass(frozen=True)
class Target:
    """A checked hop: where to connect (`ip`) and what to ask for (`host`, `path`)."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str
    path: str  # path and query, as sent in the request line


def parse_http_url(url: str) -> tuple[str, str, int]:
    """(scheme, normalized host, port) of an http(s) URL; PermissionDenied names what is wrong."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise PermissionDenied(f"URL {url!r} refused: it contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PermissionDenied(f"URL {url!r} refused: malformed URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise PermissionDenied(f"URL {url!r} refused: only http and https URLs are allowed")
    if not parts.hostname:
        raise PermissionDenied(f"URL {url!r} refused: it has no host")
    try:
        host = normalize_host(parts.hostname)
    except UnicodeError as exc:
        raise PermissionDenied(f"URL {url!r} refused: invalid host name ({exc})") from exc
    return scheme, host, port or DEFAULT_PORTS[scheme]


def public_address(
    url: str,
    host: str,
    port: int,
    *,
    resolver: Resolver | None = None,
    allow_private_addresses: bool = False,
    allow_loopback_ports: Collection[int] = (),
) -> str:
    """The address to connect to for `host`; PermissionDenied unless every address is public.

    The two `allow_` switches exist ONLY for tests against fake servers on loopback and are
    off by default: `allow_private_addresses` turns the check off, `allow_loopback_ports`
    lets loopback addresses on those ports through and still refuses everything else.
    """
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = (resolver or system_resolver)(host, port)
        except OSError as exc:
            raise PermissionDenied(f"URL {url!r} refused: cannot resolve host {host!r} ({exc})") from exc
    if not addresses:
        raise PermissionDenied(f"URL {url!r} refused: host {host!r} resolved to no address")
    checked: list[str] = []
    for raw in addresses:
        try:
            addr = ipaddress.ip_address(raw)
        except ValueError as exc:
            raise PermissionDenied(f"URL {url!r} refused: resolver returned {raw!r}") from exc
        reason = None if allow_private_addresses else non_global_reason(addr)
        if reason == "loopback" and port in allow_loopback_ports:
            reason = None
        if reason is not None:
            # Every address is checked, not just the first: a client may try any of them.
            raise PermissionDenied(
                f"URL {url!r} refused: host {host!r} resolves to {addr}, a {reason} address; "
                "only public internet addresses may be reached"
            )
        checked.append(str(addr))
    return checked[0]


def public_target(
    url: str,
    *,
    resolver: Resolver | None = None,
    allow_private_addresses: bool = False,
    allow_loopback_ports: Collection[int] = (),
) -> Target:
    """Check `url` for `guarded_get`: an http(s) URL whose host resolves to public addresses only."""
    scheme, host, port = parse_http_url(url)
    ip = public_address(
        url,
        host,
        port,
        resolver=resolver,
        allow_private_addresses=allow_private_addresses,
        allow_loopback_ports=allow_loopback_ports,
    )
    return target_of(url, scheme, host, port, ip)


def target_of(url: str, scheme: str, host: str, port: int, ip: str) -> Target:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url=url, scheme=scheme, host=host, port=port, ip=ip, path=path)


def tls_context() -> ssl.SSLContext:
    """The TLS settings of every guarded request (tests replace this to trust their own certificate)."""
    return ssl.create_default_context()


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed IP while SNI and certificate checks use the host name."""

    def __init__(self, ip: str, port: int, *, server_hostname: str, timeout: float) -> None:
        super().__init__(ip, port, timeout=timeout, context=tls_context())
        self._server_hostname = server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # plain TCP to self.host, the pinned IP
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_hostname)


@dataclass(frozen=True)
class Fetched:
    """The last response of a guarded GET (a redirect only when redirects were not followed)."""

    url: str
    status: int
    reason: str
    headers: email.message.Message
    body: bytes  # at most max_bytes
    truncated: bool  # the server had more than max_bytes

    def text(self) -> tuple[str, str | None]:
        """The body as text, and a note when its declared charset was not used.

        A charset outside ALLOWED_CHARSETS (unknown, or a slow codec like punycode) is
        replaced by UTF-8 with replacement characters, so decoding stays linear in the size.
        """
        declared = self.headers.get_content_charset() or "utf-8"
        try:
            codec = codecs.lookup(declared).name
        except LookupError:
            codec = ""
        if codec in ALLOWED_CHARSETS:
            return self.body.decode(codec, errors="replace"), None
        return self.body.decode("utf-8", errors="replace"), (
            f"charset {declared[:40]!r} is not supported, decoded as UTF-8 "
            f"(supported: {', '.join(sorted(ALLOWED_CHARSETS))})"
        )


def _same_origin(a: Target, b: Target) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _basic_auth(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.username is None:
        return None
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def guarded_get(
    url: str,
    *,
    check: Callable[[str], Target],
    timeout_s: float,
    deadline_s: float,
    max_bytes: int,
    max_redirects: int = 0,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """GET `url`, checking it and every redirect hop with `check` before connecting there.

    `check` raises PermissionDenied for a URL that may not be reached and otherwise returns
    the address to connect to. With `max_redirects=0` a 3xx response is returned as is;
    otherwise up to that many redirects are followed and one more is a FetchFailed. Basic
    credentials in `url` are sent only to its own origin. The whole call ends within
    `deadline_s` (DeadlineExceeded); `timeout_s` bounds each network operation.
    """
    deadline = time.monotonic() + deadline_s
    target = check(url)
    first = target
    auth = _basic_auth(url)
    for hop in range(max_redirects + 1):
        hop_headers = dict(headers or {})
        if auth is not None and _same_origin(first, target):
            hop_headers["Authorization"] = auth
        fetched = _get_once(target, hop_headers, timeout_s, deadline, deadline_s, max_bytes)
        location = fetched.headers.get("Location")
        if not (300 <= fetched.status < 400 and location and max_redirects):
            return fetched
        if hop == max_redirects:
            break
        next_url = urljoin(target.url, location.strip())
        try:
            target = check(next_url)
        except PermissionDenied as exc:
            raise PermissionDenied(f"redirect {hop + 1} (from {target.url!r}) refused: {exc}") from exc
    raise FetchFailed(f"more than {max_redirects} redirects (the last one from {target.url!r})")


def _get_once(
    target: Target,
    headers: dict[str, str],
    timeout_s: float,
    deadline: float,
    deadline_s: float,
    max_bytes: int,
) -> Fetched:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded(deadline_s)
    # A timer cuts the socket at the deadline, which stops a drip of handshake, headers or
    # body that no per-read timeout would catch; each socket operation has its own timeout.
    connect_timeout = min(timeout_s, remaining)
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = _PinnedHTTPSConnection(
            target.ip, target.port, server_hostname=target.host, timeout=connect_timeout
        )
    else:
        conn = http.client.HTTPConnection(target.ip, target.port, timeout=connect_timeout)
    # We connect to the checked IP ourselves, so the Host header carries the name.
    host_header = f"[{target.host}]" if ":" in target.host else target.host
    if target.port != DEFAULT_PORTS[target.scheme]:
        host_header += f":{target.port}"
    request_headers = {
        "Host": host_header,
        "Accept-Encoding": "identity",  # a compressed body would bypass the size cap
        "Connection": "close",
        **headers,
    }
    cut = threading.Event()
    opened: list[socket.socket] = []  # conn.sock is dropped once the response owns the socket

    def cut_at_deadline() -> None:
        cut.set()
        sock = conn.sock or (opened[0] if opened else None)
        if sock is not None:
            try:
                # The plain socket's shutdown, also under TLS: it wakes a blocked read at once.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    # Started before connecting, so a TLS handshake sent byte by byte is cut as well.
    timer = threading.Timer(remaining, cut_at_deadline)
    timer.daemon = True
    try:
        timer.start()
        conn.connect()
        assert conn.sock is not None
        opened.append(conn.sock)
        if cut.is_set():  # the deadline passed while the TCP connection was being made
            raise DeadlineExceeded(deadline_s)
        conn.sock.settimeout(timeout_s)
        conn.request("GET", target.path, headers=request_headers)
        response = conn.getresponse()
        body = bytearray()
        if not 300 <= response.status < 400:
            while len(body) <= max_bytes:
                chunk = response.read1(max_bytes + 1 - len(body))
                if not chunk:
                    break
                body += chunk
        if cut.is_set():
            raise DeadlineExceeded(deadline_s)
    except (OSError, http.client.HTTPException) as exc:
        if cut.is_set():
            raise DeadlineExceeded(deadline_s) from exc
        raise
    finally:
        timer.cancel()
        conn.close()
    return Fetched(
        url=target.url,
        status=response.status,
        reason=response.reason,
        headers=response.headers,
        body=bytes(body[:max_bytes]),
        truncated=len(body) > max_bytes,
    )
