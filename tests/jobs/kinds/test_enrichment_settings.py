"""The enrichment spec section: a lookup source inside its allowlist, plain URL prefixes, and each
customer's lookup URL built from it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentjobs.jobs.kinds.enrichment_settings import EnrichmentSettings, lookup_url

SOURCE = "https://directory.example/companies/"


def test_the_lookup_url_is_the_source_and_the_url_quoted_name():
    settings = EnrichmentSettings(source_url=SOURCE)
    assert settings.source_url == "https://directory.example:443/companies/"  # its port spelt out
    assert lookup_url(settings, "Globex GmbH") == settings.source_url + "Globex%20GmbH"
    # A name's slash, ampersand or question mark is quoted: the lookup stays below the source.
    assert lookup_url(settings, "A/B & Co?") == settings.source_url + "A%2FB%20%26%20Co%3F"


def test_a_source_outside_the_allowlist_is_refused_naming_the_fix():
    with pytest.raises(ValidationError, match="add its prefix to allow_urls"):
        EnrichmentSettings(source_url=SOURCE, allow_urls=["https://other.example/"])
    allowed = EnrichmentSettings(source_url=SOURCE, allow_urls=["https://directory.example/"])
    assert allowed.allow_urls == ["https://directory.example:443/"]


def test_the_section_is_strict():
    with pytest.raises(ValidationError, match="extra"):
        EnrichmentSettings.model_validate({"source_url": SOURCE, "batchsize": 5})
    with pytest.raises(ValidationError):
        EnrichmentSettings(source_url=SOURCE, batch_size=0)
