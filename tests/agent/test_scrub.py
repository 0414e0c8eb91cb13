from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from agentjobs.agent.scrub import scrub, scrub_json, tail

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
    # Shapes added for issue 10: each was left in clear before.
    (
        "alerts go to https://hooks.slack.com/services/T0ABCDEF1/B0GHIJKL2/Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2 now",
        "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2",
        "https://hooks.slack.com/services/",
    ),
    (
        "trigger https://hooks.slack.com/triggers/T0ABC/123456/9f8e7d6c5b4a",
        "9f8e7d6c5b4a",
        "trigger https://hooks.slack.com/triggers/",
    ),
    (
        "id_token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmN ok",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
        " ok",
    ),
    (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
        "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
        "-----END RSA PRIVATE KEY-----\nthe rest",
        "MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo",
        "-----END RSA PRIVATE KEY-----\nthe rest",
    ),
    (  # a key read from a JSON file: literal \n between the lines
        '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n'
        '-----END PRIVATE KEY-----\\n"}',
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        None,
    ),
    (  # cut short (a tail, a truncated page): no END line
        "…-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        "AAAAAAAAABAAABlwAAAAdzc2gtcn",
        "AAAAAAAAABAAABlwAAAAdzc2gtcn",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    ),
    ("clone https://bob:pa/ss#w0rd@git.example.org/a.git", "pa/ss#w0rd", "https://***@git.example.org/a.git"),
    ("cache redis://:r3dis-pw@cache.internal:6379/0", "r3dis-pw", "@cache.internal:6379/0"),
    ("Cookie: theme=dark; session=9f8e7d6c5b4a3210; lang=en", "9f8e7d6c5b4a3210", "lang=en"),
    ("Set-Cookie: user_session=AbCd1234EfGh; HttpOnly", "AbCd1234EfGh", "; HttpOnly"),
    ("Cookie: connect.sid=s%3AxYz.abc; lang=en", "s%3AxYz.abc", "; lang=en"),
    ("Cookie: PHPSESSID=q1w2e3r4", "q1w2e3r4", "PHPSESSID="),
    # Tool arguments as they appear inside a JSON string (an error body, a logged request).
    (
        '"arguments": "{\\"path\\": \\"a.txt\\", \\"password\\": \\"hunter22\\"}"',
        "hunter22",
        '\\"path\\": \\"a.txt\\", \\"password\\": \\"***\\"}"',
    ),
    ('{\\"api_key\\":\\"zzzz-my-key-zzzz\\"}', "zzzz-my-key-zzzz", None),
    # The escaping backslash is not taken for the value (which left `"x\"` behind before).
    ('export PASSWORD=\\"x-hunter2\\" done', "x-hunter2", 'PASSWORD=\\"***\\" done'),
    ('{"password": "a\\"quoted\\"pw"}', "quoted", None),
    # Shapes added for issue 21: each was left in clear, or its tail was.
    ("password: 'it''s a long pass phrase'", "s a long pass phrase", "password: '"),
    ("maps: AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY ok", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", " ok"),
    ("charge with sk_live_51HxQ2bCz9yLmN8pR4tV6wX0a now", "sk_live_51HxQ2bCz9yLmN8pR4tV6wX0a", " now"),
    ("read-only rk_live_51HxQ2bCz9yLmN8pR4tV6wX0a", "rk_live_51HxQ2bCz9yLmN8pR4tV6wX0a", "read-only "),
    (
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzF"
        "T50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzF",
        "AccountName=acme;AccountKey=***;EndpointSuffix=core.windows.net",
    ),
    (
        "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;"
        "SharedAccessKey=q1w2e3r4t5y6u7i8o9p0AbCdEfGhIjKlMnOpQrStUvW=",
        "q1w2e3r4t5y6u7i8o9p0",
        "SharedAccessKeyName=send;SharedAccessKey=***",
    ),
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


def test_a_quoted_value_with_a_doubled_quote_is_masked_whole() -> None:
    # YAML and SQL write a quote inside single quotes as two: the value runs to the last quote.
    assert scrub("password: 'it''s a long pass phrase'") == "password: '***'"
    assert scrub("db_password = 'a''b', user = 'bob'") == "db_password = '***', user = 'bob'"


ORDINARY = """\
Wrote 3 rows to out/report.csv (see https://example.com/docs?page=2#top).
Contact bob@example.com; the task-abcdefghijklmnopqrstuvwxyz id is unchanged.
max_tokens=500, input_tokens: 120, token_count: 7
Password:
  pick one at https://example.com:8443/reset
RESULT: {"path": "answer.txt", "items": 3}
fix(auth): rotate the token on refresh; session: keep-alive (#4312)
Merge pull request #42 from acme/feature/password-reset-flow
docs: how to assess=3 risks; process=4 rows; the session moved
See https://medium.com/@ana/notes and https://example.com:8443/@team and http://localhost:8080/a?to=b@c.org
ssh://git@github.com:acme/app.git, mailto:ops@example.com, C:\\Users\\bob\\"quoted"\\path
{"eyJ": "not a token", "key": "-----BEGIN PUBLIC KEY-----", "n": 1e3}
Keys start with AIza or sk_live_; the rk_live_mode flag; AccountName=acme; it's 'quoted' and 'it''s' too
"""


def test_ordinary_text_is_untouched() -> None:
    assert scrub(ORDINARY) == ORDINARY


def test_scrubbed_text_always_encodes_as_utf8() -> None:
    assert scrub("a\ud800b \ud83d\ude00") == "a\ufffdb \U0001f600"


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


def test_a_configured_secret_with_quotes_and_backslashes_is_masked_in_every_escaped_form() -> None:
    secret = 'pa"ss\\w0rd'
    forms = {
        "raw": f"key is {secret}",
        "json": json.dumps({"key": secret}),
        "json in json": json.dumps({"args": json.dumps({"key": secret})}),
        "repr": f"error: { ({'key': secret})!r}",
    }
    for name, text in forms.items():
        out = scrub(text, [secret])
        assert "pa" not in out and "w0rd" not in out, name
        assert "***" in out, name


# Text a feed, a file or a model can send: quotes, escapes, control characters, NULs, lone
# surrogates, line separators, secrets half-escaped, and shapes that make naive patterns slow.
HOSTILE = [
    'password=\\"x\\"',
    'token: \\\\"abc\\\\\\"',
    '"password": "unterminated',
    "password=\\",
    "\\" * 50,
    '\\"' * 20,
    "\x00\x01\x1f\x7f\x85\u2028\u2029",
    "a\ud800b\udfffc",
    "\ud83d\ude00 pair of surrogates",
    'https://user:p\\"w@host',
    "redis://:@host",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----***",
    "-----BEGIN RSA PRIVATE KEY-----\\n-----END RSA PRIVATE KEY-----",
    'session=;sid=""',
    'Authorization: Bearer \\"' + "x" * 20,
    "eyJ" + "a" * 20 + "." + "b" * 20 + ".\\",
    "sk-" + "\\" * 20,
]


def _random_hostile(count: int, seed: int = 10) -> list[str]:
    rng = random.Random(seed)
    pieces = [
        "\\",
        '"',
        "'",
        "\x00",
        "\n",
        "\ud800",
        "\u2028",
        ":",
        "=",
        "@",
        "/",
        "#",
        " ",
        "{",
        "}",
        "password",
        "token",
        "session",
        "api_key",
        "https://",
        "u:p@h",
        "-----BEGIN PRIVATE KEY-----",
        "eyJhbGciOiJIUzI1NiJ9.",
        "sk-abcdefghijklmnopqrstuvwx",
        "hooks.slack.com/services/",
        "x",
        "42",
    ]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(count)]


def test_scrubbing_twice_changes_nothing_more() -> None:
    for text in [t for t, _, _ in PLANTED] + HOSTILE + [ORDINARY] + _random_hostile(2000):
        once = scrub(text, ["hunter22", 'pa"ss'])
        assert scrub(once, ["hunter22", 'pa"ss']) == once, repr(text)


@pytest.mark.parametrize(
    "text",
    [
        "\\" * 200_000,
        'password: "' * 20_000,
        'password=\\"x' * 20_000,
        "a://b:" * 20_000,
        "a." * 100_000,
        "-----BEGIN PRIVATE KEY-----" * 5_000,
        "a_session=" * 20_000,
        "http://a:b" + "@b" * 50_000,
        "password: '" + "'" * 100_000,
    ],
    ids=[
        "backslashes",
        "open-quotes",
        "open-escaped",
        "schemes",
        "dots",
        "pem-begins",
        "cookies",
        "ats",
        "doubled-quotes",
    ],
)
def test_scrubbing_hostile_text_takes_linear_time(text: str) -> None:
    # Quadratic patterns take minutes on these; linear ones a fraction of a second.
    started = time.perf_counter()
    scrub(text)
    assert time.perf_counter() - started < 3


def test_scrub_json_scrubs_every_string_and_always_encodes() -> None:
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    value = {
        "api_key=sk-abcdefghijklmnopqrstuvwx": ['password=\\"x\\"', ("hunter22",)],
        3: {"n": float("nan"), "big": 10**5000, "inf": float("-inf"), "ok": 1.5, "b": True, "none": None},
        "lone": "a\ud800b",
        "object": Path("/tmp/x"),
        "deep": deep,
    }
    out = scrub_json(value, ["hunter22"])
    line = json.dumps(out, ensure_ascii=False, allow_nan=False)
    line.encode("utf-8")  # no lone surrogate left
    assert json.loads(line) == out
    assert "sk-abc" not in line and "hunter22" not in line and 'password=\\\\\\"***\\\\\\"' in line
    assert out["3"]["n"] == "nan" and out["3"]["inf"] == "-inf" and out["3"]["ok"] == 1.5
    assert out["3"]["big"].startswith("<integer of ") and out["3"]["b"] is True
    assert out["lone"] == "a\ufffdb" and out["object"] == "/tmp/x"
    assert "nested deeper than 100 levels" in line


def test_the_shortcut_for_text_without_a_trigger_word_masks_exactly_what_the_patterns_do(monkeypatch) -> None:
    # Text without any trigger word skips the patterns; were a trigger missing for one of them,
    # a secret of that shape would go through unmasked. Every pattern run on every text must
    # give the same result.
    import re

    from agentjobs.agent import scrub as module

    texts = [t for t, _, _ in PLANTED] + HOSTILE + [ORDINARY] + _random_hostile(3000, seed=22)
    secrets = ["hunter22", 'pa"ss']
    fast = [scrub(t, secrets) for t in texts]
    monkeypatch.setattr(module, "_TRIGGERS", re.compile(""))  # matches everything: no shortcut
    assert [scrub(t, secrets) for t in texts] == fast


def test_scrub_json_remembers_short_strings_per_set_of_secrets() -> None:
    # The same string in two runs with different secrets is masked by each run's own secrets.
    event = {"result": "the key hunter22 and pa55word-x", "again": "the key hunter22 and pa55word-x"}
    assert scrub_json(event, ["hunter22"]) == {"result": "the key *** and pa55word-x"} | {
        "again": "the key *** and pa55word-x"
    }
    assert scrub_json(event, ["pa55word-x"])["result"] == "the key hunter22 and ***"
    assert scrub_json(event)["result"] == "the key hunter22 and pa55word-x"


def test_json_line_writes_exactly_what_scrubbing_every_string_writes() -> None:
    # json_line writes an event as it is when its JSON text shows nothing maskable; were that
    # check to miss a shape, a secret would reach the transcript. Every hostile string, as a key,
    # a value and inside a quoted document, gives the line scrub_json would have given.
    from agentjobs.agent.scrub import json_line

    folded = ["pa\u017f\u017fword=abcdefg-x", "api_\u212aey: abcdefgh", "\u0130d_token=x", "SESSION\tid=abc"]
    separated = ['password\t= "x"', 'token\\\\\\"   : y', "passw" + "\\" * 7 + "'=z", "sid=1", "key : 2"]
    texts = (
        [t for t, _, _ in PLANTED] + HOSTILE + [ORDINARY] + folded + separated + _random_hostile(3000, seed=7)
    )
    secrets = ["hunter22", 'pa"ss']
    for text in texts:
        for value in (
            {"event": "tool", "result": text, "n": 1},
            {"event": "tool", text: [text, {"k": text}]},
            {"event": "completion", "arguments": json.dumps({"q": text})},
        ):
            expected = json.dumps(scrub_json(value, secrets), ensure_ascii=False, allow_nan=False)
            assert json_line(value, secrets) == expected, repr(text)


def test_json_line_with_a_member_already_encoded_writes_what_scrubbing_every_string_writes() -> None:
    # The agent loop hands the transcript the reply's JSON text it made for the surrogate check;
    # spliced into the line, it must be checked and scrubbed like any other member.
    from agentjobs.agent.scrub import json_line
    from agentjobs.agent.unicode_text import json_text

    texts = [t for t, _, _ in PLANTED] + HOSTILE + [ORDINARY] + _random_hostile(1000, seed=11)
    secrets = ["hunter22", 'pa"ss']
    for text in texts:
        response = {"choices": [{"message": {"content": text, "tool_calls": [{"arguments": text}]}}], text: 1}
        for value in (
            {"event": "completion", "ts": 1.5, "max_tokens": 9, "response": response},
            {"response": response},
        ):
            encoded = json_text(response)
            assert encoded is not None
            expected = json.dumps(scrub_json(value, secrets), ensure_ascii=False, allow_nan=False)
            assert json_line(value, secrets, encoded={"response": encoded}) == expected, repr(text)


def test_json_line_takes_the_careful_path_for_what_json_cannot_hold_exactly() -> None:
    from agentjobs.agent.scrub import json_line

    deep: list = []
    for _ in range(150):
        deep = [deep]
    for value in ({"big": 10**5000}, {"nan": float("nan")}, {"path": Path("/tmp/x")}, {"deep": deep}):
        assert json_line(value) == json.dumps(scrub_json(value), ensure_ascii=False, allow_nan=False)


def test_json_line_scrubs_every_github_and_slack_token_prefix() -> None:
    # could_mask spells `gh[pousr]_` and `xox[abprs]-` out as substrings: a letter left out of
    # either list would let that token reach the transcript as it is.
    from agentjobs.agent.scrub import json_line

    tokens = [f"gh{c}_" + "a1B2" * 9 for c in "pousr"] + [f"xox{c}-1234567890-AbCdEf" for c in "abprs"]
    for token in tokens:
        line = json_line({"event": "tool", "result": f"the output: {token} (end)"})
        assert token[:4] not in line, line
        assert json.loads(line)["result"] == "the output: *** (end)"
