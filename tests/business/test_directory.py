"""The sample company directory the enrichment demo runs against: records by company name over
loopback HTTP, the country read from the legal form, and the planted answers the job must refuse."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from agentjobs.business.directory import Answer, Directory, sample_record, serve_directory


@pytest.fixture
def directory() -> Iterator[Directory]:
    with serve_directory() as served:
        yield served


def fetch(url: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def test_a_company_is_looked_up_by_its_quoted_name(directory):
    status, ctype, body = fetch(directory.url + quote("Globex GmbH"))
    record = json.loads(body)
    assert (status, ctype) == (200, "application/json")
    assert record["name"] == "Globex GmbH" and record["industry"] == "Manufacturing"
    assert (record["country"], record["employees"], record["website"]) == (
        "DE",
        1200,
        "https://globex.example",
    )
    assert directory.requests == ["/companies/Globex%20GmbH"]


@pytest.mark.parametrize(
    ("name", "country"),
    [
        ("Globex G.m.b.H.", "DE"),
        ("Initech Kabushiki Kaisha", "JP"),
        ("Hooli Pty Ltd", "AU"),  # the first legal form named decides
        ("UMBRELLA LIMITED", "GB"),
        ("Stark Industries", "US"),  # no legal form: the default
    ],
)
def test_the_country_comes_from_the_legal_form_however_it_is_written(name, country):
    record = sample_record(name)
    assert record is not None and record["country"] == country and record["name"] == name


def test_the_same_name_always_gives_the_same_record():
    assert sample_record("Initech Inc.") == sample_record("Initech Inc.")
    assert sample_record("Acme Corp") is None  # not a company of the sample


def test_the_planted_answers_are_there_for_the_job_to_refuse(directory):
    missing = fetch(directory.url + quote("Wayne Enterprises"))
    unknown = fetch(directory.url + quote("Acme Corp"))
    html = fetch(directory.url + quote("Soylent Corp"))
    big = fetch(directory.url + quote("Tyrell Corp"))
    hostile = json.loads(fetch(directory.url + quote("Vandelay Industries"))[2])
    script_site = json.loads(fetch(directory.url + quote("Kramerica Industries"))[2])
    assert missing[0] == unknown[0] == 404 and json.loads(missing[2]) == {"error": "no such company"}
    assert html[0] == 200 and html[1] == "text/html" and html[2].startswith(b"<html>")
    assert big[0] == 200 and len(big[2]) > 64 * 1024  # over the job's default response cap
    assert "<script>" in hostile["industry"] and "@here" in hostile["industry"]
    assert script_site["website"].startswith("javascript:")


def test_only_the_companies_path_answers_and_a_query_string_is_ignored(directory):
    root = directory.url.removesuffix("companies/")
    assert fetch(root + "admin")[0] == 404
    assert json.loads(fetch(root + "admin")[2]) == {"error": "not found"}
    status, _, body = fetch(directory.url + "Globex?fields=all")
    assert status == 200 and json.loads(body)["name"] == "Globex"
    assert directory.requests == ["/admin", "/admin", "/companies/Globex"]


def test_a_responder_of_ones_own_gets_the_unquoted_name_hostile_characters_and_all():
    asked: list[str] = []

    def respond(name: str) -> Answer:
        asked.append(name)
        return Answer(418, b"teapot", "text/plain")

    hostile = "Bobby'); DROP TABLE customers;-- / ünï \u202e"
    with serve_directory(respond) as served:
        assert fetch(served.url + quote(hostile, safe=""))[:2] == (418, "text/plain")
    assert asked == [hostile]


def test_the_server_is_gone_when_the_block_ends():
    with serve_directory() as served:
        url = served.url + "Globex"
        assert fetch(url)[0] == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
