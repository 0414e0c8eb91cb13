"""PermissionEngine: the file jail, the write allowlist and the URL checks (no network used)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.agent.errors import PermissionDenied
from agentjobs.agent.permissions import PermissionEngine


@pytest.fixture
def jail(tmp_path: Path) -> Path:
    """A working directory next to an 'outside' directory holding a secret."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.md").write_text("inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET")
    return work


def fixed_resolver(*addresses: str):
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


# ------------------------------------------------------------------------------ reads


def test_plain_relative_path_resolves_inside(jail: Path) -> None:
    engine = PermissionEngine(jail)
    assert engine.resolve_read("notes.md") == jail.resolve() / "notes.md"
    assert engine.resolve_read("./sub//new.txt") == jail.resolve() / "sub" / "new.txt"


@pytest.mark.parametrize(
    "path", ["../outside/secret.txt", "a/../../outside/secret.txt", "a/../notes.md", ".."]
)
def test_dotdot_components_refused(jail: Path, path: str) -> None:
    with pytest.raises(PermissionDenied, match=r"'\.\.' components are not allowed"):
        PermissionEngine(jail).resolve_read(path)


def test_absolute_path_refused_even_when_inside(jail: Path, tmp_path: Path) -> None:
    engine = PermissionEngine(jail)
    for path in ["/etc/passwd", str(jail / "notes.md")]:
        with pytest.raises(PermissionDenied, match="absolute paths are not allowed"):
            engine.resolve_read(path)


def test_nul_byte_and_empty_path_refused(jail: Path) -> None:
    engine = PermissionEngine(jail)
    with pytest.raises(PermissionDenied, match="NUL byte"):
        engine.resolve_read("notes.md\x00.png")
    with pytest.raises(PermissionDenied, match="empty path"):
        engine.resolve_read("")


def test_file_symlink_leaving_jail_refused(jail: Path, tmp_path: Path) -> None:
    (jail / "link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    with pytest.raises(PermissionDenied, match="resolves outside the working directory"):
        PermissionEngine(jail).resolve_read("link.txt")


def test_dir_symlink_leaving_jail_refused_for_paths_below_it(jail: Path, tmp_path: Path) -> None:
    (jail / "data").symlink_to(tmp_path / "outside", target_is_directory=True)
    engine = PermissionEngine(jail, write_allowlist=["*"])
    with pytest.raises(PermissionDenied, match="resolves outside"):
        engine.resolve_read("data/secret.txt")
    # Also for a file that does not exist yet: the parent symlink alone leaves the jail.
    with pytest.raises(PermissionDenied, match="resolves outside"):
        engine.resolve_write("data/new.txt")


def test_dangling_symlink_pointing_outside_refused_for_write(jail: Path, tmp_path: Path) -> None:
    (jail / "out.txt").symlink_to(tmp_path / "outside" / "not-there-yet.txt")
    with pytest.raises(PermissionDenied, match="resolves outside"):
        PermissionEngine(jail, write_allowlist=["*"]).resolve_write("out.txt")


def test_symlink_inside_jail_allowed(jail: Path) -> None:
    (jail / "alias.md").symlink_to(jail / "notes.md")
    (jail / "docs").symlink_to(jail, target_is_directory=True)
    engine = PermissionEngine(jail)
    assert engine.resolve_read("alias.md") == jail.resolve() / "notes.md"
    assert engine.resolve_read("docs/notes.md") == jail.resolve() / "notes.md"


def test_work_dir_given_through_a_symlink_is_resolved_once(jail: Path, tmp_path: Path) -> None:
    via = tmp_path / "via"
    via.symlink_to(jail, target_is_directory=True)
    engine = PermissionEngine(via)
    assert engine.work_dir == jail.resolve()
    assert engine.resolve_read("notes.md") == jail.resolve() / "notes.md"


def test_missing_work_dir_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an existing directory"):
        PermissionEngine(tmp_path / "nope")


# ----------------------------------------------------------------------------- writes


def test_read_only_by_default(jail: Path) -> None:
    engine = PermissionEngine(jail)
    with pytest.raises(PermissionDenied, match=r"read-only .*write_allowlist"):
        engine.resolve_write("notes.md")


def test_write_outside_allowlist_refused_with_fix(jail: Path) -> None:
    engine = PermissionEngine(jail, write_allowlist=["digest.md"])
    with pytest.raises(PermissionDenied) as info:
        engine.resolve_write("notes.txt")
    assert str(info.value) == (
        "write to 'notes.txt' refused: not in the write allowlist ['digest.md']; "
        "add it to the skill's write_allowlist"
    )
    assert engine.resolve_write("digest.md") == jail.resolve() / "digest.md"
    assert engine.resolve_write("./digest.md") == jail.resolve() / "digest.md"


def test_glob_allowlist(jail: Path) -> None:
    engine = PermissionEngine(jail, write_allowlist=["out/*.md", "report-??.csv"])
    assert engine.resolve_write("out/a.md") == jail.resolve() / "out" / "a.md"
    # fnmatch's '*' also crosses '/', as documented.
    assert engine.resolve_write("out/sub/b.md") == jail.resolve() / "out" / "sub" / "b.md"
    assert engine.resolve_write("report-01.csv") == jail.resolve() / "report-01.csv"
    for refused in ["out/a.txt", "a.md", "report-001.csv", "OUT/a.md"]:
        with pytest.raises(PermissionDenied, match="not in the write allowlist"):
            engine.resolve_write(refused)


def test_symlink_cannot_redirect_a_write_to_a_non_allowlisted_file(jail: Path) -> None:
    (jail / "digest.md").symlink_to(jail / "notes.md")
    engine = PermissionEngine(jail, write_allowlist=["digest.md"])
    with pytest.raises(PermissionDenied, match=r"it resolves to 'notes\.md'"):
        engine.resolve_write("digest.md")


def test_write_to_work_dir_itself_refused(jail: Path) -> None:
    with pytest.raises(PermissionDenied, match="working directory itself"):
        PermissionEngine(jail, write_allowlist=["*"]).resolve_write(".")


def test_allowlist_entries_must_be_relative(jail: Path) -> None:
    with pytest.raises(ValueError, match="relative"):
        PermissionEngine(jail, write_allowlist=["/etc/*"])
    with pytest.raises(ValueError, match="relative"):
        PermissionEngine(jail, write_allowlist=["../*"])


# ------------------------------------------------------------------------------- URLs


def test_public_host_returns_the_checked_address(jail: Path) -> None:
    resolver = fixed_resolver("93.184.216.34", "2606:2800:220:1::1")
    engine = PermissionEngine(jail, http_allowlist=["example.com"], resolver=resolver)
    assert engine.check_url("https://Example.COM./page?q=1") == ("example.com", 443, "93.184.216.34")
    assert engine.check_url("http://example.com:8080/") == ("example.com", 8080, "93.184.216.34")
    assert resolver.calls == [("example.com", 443), ("example.com", 8080)]


def test_host_not_allowlisted_refused_before_dns(jail: Path) -> None:
    resolver = fixed_resolver("93.184.216.34")
    engine = PermissionEngine(jail, http_allowlist=["example.com"], resolver=resolver)
    with pytest.raises(PermissionDenied) as info:
        engine.check_url("https://evil.net/")
    assert "host 'evil.net' is not in the HTTP allowlist ['example.com']" in str(info.value)
    assert "add it to the skill's http_allowlist" in str(info.value)
    assert resolver.calls == []


def test_empty_http_allowlist_disables_http(jail: Path) -> None:
    with pytest.raises(PermissionDenied, match="HTTP access is disabled"):
        PermissionEngine(jail, resolver=fixed_resolver("93.184.216.34")).check_url("https://example.com/")


def test_wildcard_entry_matches_subdomains_only(jail: Path) -> None:
    engine = PermissionEngine(
        jail, http_allowlist=["*.example.com"], resolver=fixed_resolver("93.184.216.34")
    )
    assert engine.check_url("https://api.example.com/")[0] == "api.example.com"
    assert engine.check_url("https://a.b.example.com/")[0] == "a.b.example.com"
    for url in ["https://example.com/", "https://badexample.com/", "https://example.com.evil.net/"]:
        with pytest.raises(PermissionDenied, match="not in the HTTP allowlist"):
            engine.check_url(url)


def test_unsupported_allowlist_pattern_rejected(jail: Path) -> None:
    with pytest.raises(ValueError, match="not supported"):
        PermissionEngine(jail, http_allowlist=["*"])


@pytest.mark.parametrize("url", ["ftp://example.com/f", "file:///etc/passwd", "gopher://example.com/"])
def test_only_http_schemes(jail: Path, url: str) -> None:
    engine = PermissionEngine(jail, http_allowlist=["example.com"], resolver=fixed_resolver("93.184.216.34"))
    with pytest.raises(PermissionDenied, match="only http and https"):
        engine.check_url(url)


@pytest.mark.parametrize("url", ["https://user:hunter2@example.com/", "https://example.com@evil.net/"])
def test_userinfo_refused_without_echoing_it(jail: Path, url: str) -> None:
    engine = PermissionEngine(
        jail, http_allowlist=["example.com", "evil.net"], resolver=fixed_resolver("93.184.216.34")
    )
    with pytest.raises(PermissionDenied, match="credentials in the URL") as info:
        engine.check_url(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-global"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.5", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:a9fe:a9fe::1", "link-local"),
        # Deprecated site-local IPv6, which Python's ipaddress still calls global.
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
    ],
)
def test_internal_addresses_refused(jail: Path, address: str, reason: str) -> None:
    engine = PermissionEngine(jail, http_allowlist=["intranet.example.com"], resolver=fixed_resolver(address))
    with pytest.raises(PermissionDenied, match=f"a {reason}") as info:
        engine.check_url("https://intranet.example.com/")
    assert "only public internet addresses may be reached" in str(info.value)


def test_every_resolved_address_must_be_public(jail: Path) -> None:
    engine = PermissionEngine(
        jail, http_allowlist=["example.com"], resolver=fixed_resolver("93.184.216.34", "10.0.0.5")
    )
    with pytest.raises(PermissionDenied, match=r"resolves to 10\.0\.0\.5, a private address"):
        engine.check_url("https://example.com/")


@pytest.mark.parametrize(("url", "entry"), [("http://10.0.0.5/", "10.0.0.5"), ("http://[::1]:8080/", "::1")])
def test_literal_ip_hosts_checked_the_same(jail: Path, url: str, entry: str) -> None:
    resolver = fixed_resolver("93.184.216.34")
    engine = PermissionEngine(jail, http_allowlist=[entry], resolver=resolver)
    with pytest.raises(PermissionDenied, match="address; only public internet addresses may be reached"):
        engine.check_url(url)
    assert resolver.calls == []  # a literal is not looked up, so a resolver cannot launder it


def test_public_literal_ip_allowed_when_allowlisted(jail: Path) -> None:
    engine = PermissionEngine(jail, http_allowlist=["93.184.216.34"])
    assert engine.check_url("http://93.184.216.34/") == ("93.184.216.34", 80, "93.184.216.34")


def test_allow_private_addresses_lets_tests_reach_loopback(jail: Path) -> None:
    engine = PermissionEngine(
        jail, http_allowlist=["fake.test"], resolver=fixed_resolver("127.0.0.1"), allow_private_addresses=True
    )
    assert engine.check_url("http://fake.test:8000/") == ("fake.test", 8000, "127.0.0.1")
    # Still needs the allowlist.
    with pytest.raises(PermissionDenied, match="not in the HTTP allowlist"):
        engine.check_url("http://other.test/")


def test_resolution_failure_and_empty_answer_refused(jail: Path) -> None:
    def broken(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(PermissionDenied, match=r"cannot resolve host 'example\.com'"):
        PermissionEngine(jail, http_allowlist=["example.com"], resolver=broken).check_url(
            "https://example.com/"
        )
    engine = PermissionEngine(jail, http_allowlist=["example.com"], resolver=fixed_resolver())
    with pytest.raises(PermissionDenied, match="resolved to no address"):
        engine.check_url("https://example.com/")


def test_control_characters_and_bad_port_refused(jail: Path) -> None:
    engine = PermissionEngine(jail, http_allowlist=["example.com"], resolver=fixed_resolver("93.184.216.34"))
    with pytest.raises(PermissionDenied, match="control characters"):
        engine.check_url("https://example.com/\r\nX-Injected: 1")
    with pytest.raises(PermissionDenied, match="malformed URL"):
        engine.check_url("https://example.com:99999/")
