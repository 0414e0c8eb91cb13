"""What a job may let `http_get` fetch, as a spec states it: URL prefixes, checked and normalized,
and the default response cap.

Light on purpose (no sockets, no TLS): job specs are validated with it each time the DAG
processor parses them, and the fetching half (guarded_http, http_policy) loads only when a task
fetches.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_MAX_BYTES = 64 * 1024  # the largest response http_get reads unless the job allows more


def normalize_host(host: str) -> str:
    """Lower-case, drop a trailing dot, IDNA-encode, and write IP literals in canonical form."""
    host = host.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host


def check_allow_url(entry: str) -> str:
    """`entry` as a normalized prefix (`scheme://host:port/path/`), or ValueError saying the fix."""
    example = "write a prefix like 'https://directory.example.com/companies/'"
    if not isinstance(entry, str) or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in entry):
        raise ValueError(f"{entry!r} must be a URL without spaces or control characters; {example}")
    if "*" in entry:
        raise ValueError(
            f"{entry!r} has a wildcard; a prefix already allows every URL below it, so {example}"
        )
    try:
        parts = urlsplit(entry)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{entry!r} is not a URL ({exc}); {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{entry!r} must be an http or https URL; {example}")
    if "@" in parts.netloc:
        raise ValueError("a URL with credentials ('user:password@') is not allowed; put them in a connection")
    if not parts.hostname:
        raise ValueError(f"{entry!r} has no host; {example}")
    if parts.query or parts.fragment:
        raise ValueError(f"{entry!r} has a query or fragment; a prefix is a path, {example}")
    path = parts.path or "/"
    if not path.endswith("/"):
        raise ValueError(
            f"{entry!r} must end with '/': without it, '{path}' would also allow '{path}-private'; "
            f"write '{entry}/'"
        )
    if ".." in unquote(path).split("/"):
        raise ValueError(f"{entry!r} has a '..' segment; {example}")
    host = normalize_host(parts.hostname)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port or DEFAULT_PORTS[scheme]}{path}"
