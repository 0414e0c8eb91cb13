"""What a tool call may touch: files inside one working directory, and allowlisted HTTP hosts.

Every built-in tool asks the `PermissionEngine` before it opens a path or a socket, and
every refusal is a `PermissionDenied` whose message names the problem and the fix, because
the message goes back to the model (and to the person reading the task log).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from agentjobs.agent.errors import PermissionDenied
from agentjobs.agent.guarded_http import (
    Resolver,
    Target,
    normalize_host,
    parse_http_url,
    public_address,
    target_of,
)
from agentjobs.agent.http_policy import HttpPolicy


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
        http_policy: HttpPolicy | None = None,
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
        self.http_allowlist: tuple[str, ...] = tuple(normalize_host(e) for e in http_allowlist)
        if http_max_bytes <= 0 or http_timeout_s <= 0:
            raise ValueError("http_max_bytes and http_timeout_s must be positive")
        self.http_max_bytes = http_max_bytes
        self.http_timeout_s = http_timeout_s
        self._resolver: Resolver | None = resolver
        self.allow_private_addresses = allow_private_addresses
        # A job's URL prefixes, size cap and content types (its spec), besides the skill's hosts.
        self.http_policy = http_policy
        if http_policy is not None:
            self.http_max_bytes = http_policy.max_bytes

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
        target = self.check_target(url)
        return target.host, target.port, target.ip

    def check_target(self, url: str) -> Target:
        """`check_url` as the `Target` that `guarded_get` connects to."""
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None  # parse_http_url names the problem
        if parts is not None and "@" in parts.netloc:
            # Never echo the URL here: the userinfo may hold a password.
            raise PermissionDenied(
                f"URL for host {parts.hostname!r} refused: credentials in the URL are not allowed; "
                "remove the 'user:password@' part"
            )
        scheme, host, port = parse_http_url(url)
        policy = self.http_policy
        if policy is not None:
            found = policy.target(url, self._resolver)
            if found is not None:
                return found
            if not self._host_allowed(host):
                return policy.check(url)  # raises, naming the job's prefixes
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
        ip = public_address(
            url, host, port, resolver=self._resolver, allow_private_addresses=self.allow_private_addresses
        )
        return target_of(url, scheme, host, port, ip)
