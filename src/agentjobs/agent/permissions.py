"""What a tool call may touch: files inside one working directory, and allowlisted HTTP hosts.

Every built-in tool asks the `PermissionEngine` before it opens a path or a socket, and
every refusal is a `PermissionDenied` whose message names the problem and the fix, because
the message goes back to the model (and to the person reading the task log).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from agentjobs.agent.errors import PermissionDenied

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
# NAT64 (RFC 6052) embeds an IPv4 address in the low 32 bits; a NAT64 gateway would reach it.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the operating system's resolver, keeping the order it returns."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _non_global_reason(addr: IPAddress) -> str | None:
    """Why `addr` is not a public internet address, or None when it is."""
    if isinstance(addr, ipaddress.IPv6Address):
        # An IPv6 form that carries an IPv4 address reaches that IPv4 host, so judge the inner one.
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            inner = _non_global_reason(embedded)
            if inner is not None:
                return f"{inner} (IPv4 {embedded} inside IPv6)"
    # Order matters only for the message: 169.254.x is link-local and private, say link-local.
    checks = (
        ("loopback", addr.is_loopback),
        ("unspecified", addr.is_unspecified),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("reserved", addr.is_reserved),
        ("private", addr.is_private),
    )
    for label, flagged in checks:
        if flagged:
            return label
    # Catches the rest, e.g. 100.64.0.0/10 (carrier-grade NAT) which is neither private nor global.
    return None if addr.is_global else "non-global"


def _normalize_host(host: str) -> str:
    """Lower-case, drop a trailing dot, IDNA-encode, and write IP literals in canonical form."""
    host = host.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host


class PermissionEngine:
    """The jail of one run: a working directory, a write allowlist and an HTTP host allowlist.

    `allow_private_addresses=True` turns off the public-address check on resolved hosts. It
    exists ONLY so tests can talk to fake servers on loopback; a production run must never set
    it, since it would let a prompt-injected URL reach the metadata service or the internal net.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        write_allowlist: Sequence[str] = (),
        http_allowlist: Sequence[str] = (),
        http_max_bytes: int = 1_000_000,
        http_timeout_s: float = 10.0,
        resolver: Resolver | None = None,
        allow_private_addresses: bool = False,
    ) -> None:
        work = Path(work_dir)
        if not work.is_dir():
            raise ValueError(f"work_dir {str(work)!r} is not an existing directory")
        # Resolved once so a later change to a symlink above the jail cannot move the jail.
        self.work_dir: Path = work.resolve(strict=True)
        for pattern in write_allowlist:
            if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
                raise ValueError(
                    f"write_allowlist entry {pattern!r} must be a glob relative to the working directory"
                )
        self.write_allowlist: tuple[str, ...] = tuple(write_allowlist)
        for entry in http_allowlist:
            if "*" in entry.removeprefix("*."):
                raise ValueError(
                    f"http_allowlist entry {entry!r} is not supported; use an exact host "
                    "like 'api.example.com' or a subdomain wildcard like '*.example.com'"
                )
        self.http_allowlist: tuple[str, ...] = tuple(_normalize_host(e) for e in http_allowlist)
        if http_max_bytes <= 0 or http_timeout_s <= 0:
            raise ValueError("http_max_bytes and http_timeout_s must be positive")
        self.http_max_bytes = http_max_bytes
        self.http_timeout_s = http_timeout_s
        self._resolver: Resolver = resolver or system_resolver
        self.allow_private_addresses = allow_private_addresses

    # ----------------------------------------------------------------- files

    def _resolve(self, relative: str, action: str) -> tuple[Path, str]:
        """Return (real path inside the jail, normalized relative path) or raise PermissionDenied."""
        if not isinstance(relative, str) or not relative.strip():
            raise PermissionDenied(
                f"{action} {relative!r} refused: empty path; give a path relative to the "
                "working directory, e.g. 'notes.md'"
            )
        if "\x00" in relative:
            raise PermissionDenied(f"{action} {relative!r} refused: the path contains a NUL byte")
        pure = PurePosixPath(relative)
        if pure.is_absolute():
            raise PermissionDenied(
                f"{action} {relative!r} refused: absolute paths are not allowed; "
                "give a path relative to the working directory"
            )
        if ".." in pure.parts:
            raise PermissionDenied(
                f"{action} {relative!r} refused: '..' components are not allowed; "
                "use a path inside the working directory"
            )
        # realpath follows every symlink on the way, including dangling ones and ones in parents.
        real = Path(os.path.realpath(self.work_dir / pure))
        if not real.is_relative_to(self.work_dir):
            raise PermissionDenied(
                f"{action} {relative!r} refused: it resolves outside the working directory "
                "(through a symlink); only files inside the working directory are reachable"
            )
        return real, pure.as_posix()

    def resolve_read(self, relative: str) -> Path:
        """The real path of `relative` inside the working directory (it may not exist yet)."""
        return self._resolve(relative, "read of")[0]

    def resolve_write(self, relative: str) -> Path:
        """Like `resolve_read`, and the path must also match a glob of the write allowlist.

        Globs use fnmatch on the posix path relative to the working directory, so `*` also
        matches `/` ('out/*' allows 'out/a/b.md'). The resolved target is what gets matched,
        so a symlink inside the jail cannot redirect a write to a non-allowlisted file.
        """
        real, normalized = self._resolve(relative, "write to")
        target = real.relative_to(self.work_dir).as_posix()
        if target == ".":
            raise PermissionDenied(f"write to {relative!r} refused: that is the working directory itself")
        if not self.write_allowlist:
            raise PermissionDenied(
                f"write to {normalized!r} refused: this skill is read-only (empty write allowlist); "
                f"add a glob matching {target!r} to the skill's write_allowlist"
            )
        if not any(fnmatchcase(target, pattern) for pattern in self.write_allowlist):
            via = f" (it resolves to {target!r})" if target != normalized else ""
            raise PermissionDenied(
                f"write to {normalized!r} refused{via}: not in the write allowlist "
                f"{list(self.write_allowlist)}; add it to the skill's write_allowlist"
            )
        return real

    # ------------------------------------------------------------------ HTTP

    def _host_allowed(self, host: str) -> bool:
        for entry in self.http_allowlist:
            if entry.startswith("*."):
                if host.endswith(entry[1:]):  # '.example.com': subdomains only, not the apex
                    return True
            elif host == entry:
                return True
        return False

    def check_url(self, url: str) -> tuple[str, int, str]:
        """Check `url` and return (host, port, IP to connect to); raise PermissionDenied if refused.

        Callers must connect to the returned IP (not resolve the host again), otherwise a DNS
        answer that changes between check and connect could point the request inside the net.
        """
        if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
            raise PermissionDenied(f"URL {url!r} refused: it contains whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise PermissionDenied(f"URL {url!r} refused: malformed URL ({exc})") from exc
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise PermissionDenied(f"URL {url!r} refused: only http and https URLs are allowed")
        if "@" in parts.netloc:
            # Never echo the URL here: the userinfo may hold a password.
            raise PermissionDenied(
                f"URL for host {parts.hostname!r} refused: credentials in the URL are not allowed; "
                "remove the 'user:password@' part"
            )
        if not parts.hostname:
            raise PermissionDenied(f"URL {url!r} refused: it has no host")
        try:
            host = _normalize_host(parts.hostname)
        except UnicodeError as exc:
            raise PermissionDenied(f"URL {url!r} refused: invalid host name ({exc})") from exc
        port = port or _DEFAULT_PORTS[scheme]
        if not self.http_allowlist:
            raise PermissionDenied(
                f"URL {url!r} refused: HTTP access is disabled for this skill (empty http_allowlist); "
                f"add {host!r} to the skill's http_allowlist"
            )
        if not self._host_allowed(host):
            raise PermissionDenied(
                f"URL {url!r} refused: host {host!r} is not in the HTTP allowlist "
                f"{list(self.http_allowlist)}; add it to the skill's http_allowlist"
            )

        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = self._resolver(host, port)
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
            reason = None if self.allow_private_addresses else _non_global_reason(addr)
            if reason is not None:
                # Every address is checked, not just the first: a client may try any of them.
                raise PermissionDenied(
                    f"URL {url!r} refused: host {host!r} resolves to {addr}, a {reason} address; "
                    "tools may only reach public internet addresses"
                )
            checked.append(str(addr))
        return host, port, checked[0]
