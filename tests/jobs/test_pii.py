"""The PII detector (agentjobs.jobs.pii) and the spec's pii_review section."""

from __future__ import annotations

import pytest

from agentjobs.jobs.pii import find_pii, iban_checksum_ok, luhn_ok
from agentjobs.jobs.spec import JobSpec, load_spec

POSITIVES = [
    ("Ping jane.doe@acme.io about it", "email", "j***@acme.io"),
    ("Call +44 20 7946 0958.", "phone", "+** ** **** **58"),
    ("US office +1 (555) 123-4567", "phone", "+* (***) ***-**67"),
    ("(555) 123-4567", "phone", "(***) ***-**67"),
    ("desk 555-123-4567", "phone", "***-***-**67"),
    ("desk 555.123.4567", "phone", "***.***.**67"),
    ("London 020 7946 0958", "phone", "*** **** **58"),
    ("mobile 07700 900123", "phone", "***** ****23"),
    ("Handy 0151 23456789", "phone", "**** ******89"),
    ("Paris 01 23 45 67 89", "phone", "** ** ** ** 89"),
    ("Berlin 030/1234567", "phone", "***/*****67"),
    ("from abroad 0049 30 1234567", "phone", "**** ** *****67"),
    ("sms +4915123456789", "phone", "+***********89"),
    ("card 4111 1111 1111 1111 on file", "card", "**** **** **** 1111"),
    ("card 4111-1111-1111-1111", "card", "****-****-****-1111"),
    ("card 4111111111111111", "card", "************1111"),
    ("amex 3782 822463 10005", "card", "**** ****** *0005"),
    ("refund to DE89 3704 0044 0532 0130 00", "iban", "DE** **** **** **** **30 00"),
    ("refund to GB82WEST12345698765432", "iban", "GB****************5432"),
    ("FR14 2004 1010 0505 0001 3M02 606", "iban", "FR** **** **** **** **** ***2 606"),
    # The same accounts written in lower case (issue 21: they were missed).
    ("refund to de89 3704 0044 0532 0130 00", "iban", "de** **** **** **** **30 00"),
    ("refund to gb82west12345698765432", "iban", "gb****************5432"),
    # An address next to a remote is still an address.
    ("git@github.com:acme/app.git, ask jane@acme.io: she knows", "email", "j***@acme.io"),
]

NEGATIVES = [
    "- 1234567 Fix the retry policy",  # a short SHA of digits only
    "- 0123456 2024 roadmap",  # ... followed by a subject starting with a year
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 and 0a1b2c3",
    "# Daily digest — 2026-11-24",
    "due 24.11.2026, or 11/24/2026, or 01-12-2026, or 01.12.2026 1234",
    "published 2026-11-24T09:00:00+00:00",
    "from 2026-11-24 - 2026-11-30",
    "Release v1.2.3, Python 3.11.4, Windows 10.0.19045.1234, build 20261124.1",
    "costs $1,234.56, €1.234.567,89, 1 234 567 EUR or 12345.67",
    "https://example.org/pull/5551234567 and https://example.org/2026/11/24/0151-2345-6789",
    "PR #12345 closes issue #555",
    "the box at 192.168.100.200",
    "+12 more commits",
    "epoch 1764000000000 ms",
    "4111 1111 1111 1112",  # fails the Luhn check
    "DE89 3704 0044 0532 0130 01",  # fails the IBAN checksum
    "logo@2x.png",
    "0.12.3456 and 5551234567",
    "ETA 10:30-11:45",
    "ISBN 978-3-16-148410-0",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "order 1234-5678-9012",
    # Git remotes name a login at a host, not a person's address.
    "git remote add origin git@github.com:acme/app.git",
    "clone ssh://git@github.com/acme/app.git or git@gitlab.example.org:~team/app",
    "de89 3704 0044 0532 0130 01",  # fails the IBAN checksum in lower case too
    "commit deadbeefdeadbeefdeadbeefdeadbeefdeadbeef and de12beef",
]


@pytest.mark.parametrize(("text", "kind", "masked"), POSITIVES)
def test_personal_data_is_found_and_masked(text, kind, masked):
    (finding,) = find_pii(text)
    assert (finding.kind, finding.masked, finding.line) == (kind, masked, 1)


@pytest.mark.parametrize("text", NEGATIVES)
def test_numbers_that_are_not_personal_data_pass(text):
    assert find_pii(text) == []


def test_findings_come_in_reading_order_with_their_lines_and_never_the_value():
    text = (
        "# Digest\n\n- a1b2c3d Call 020 7946 0958\n- write to ada@example.org\n\n"
        "IBAN DE89370400440532013000\n"
    )
    findings = find_pii(text)
    assert [(f.kind, f.line) for f in findings] == [("phone", 3), ("email", 4), ("iban", 6)]
    described = ", ".join(f.describe() for f in findings)
    assert "7946 0958" not in described and "ada@" not in described and "370400440532013000" not in described


def test_an_email_inside_a_url_is_found_but_the_url_numbers_are_not():
    (finding,) = find_pii("https://example.org/unsubscribe?user=ada@example.org&id=02079460958")
    assert finding.kind == "email"


def test_the_allowlist_takes_addresses_and_whole_domains():
    text = "team@agentjobs.dev, bot@ci.agentjobs.dev, ada@example.org, bob@example.com"
    left = find_pii(text, allow=["agentjobs.dev", "ADA@example.org"])
    assert [f.masked for f in left] == ["b***@example.com"]
    assert [f.masked for f in find_pii(text, allow=["@example.com"])] == [
        "t***@agentjobs.dev",
        "b***@ci.agentjobs.dev",
        "a***@example.org",
    ]


def test_the_checks_themselves():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_checksum_ok("DE89370400440532013000") and not iban_checksum_ok("DE89370400440532013001")


def _spec(**fields):
    return {
        "dag_id": "pii_spec",
        "title": "Digest",
        "start_date": "2026-11-01",
        "skill": "daily-digest",
        "sources": {"git": {"repos": ["."]}},
        **fields,
    }


def test_the_review_is_off_unless_the_spec_turns_it_on():
    spec = JobSpec.model_validate(_spec())
    assert (spec.pii_review.enabled, spec.pii_review.agent, spec.pii_review.skill) == (
        False,
        False,
        "pii-review",
    )
    on = JobSpec.model_validate(_spec(pii_review={"enabled": True, "allow": ["agentjobs.dev", "a@b.org"]}))
    assert on.pii_review.enabled and on.pii_review.allow == ["agentjobs.dev", "a@b.org"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"enabled": True, "allow_list": []}, "pii_review.allow_list"),
        ({"enabled": "yes please"}, "pii_review.enabled"),
        ({"allow": ["not a domain"]}, "pii_review.allow.0"),
        ({"allow": ["localhost"]}, "is not a domain"),
        ({"skill": "../etc"}, "pii_review.skill"),
    ],
)
def test_a_bad_section_names_its_field(tmp_path, section, message):
    import yaml

    from agentjobs.jobs.spec import JobSpecError

    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(_spec(pii_review=section)))
    with pytest.raises(JobSpecError, match="pii_review") as raised:
        load_spec(path)
    assert message in str(raised.value)


def test_the_review_is_for_digests(tmp_path):
    import yaml

    from agentjobs.jobs.spec import JobSpecError

    path = tmp_path / "job.yaml"
    fields = _spec(kind="weekly_insights", skill="weekly-insights", pii_review={"enabled": True})
    fields["sources"] = {"sql": {"conn_id": "agentjobs_business"}}
    path.write_text(yaml.safe_dump(fields))
    with pytest.raises(JobSpecError, match="field 'pii_review': pii_review reviews a digest"):
        load_spec(path)
