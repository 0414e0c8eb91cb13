"""What a spec may put in a mail header: one plain address, one line, a subject with `{title}` and
`{day}` only; every refusal says what to write instead. (The spec's own field errors: test_spec.py.)"""

from __future__ import annotations

import pydantic
import pytest

from agentjobs.jobs.addresses import (
    EMAIL_MAX,
    EmailAddress,
    OneLine,
    SubjectTemplate,
    email_address,
    is_plain_address,
    one_line,
    subject_template,
)


@pytest.mark.parametrize(
    "address",
    [
        "team@example.org",
        "first.last+digest@mail.example.co.uk",
        "ops-team_1@example-corp.org",
        "o'brien@example.org",
        "x@localhost",
    ],
)
def test_plain_addresses_are_taken_as_written(address):
    assert is_plain_address(address)
    assert email_address(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "Ada <ada@example.org>",  # a display name
        "ada@example.org, bob@example.org",  # two addresses
        "ada@example.org\r\nBcc: all@example.org",  # a header of its own
        "ada@example.org\n",
        " ada@example.org",
        "ada@example.org ",
        "ada",
        "@example.org",
        "ada@",
        "ada@-example.org",
        "ada@example..org",
        ".ada@example.org",
        "ada..b@example.org",
        "ada@exa mple.org",
        "ada@@example.org",
    ],
)
def test_anything_but_one_plain_address_is_refused_with_an_example_of_one(address):
    assert not is_plain_address(address)
    with pytest.raises(ValueError) as refused:
        email_address(address)
    assert str(refused.value) == (
        f"{address!r} is not a plain email address; write one like team@example.org "
        "(no display name, spaces, CR or LF)"
    )


def test_an_address_longer_than_smtp_allows_is_refused():
    fits = "a" * (EMAIL_MAX - len("@example.org")) + "@example.org"
    assert len(fits) == EMAIL_MAX and is_plain_address(fits)
    assert not is_plain_address(fits + "c")


@pytest.mark.parametrize("text", ["Daily\ndigest", "Daily\rdigest", "Daily\tday", "Daily\x00", "Daily\x7f"])
def test_a_name_with_a_control_character_is_refused_naming_the_fix(text):
    with pytest.raises(ValueError, match=r"must be one line without control characters .*; remove them"):
        one_line(text)


def test_a_one_line_name_keeps_its_unicode():
    assert one_line("Tägliche Übersicht — 日報 ✓") == "Tägliche Übersicht — 日報 ✓"


@pytest.mark.parametrize(
    "template",
    ["{title} — {day}", "{day}: {title}", "Digest", "{{literal}} {title}", "{title}{title}", ""],
)
def test_a_subject_with_only_title_and_day_is_taken(template):
    assert subject_template(template) == template
    assert isinstance(template.format(title="T", day="2026-11-24"), str)


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{title.__class__.__init__.__globals__}", "{title.__class__.__init__.__globals__}"),
        ("{0}", "{0}"),
        ("{}", "{}"),
        ("{day[0]}", "{day[0]}"),
        ("{title!r}", "{title!r}"),
        ("{day:>40}", "{day:>40}"),
        ("{team}", "{team}"),
    ],
)
def test_any_other_placeholder_is_refused_before_a_run_naming_it(template, named):
    with pytest.raises(ValueError) as refused:
        subject_template(template)
    assert str(refused.value) == (
        f"placeholder {named} is not allowed; use only {{title}}, {{day}}, and {{{{ }}}} for literal braces"
    )


@pytest.mark.parametrize("template", ["Digest {", "Digest }", "{title"])
def test_an_unbalanced_brace_says_how_to_write_a_literal_one(template):
    with pytest.raises(ValueError, match=r"not a valid template .*use \{title\}, \{day\}, and \{\{ \}\}"):
        subject_template(template)


def test_the_annotated_types_check_the_same_in_any_pydantic_model():
    class Header(pydantic.BaseModel):
        name: OneLine
        to: list[EmailAddress]
        subject: SubjectTemplate

    ok = Header(name="Digest", to=["team@example.org"], subject="{title}")
    assert ok.to == ["team@example.org"]
    with pytest.raises(pydantic.ValidationError) as refused:
        Header(name="a\nb", to=["Ada <ada@example.org>"], subject="{0}")
    fields = {error["loc"] for error in refused.value.errors()}
    assert fields == {("name",), ("to", 0), ("subject",)}
