"""What `http_get` may fetch for one job: URL prefixes, a response size cap, content types.

A skill's `http_allowlist` names hosts (any path of them, public addresses only). A job's spec
can instead name URL prefixes (`allow_urls`), e.g. `http://127.0.0.1:8765/companies/`: only
URLs below one of them are fetched, and a response is refused (not cut) when it is larger than
`max_bytes` or its content type is not one of `content_types`, so the model never reads half
a record or an HTML error page as data.

A prefix whose host is an IP literal may be a loopback or private address: the operator named
that exact address and port, which DNS cannot change. A prefix with a host name still resolves
to public addresses only (a DNS answer could point it anywhere).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from agentjobs.agent.errors import PermissionDenied
from agentjobs.agent.guarded_http import (
    Fetched,
    Resolver,
    Target,
    parse_http_url,
    public_address,
    target_of,
)
from agentjobs.agent.http_allow import DEFAULT_MAX_BYTES, check_allow_url


def ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HttpPolicy:
    """A job's HTTP rules for `http_get` (and for code fetching on its behalf)."""

    allow_urls: tuple[str, ...]  # normalized by check_allow_url
    max_bytes: int = DEFAULT_MAX_BYTES
    content_types: tuple[str, ...] = ("application/json",)  # empty: any

    @classmethod
    def of(
        cls, allow_urls: Sequence[str], max_bytes: int = DEFAULT_MAX_BYTES, content_types: Sequence[str] = ()
    ) -> HttpPolicy:
        return cls(
            tuple(check_allow_url(u) for u in allow_urls),
            max_bytes,
            tuple(t.lower() for t in content_types) or ("application/json",),
        )

    def prefix_of(self, url: str, scheme: str, host: str, port: int) -> str | None:
        """The allowed prefix `url` is below, or None. `..` segments never match (a server would
        resolve them out of the prefix)."""
        path = urlsplit(url).path or "/"
        if ".." in unquote(path).split("/"):
            return None
        shown = f"[{host}]" if ":" in host else host
        here = f"{scheme}://{shown}:{port}{path}"
        return next((p for p in self.allow_urls if here.startswith(p)), None)

    def target(self, url: str, resolver: Resolver | None = None) -> Target | None:
        """Where to connect for `url` when it is below an allowed prefix; None when it is not.

        Credentials in `url` are refused (PermissionDenied) before anything else."""
        if "@" in (urlsplit(url).netloc if "//" in url else ""):
            raise PermissionDenied("URL refused: credentials in the URL are not allowed")
        scheme, host, port = parse_http_url(url)
        if self.prefix_of(url, scheme, host, port) is None:
            return None
        # An IP literal in the prefix is the address the operator chose (loopback included).
        ip = host if ip_literal(host) else public_address(url, host, port, resolver=resolver)
        return target_of(url, scheme, host, port, ip)

    def check(self, url: str) -> Target:
        """`target` for `guarded_get`: PermissionDenied naming the prefixes when `url` is not below one."""
        found = self.target(url)
        if found is None:
            raise PermissionDenied(
                f"URL {url!r} refused: it is not below the allow_urls {list(self.allow_urls)}; "
                "fetch only the URLs the task names, or add a prefix to the spec's or the skill's allow_urls"
            )
        return found

    def refusal(self, fetched: Fetched) -> str | None:
        """Why the response may not be read (too large, wrong content type), or None."""
        if fetched.truncated:
            return f"the response is larger than the {self.max_bytes}-byte cap"
        given = fetched.headers.get_content_type() if fetched.headers.get("Content-Type") else "none"
        if self.content_types and given not in self.content_types:
            return f"the response's content type is {given!r}, not {' or '.join(self.content_types)}"
        return None
