"""What a spec may let http_get fetch: URL prefixes refused with the fix, or normalized so that
the fetcher compares like with like (a host's case, its IDNA form, an explicit default port)."""

from __future__ import annotations

import pytest

from agentjobs.agent.http_allow import check_allow_url, normalize_host


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("https://user:pw@directory.example.com/companies/", "credentials"),
        ("https://*.example.com/companies/", "wildcard"),
        ("ftp://directory.example.com/companies/", "http or https"),
        ("https://directory.example.com/companies", "must end with '/'"),
        ("https://directory.example.com/companies/?key=1", "query or fragment"),
        ("https://directory.example.com/a/../admin/", "'..'"),
    ],
)
def test_a_bad_prefix_is_refused_naming_the_fix(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_allow_url(entry)


@pytest.mark.parametrize(
    ("entry", "normalized"),
    [
        ("https://Directory.Example.COM./companies/", "https://directory.example.com:443/companies/"),
        ("http://127.0.0.1:8765/companies/", "http://127.0.0.1:8765/companies/"),
        ("https://bücher.example/shop/", "https://xn--bcher-kva.example:443/shop/"),
        ("http://[::1]/x/", "http://[::1]:80/x/"),
        ("https://api.example.com", "https://api.example.com:443/"),
    ],
)
def test_a_good_prefix_is_normalized_with_its_port(entry: str, normalized: str) -> None:
    assert check_allow_url(entry) == normalized


def test_a_host_is_lower_cased_idna_encoded_and_an_ip_written_canonically() -> None:
    assert normalize_host(" Example.COM. ") == "example.com"
    assert normalize_host("bücher.example") == "xn--bcher-kva.example"
    assert normalize_host("0:0:0:0:0:0:0:1") == "::1"
