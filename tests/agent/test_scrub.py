from __future__ import annotations

import pytest

from agentjobs.agent.scrub import scrub, tail

# (planted text, the secret part that must disappear, text around it that must survive)
PLANTED = [
    ("key sk-abcdefghijklmnopqrstuvwx here", "sk-abcdefghijklmnopqrstuvwx", "key "),
    ("OPENAI=sk-proj-Ab_Cd-0123456789abcdefghij", "sk-proj-Ab_Cd-0123456789abcdefghij", None),
    ("token ghp_" + "a1B2" * 9 + " used", "ghp_" + "a1B2" * 9, "token "),
    ("gho_" + "Z" * 36, "gho_" + "Z" * 36, None),
    ("ghs_" + "x9" * 18, "ghs_" + "x9" * 18, None),
    ("ghu_" + "k" * 36, "ghu_" + "k" * 36, None),
    ("ghr_" + "q" * 36, "ghr_" + "q" * 36, None),
    ("pat github_pat_11ABCDE0123456789_abcdefghijklmnopqrstuv", "github_pat_11ABCDE", "pat "),
    ("slack xoxb-1234567890-0987654321-AbCdEfGh", "xoxb-1234567890", "slack "),
    ("slack xoxp-1234567890-0987654321-AbCdEfGh", "xoxp-1234567890", "slack "),
    ("app xapp-1-A0123456-7890-abcdef0123", "xapp-1-A0123456", "app "),
    ("id AKIAIOSFODNN7EXAMPLE ok", "AKIAIOSFODNN7EXAMPLE", " ok"),
    ("id ASIAIOSFODNN7EXAMPLE ok", "ASIAIOSFODNN7EXAMPLE", " ok"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI",
        "aws_secret_access_key = ",
    ),
    ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi", "Authorization: Bearer "),
    ("authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", None),
    ('-H "Authorization: token abcd1234efgh"', "abcd1234efgh", None),
    ('{"api_key": "zzzz-my-key-zzzz", "items": 3}', "zzzz-my-key-zzzz", '"items": 3}'),
    ("connect password=hunter2&user=bob", "hunter2", "&user=bob"),
    ("DB_PASSWORD: correct-horse", "correct-horse", "DB_PASSWORD: "),
    ("git clone https://bob:s3cr3t@github.com/org/repo.git", "bob:s3cr3t", "@github.com/org/repo.git"),
    ("postgres://admin:p@ss@db.internal:5432/app", "p@ss", "postgres://"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), PLANTED)
def test_planted_secret_is_masked(text: str, secret: str, kept: str | None) -> None:
    out = scrub(text)
    assert secret not in out
    assert "***" in out
    if kept is not None:
        assert kept in out


def test_url_credentials_keep_scheme_and_host() -> None:
    assert scrub("see https://bob:pw123@example.com/x") == "see https://***@example.com/x"


def test_quoted_value_keeps_its_quotes() -> None:
    assert scrub('{"password": "hunter22"}') == '{"password": "***"}'


ORDINARY = """\
Wrote 3 rows to out/report.csv (see https://example.com/docs?page=2#top).
Contact bob@example.com; the task-abcdefghijklmnopqrstuvwxyz id is unchanged.
max_tokens=500, input_tokens: 120, token_count: 7
Password:
  pick one at https://example.com:8443/reset
RESULT: {"path": "answer.txt", "items": 3}
"""


def test_ordinary_text_is_untouched() -> None:
    assert scrub(ORDINARY) == ORDINARY


def test_extra_secrets_are_masked_longest_first() -> None:
    out = scrub("a=hunter2hunter2 b=hunter2", ["hunter2", "hunter2hunter2"])
    assert out == "a=*** b=***"


def test_short_extra_secrets_are_ignored() -> None:
    # Masking "ab" everywhere would wreck the text for no protection.
    assert scrub("abc cab", ["ab", ""]) == "abc cab"
    assert scrub("the abcd code", ["abcd"]) == "the *** code"


def test_tail_short_text_is_returned_scrubbed() -> None:
    assert tail("done with sk-abcdefghijklmnopqrstuvwx") == "done with ***"


def test_tail_cuts_and_marks_the_cut() -> None:
    text = "a" * 100 + "END"
    assert tail(text, 10) == "…" + "a" * 7 + "END"
    assert tail(text, 200) == text


def test_tail_scrubs_before_cutting() -> None:
    # Cutting first would leave "mnopqrstuvwx", a fragment no pattern recognises.
    out = tail("x" * 50 + " sk-abcdefghijklmnopqrstuvwx", 12)
    assert "uvwx" not in out
    assert out.endswith("***")


def test_tail_masks_extra_secrets() -> None:
    assert tail("token is hunter22", 100, ["hunter22"]) == "token is ***"


def test_an_exception_chain_is_scrubbed_at_every_link():
    import httpx
    import openai

    from agentjobs.agent.scrub import scrub_exception, scrubbed_errors

    key = "sk-proj-" + "Q" * 30
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(401, request=request)
    body = {"message": f"Incorrect API key provided: {key}, also hunter2-literal"}
    try:
        with scrubbed_errors(["hunter2-literal"]):
            try:
                raise openai.AuthenticationError(f"Error code: 401 - {body}", response=response, body=body)
            except openai.APIStatusError as cause:
                raise RuntimeError(f"HTTP 401: {body['message']}") from cause
    except RuntimeError as exc:
        caught = exc
    import traceback

    rendered = "".join(traceback.format_exception(caught))
    assert "AuthenticationError" in rendered and "RuntimeError: HTTP 401" in rendered
    assert key not in rendered and "hunter2-literal" not in rendered
    assert caught.__cause__.message.count("***") == 2
    # An exception with nothing secret keeps its message exactly.
    plain = ValueError("no such file: sources/git.json")
    assert str(scrub_exception(plain)) == "no such file: sources/git.json"
