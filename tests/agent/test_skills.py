from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentjobs.agent.errors import SkillError
from agentjobs.agent.skills import Skill, load_skill, model_from_json_schema

REPO_SKILLS = Path(__file__).resolve().parents[2] / "include" / "skills"

GOOD_FRONTMATTER = """\
name: report
description: Build the weekly report.
allowed_tools: [read_file, write_file]
write_allowlist: ["out/*.csv", report.md]
mode: structured
empty_field: rows
result_schema:
  type: object
  required: [path, rows]
  properties:
    path: {type: string}
    rows: {type: integer, minimum: 0}
"""


def write_skill(root: Path, folder: str, frontmatter: str | None, body: str = "Do the work.\n") -> Path:
    path = root / folder / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = body if frontmatter is None else f"---\n{textwrap.dedent(frontmatter)}---\n{body}"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(root: Path, frontmatter: str | None, body: str = "Do the work.\n", folder: str = "s") -> str:
    path = write_skill(root, folder, frontmatter, body)
    with pytest.raises(SkillError) as info:
        load_skill(folder, root)
    message = str(info.value)
    assert str(path) in message  # every loader error names the file
    return message


# --- good skills -------------------------------------------------------------------------------


def test_good_skill_round_trip(tmp_path: Path) -> None:
    path = write_skill(tmp_path, "report", GOOD_FRONTMATTER, "# Report\n\nSteps.\n\n")
    skill = load_skill("report", tmp_path)
    assert skill == Skill(
        name="report",
        description="Build the weekly report.",
        instructions="# Report\n\nSteps.",
        path=path,
        allowed_tools=("read_file", "write_file"),
        write_allowlist=("out/*.csv", "report.md"),
        result_schema={
            "type": "object",
            "required": ["path", "rows"],
            "properties": {"path": {"type": "string"}, "rows": {"type": "integer", "minimum": 0}},
        },
        mode="structured",
        empty_field="rows",
    )
    model = skill.result_model()
    assert model is skill.result_model()  # cached
    assert model.model_validate({"path": "out/a.csv", "rows": 2}).model_dump() == {
        "path": "out/a.csv",
        "rows": 2,
    }
    # Loading by folder or by file path, relative to the skills folder, gives the same skill.
    assert load_skill(Path("report"), tmp_path) == skill
    assert load_skill(Path("report") / "SKILL.md", tmp_path) == skill
    assert load_skill("report/SKILL.md", tmp_path) == skill
    hash(skill)  # usable as a dict key / in sets despite the dict field


def test_defaults(tmp_path: Path) -> None:
    write_skill(tmp_path, "plain", "name: plain\ndescription: Plain.\n")
    skill = load_skill("plain", tmp_path)
    assert skill.allowed_tools is None
    assert skill.write_allowlist == ()
    assert skill.result_schema == {"type": "object"}
    assert skill.mode == "loop"
    assert skill.empty_field is None
    # The default schema accepts any object.
    assert skill.result_model().model_validate({"a": 1, "b": [2]}).model_dump() == {"a": 1, "b": [2]}


def test_echo_skill_from_include() -> None:
    skill = load_skill("echo", REPO_SKILLS)
    assert skill.name == "echo"
    assert skill.mode == "loop"
    assert skill.allowed_tools == ("read_file", "list_files", "write_file")
    assert skill.write_allowlist == ("answer.txt",)
    assert skill.empty_field == "items"
    assert "answer.txt" in skill.instructions
    model = skill.result_model()
    assert model.model_validate({"path": "answer.txt", "items": 0}).items == 0  # type: ignore[attr-defined]
    for bad in ({"path": "answer.txt", "items": -1}, {"path": "answer.txt"}, {"items": 1}):
        with pytest.raises(ValidationError):
            model.model_validate(bad)


def test_skills_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_skill(tmp_path, "plain", "name: plain\ndescription: Plain.\n")
    monkeypatch.setenv("AGENTJOBS_SKILLS_DIR", str(tmp_path))
    assert load_skill("plain").name == "plain"


# --- loader errors -----------------------------------------------------------------------------


def test_missing_skill_names_dir_and_lists_available(tmp_path: Path) -> None:
    write_skill(tmp_path, "alpha", "name: alpha\ndescription: A.\n")
    write_skill(tmp_path, "beta", "name: beta\ndescription: B.\n")
    with pytest.raises(SkillError) as info:
        load_skill("gamma", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "gamma" / "SKILL.md") in message
    assert f"Searched {tmp_path}" in message
    assert "alpha, beta" in message


def test_missing_skills_dir_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SkillError, match="does not exist"):
        load_skill("alpha", tmp_path / "nowhere")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SkillError, match="does not exist"):
        load_skill("nope/SKILL.md", tmp_path)


# A skill granting every write, planted beside the skills folder: only the folder's own skills load.
PLANTED = "name: planted\ndescription: x\nwrite_allowlist: ['*']\n"


@pytest.mark.parametrize("how", ["absolute", "absolute-path", "dotdot", "dotdot-file", "home"])
def test_a_skill_outside_the_skills_folder_is_refused(tmp_path: Path, how: str) -> None:
    skills = tmp_path / "skills"
    skills.mkdir()
    planted = write_skill(tmp_path, "planted", PLANTED)
    name_or_path: str | Path = {
        "absolute": str(planted.parent),
        "absolute-path": planted,
        "dotdot": "../planted",
        "dotdot-file": Path("..") / "planted" / "SKILL.md",
        "home": "~/planted",
    }[how]
    with pytest.raises(SkillError) as info:
        load_skill(name_or_path, skills)
    assert f"is not inside the skills folder {skills}: no absolute paths and no '..'" in str(info.value)


def test_a_symlink_out_of_the_skills_folder_is_refused(tmp_path: Path) -> None:
    skills = tmp_path / "skills"
    skills.mkdir()
    planted = write_skill(tmp_path, "planted", PLANTED)
    (skills / "planted").symlink_to(planted.parent, target_is_directory=True)
    write_skill(tmp_path / "real", "inner", "name: inner\ndescription: In.\n")
    (skills / "inner").symlink_to(tmp_path / "real" / "inner", target_is_directory=True)
    for name_or_path in ("planted", "planted/SKILL.md", "inner"):
        with pytest.raises(SkillError, match=r"outside the skills folder .* \(a symlink\)"):
            load_skill(name_or_path, skills)
    # A link inside the folder to another skill of it is fine.
    write_skill(skills, "plain", "name: plain\ndescription: P.\n")
    (skills / "alias").symlink_to(skills / "plain", target_is_directory=True)
    assert load_skill("alias/SKILL.md", skills).name == "plain"


def test_a_skill_name_with_a_trailing_newline_is_no_skill_name(tmp_path: Path) -> None:
    write_skill(tmp_path, "plain", "name: plain\ndescription: P.\n")
    with pytest.raises(SkillError, match="does not exist"):
        load_skill("plain\n", tmp_path)
    message = load_error(tmp_path, 'name: "s\\n"\ndescription: S.\n')  # "s" and a newline
    assert "'name' must be lower-case letters" in message


def test_a_frontmatter_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    # A second write_allowlist below the first would widen the skill unseen.
    frontmatter = "name: s\ndescription: S.\nwrite_allowlist: [a.md]\nmode: loop\nwrite_allowlist: ['*']\n"
    message = load_error(tmp_path, frontmatter)
    assert "key 'write_allowlist' is given twice, on line 4 and on line 6" in message


def test_no_frontmatter(tmp_path: Path) -> None:
    assert "no YAML frontmatter" in load_error(tmp_path, None, "# Just markdown\n")


def test_unclosed_frontmatter(tmp_path: Path) -> None:
    path = tmp_path / "s" / "SKILL.md"
    path.parent.mkdir()
    path.write_text("---\nname: s\ndescription: S.\nbody\n", encoding="utf-8")
    with pytest.raises(SkillError, match="never closed"):
        load_skill("s", tmp_path)


def test_bad_yaml_reports_line(tmp_path: Path) -> None:
    # File line 1 is '---', so the bad third frontmatter line is line 4 of the file.
    message = load_error(tmp_path, "name: s\ndescription: S.\nmode: a: b\n")
    assert "invalid YAML in the frontmatter on line 4" in message


def test_frontmatter_must_be_mapping(tmp_path: Path) -> None:
    assert "YAML mapping" in load_error(tmp_path, "- name\n- description\n")


@pytest.mark.parametrize(
    ("frontmatter", "needle"),
    [
        ("description: S.\n", "'name'"),
        ("name: Bad_Name\ndescription: S.\n", "'name'"),
        ("name: s\n", "'description'"),
        ("name: s\ndescription: '  '\n", "'description'"),
        ("name: s\ndescription: S.\nallowed_tools: read_file\n", "'allowed_tools' must be a list"),
        ("name: s\ndescription: S.\nallowed_tools: [1]\n", "'allowed_tools' must be a list"),
        ("name: s\ndescription: S.\nmode: chat\n", "'mode' must be one of loop, structured"),
        ("name: s\ndescription: S.\nresult_schema: [1]\n", "'result_schema' must be a mapping"),
    ],
)
def test_missing_or_invalid_field(tmp_path: Path, frontmatter: str, needle: str) -> None:
    assert needle in load_error(tmp_path, frontmatter)


def test_name_must_match_folder(tmp_path: Path) -> None:
    message = load_error(tmp_path, "name: other\ndescription: S.\n", folder="s")
    assert "'other'" in message
    assert "'s'" in message


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    message = load_error(tmp_path, "name: s\ndescription: S.\ntools: [a]\n")
    assert "unknown frontmatter key(s) tools" in message
    assert "allowed_tools" in message
    assert "write_allowlist" in message


@pytest.mark.parametrize("entry", ["/etc/passwd", "../outside.txt", "out/../../x", "C:\\\\temp\\\\x", "~/x"])
def test_bad_write_allowlist(tmp_path: Path, entry: str) -> None:
    message = load_error(tmp_path, f'name: s\ndescription: S.\nwrite_allowlist: ["{entry}"]\n')
    assert "write_allowlist entry" in message


def test_http_allowlist_holds_hosts_as_http_get_matches_them(tmp_path: Path) -> None:
    hosts = '[api.example.com, "*.example.org", 127.0.0.1, "[::1]", bücher.de]'
    write_skill(tmp_path, "s", f"name: s\ndescription: S.\nhttp_allowlist: {hosts}\n")
    skill = load_skill("s", tmp_path)
    assert skill.http_allowlist == ("api.example.com", "*.example.org", "127.0.0.1", "::1", "bücher.de")
    write_skill(tmp_path, "quiet", "name: quiet\ndescription: S.\n")
    assert load_skill("quiet", tmp_path).http_allowlist == ()  # default: no HTTP


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("https://api.example.com/v1", "is a URL; the allowlist holds hosts (any port and path): write 'api"),
        ("http://127.0.0.1:8080", "write '127.0.0.1'"),
        ("ftp://files.example.com", "is not a host"),
        ("api.example.com:443", "has a port"),
        ("user@api.example.com", "is not a host"),
        ("*", "is not a host name"),
        ("*.com", "every host of a top-level domain"),
        ("api.*.example.com", "is not a host name"),
        ("exa mple.com", "is not a host name"),
        ("-bad.example.com", "is not a host name"),
    ],
)
def test_bad_http_allowlist(tmp_path: Path, entry: str, says: str) -> None:
    message = load_error(tmp_path, f'name: s\ndescription: S.\nhttp_allowlist: ["{entry}"]\n')
    assert f"http_allowlist entry {entry!r} " in message and says in message


def test_write_allowlist_must_be_list(tmp_path: Path) -> None:
    assert "'write_allowlist' must be a list" in load_error(
        tmp_path, "name: s\ndescription: S.\nwrite_allowlist: out/*.csv\n"
    )


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ("{type: object, properties: {a: {$ref: '#/x'}}}", "'$ref'"),
        ("{type: object, properties: {a: {oneOf: [{type: string}]}}}", "'oneOf'"),
        ("{type: array}", "type: object"),
        ("{type: object, properties: {a: {type: integer, minLength: 1}}}", "'minLength' does not apply"),
        ("{type: object, properties: {a: {type: strin}}}", "unknown type 'strin'"),
        ("{type: object, required: [b], properties: {a: {type: string}}}", "'required' lists b"),
        (
            "{type: object, additionalProperties: {type: string}}",
            "'additionalProperties' must be true or false",
        ),
        ("{type: object, properties: {a: {type: string, pattern: '(' }}}", "invalid pattern"),
    ],
)
def test_bad_result_schema(tmp_path: Path, schema: str, needle: str) -> None:
    message = load_error(tmp_path, f"name: s\ndescription: S.\nresult_schema: {schema}\n")
    assert "bad result_schema" in message
    assert needle in message


def test_empty_body(tmp_path: Path) -> None:
    assert "instructions after the frontmatter are empty" in load_error(
        tmp_path, "name: s\ndescription: S.\n", body="\n  \n"
    )


@pytest.mark.parametrize(
    "schema",
    [
        "{type: object, properties: {rows: {type: string}}}",
        "{type: object, properties: {count: {type: integer}}}",
        "{type: object}",
    ],
)
def test_empty_field_must_be_integer_property(tmp_path: Path, schema: str) -> None:
    message = load_error(tmp_path, f"name: s\ndescription: S.\nempty_field: rows\nresult_schema: {schema}\n")
    assert "'empty_field' 'rows'" in message


# --- model_from_json_schema --------------------------------------------------------------------


def valid(model: type, value: dict) -> bool:
    try:
        model.model_validate(value)
    except ValidationError:
        return False
    return True


def test_integers_and_booleans_are_strict() -> None:
    model = model_from_json_schema(
        {"type": "object", "properties": {"n": {"type": "integer"}, "b": {"type": "boolean"}}}
    )
    assert valid(model, {"n": 3, "b": True})
    for bad in ({"n": "3"}, {"n": 3.0}, {"n": True}, {"b": 1}, {"b": "true"}):
        assert not valid(model, bad), bad


def test_numbers_take_ints_and_floats_not_strings() -> None:
    model = model_from_json_schema({"type": "object", "properties": {"x": {"type": "number"}}})
    assert valid(model, {"x": 3}) and valid(model, {"x": 3.5})
    assert not valid(model, {"x": "3.5"})
    assert not valid(model, {"x": False})


def test_strings_are_strict() -> None:
    model = model_from_json_schema({"type": "object", "properties": {"s": {"type": "string"}}})
    assert not valid(model, {"s": 3})


def test_extra_fields_forbidden_by_default() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert not valid(model_from_json_schema(schema), {"a": "x", "b": 1})
    assert not valid(model_from_json_schema({**schema, "additionalProperties": False}), {"a": "x", "b": 1})
    assert valid(model_from_json_schema({**schema, "additionalProperties": True}), {"a": "x", "b": 1})
    assert not valid(model_from_json_schema({"type": "object", "additionalProperties": False}), {"b": 1})


def test_required_and_optional() -> None:
    model = model_from_json_schema(
        {
            "type": "object",
            "required": ["a"],
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "integer"},
                "c": {"type": ["string", "null"]},
            },
        }
    )
    assert not valid(model, {})
    assert model.model_validate({"a": "x"}).model_dump() == {"a": "x", "b": None, "c": None}
    assert not valid(model, {"a": "x", "b": None})  # b may be omitted but is not nullable
    assert valid(model, {"a": "x", "c": None})


def test_nested_objects_and_arrays() -> None:
    model = model_from_json_schema(
        {
            "type": "object",
            "required": ["files"],
            "properties": {
                "files": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 2,
                    "items": {
                        "type": "object",
                        "required": ["path"],
                        "properties": {"path": {"type": "string"}, "size": {"type": "integer"}},
                    },
                },
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    )
    assert valid(model, {"files": [{"path": "a", "size": 1}], "tags": ["x"]})
    assert not valid(model, {"files": []})
    assert not valid(model, {"files": [{"path": "a"}] * 3})
    assert not valid(model, {"files": [{"path": "a", "extra": 1}]})  # nested objects are strict too
    assert not valid(model, {"files": [{"size": 1}]})
    assert not valid(model, {"files": [{"path": "a"}], "tags": [1]})
    assert not valid(model, {"files": {"path": "a"}})


def test_enum() -> None:
    model = model_from_json_schema({"type": "object", "properties": {"level": {"enum": ["low", "high", 1]}}})
    assert valid(model, {"level": "low"}) and valid(model, {"level": 1})
    for bad in ("mid", True, 1.0, "1"):
        assert not valid(model, {"level": bad}), bad


def test_constraints() -> None:
    model = model_from_json_schema(
        {
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": 1, "maximum": 5},
                "x": {"type": "number", "exclusiveMinimum": 0},
                "s": {"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-z]+$"},
            },
        }
    )
    assert valid(model, {"n": 1, "x": 0.1, "s": "ab"})
    for bad in ({"n": 0}, {"n": 6}, {"x": 0}, {"s": "a"}, {"s": "abcd"}, {"s": "AB"}):
        assert not valid(model, bad), bad


def test_property_names_that_are_not_python_identifiers() -> None:
    model = model_from_json_schema(
        {"type": "object", "properties": {"class": {"type": "string"}, "json": {"type": "integer"}}}
    )
    assert model.model_validate({"class": "a", "json": 1}).model_dump() == {"class": "a", "json": 1}


@pytest.mark.parametrize("keyword", ["$ref", "oneOf", "anyOf", "allOf", "format", "const"])
def test_unsupported_keyword_is_named(keyword: str) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", keyword: "x"}}}
    with pytest.raises(SkillError) as info:
        model_from_json_schema(schema)
    assert f"result_schema.a: unsupported keyword {keyword!r}" in str(info.value)


def test_top_level_must_be_object() -> None:
    with pytest.raises(SkillError, match="type: object"):
        model_from_json_schema({"type": "string"})


def test_an_agent_written_in_a_dag_gets_a_skill_of_its_system_prompt_and_nothing_more() -> None:
    from agentjobs.agent.skills import INLINE_INSTRUCTIONS, inline_skill

    skill = inline_skill("Triage_Invoices", "  You triage invoices.\n")
    assert skill.name == "triage-invoices" and skill.instructions == "You triage invoices."
    # No folder behind it: no write target, no HTTP host, any object as its default contract.
    assert skill.write_allowlist == () and skill.http_allowlist == () and skill.allow_urls == ()
    assert skill.mode == "loop" and skill.result_schema == {"type": "object"}
    assert inline_skill("t", None).instructions == INLINE_INSTRUCTIONS
    assert inline_skill("__", "x").name == "agent"
