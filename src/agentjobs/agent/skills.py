"""Skill loader: a skill is a folder holding a SKILL.md file.

SKILL.md starts with YAML frontmatter between two `---` lines, followed by the markdown
instructions given to the model:

    ---
    name: echo
    description: Write answer.txt and report how many items it holds.
    allowed_tools: [read_file, list_files, write_file]   # optional; absent = every registered tool
    write_allowlist: [answer.txt]                         # optional; globs relative to the work dir
    http_allowlist: [api.example.com, "*.example.org"]    # optional; hosts http_get may reach
    allow_urls: [https://api.example.com/v1/companies/]   # optional; URL prefixes (http_policy.py)
    mode: loop                                            # optional; loop | structured
    empty_field: items                                    # optional; integer result field counting items
    result_schema:                                        # optional; JSON Schema of the RESULT object
      type: object
      required: [path, items]
      properties:
        path: {type: string}
        items: {type: integer, minimum: 0}
    ---
    # Echo
    ...instructions...

Loading fails early with a SkillError naming the file, the problem and the fix: a DAG author
should see a bad skill at parse or first-try time, not after a paid model run.
"""

from __future__ import annotations

import copy
import ipaddress
import keyword
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from agentjobs.agent.errors import SkillError
from agentjobs.agent.skill_names import NAME_RE as NAME_RE
from agentjobs.agent.skill_names import SKILLS_DIR_ENV as SKILLS_DIR_ENV
from agentjobs.agent.unique_yaml import load_unique

SKILL_FILE = "SKILL.md"
MODES = ("loop", "structured")
ALLOWED_KEYS = (
    "name",
    "description",
    "allowed_tools",
    "write_allowlist",
    "http_allowlist",
    "allow_urls",
    "result_schema",
    "mode",
    "empty_field",
)


@dataclass(frozen=True)
class Skill:
    """A validated skill; build it with load_skill() so its fields have been checked."""

    name: str
    description: str
    instructions: str  # markdown body after the frontmatter
    path: Path  # the SKILL.md file
    allowed_tools: tuple[str, ...] | None = None  # None = every registered tool
    write_allowlist: tuple[str, ...] = ()  # globs relative to the run's work dir
    # Hosts http_get may reach ('api.example.com', '*.example.com' for subdomains, an IP); empty:
    # no HTTP. The one place it is set, so it travels with the instructions that need it.
    http_allowlist: tuple[str, ...] = ()
    # URL prefixes http_get may fetch (normalized by http_policy.check_allow_url); JSON answers
    # only, at most the default cap. A job's spec may add its own (RunPlan.http_policy).
    allow_urls: tuple[str, ...] = ()
    # JSON Schema of the RESULT object; the default accepts any object. hash=False because a dict
    # cannot be hashed and a skill is identified by its other fields anyway.
    result_schema: dict = field(default_factory=lambda: {"type": "object"}, hash=False)
    mode: Literal["loop", "structured"] = "loop"
    empty_field: str | None = None  # integer result field that counts items (allow_empty checks)

    def result_model(self) -> type[BaseModel]:
        """The pydantic model of the RESULT, built from result_schema once per Skill."""
        cached = self.__dict__.get("_result_model")
        if cached is None:
            cached = model_from_json_schema(self.result_schema, _model_name(self.name))
            # The dataclass is frozen; the cache is not a field, so equality and hashing ignore it.
            object.__setattr__(self, "_result_model", cached)
        return cached


# What a run without a skill folder is told when its DAG author gave no system prompt.
INLINE_INSTRUCTIONS = "Do the task the user gives you, using the tools offered where they help."


def inline_skill(name: str, system_prompt: str | None = None) -> Skill:
    """The skill of a run written in a DAG rather than in a skill folder: its instructions are
    the DAG author's system prompt, its contract the run's output type (RunPlan.output_type), its
    tools what the author hands the run. No folder, so nothing is read and nothing is allowed
    beyond what the run names: no write target and no HTTP host."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "agent"
    instructions = (system_prompt or "").strip() or INLINE_INSTRUCTIONS
    return Skill(
        name=slug,
        description=f"The agent task {name}, written in its DAG.",
        instructions=instructions,
        path=Path(f"<{slug}>"),  # no SKILL.md: named in messages only
    )


def default_skills_dir() -> Path:
    """$AGENTJOBS_SKILLS_DIR, else ./include/skills (the Airflow project layout's include folder)."""
    return Path(os.environ.get(SKILLS_DIR_ENV) or Path.cwd() / "include" / "skills")


def load_skill(name_or_path: str | Path, skills_dir: Path | None = None) -> Skill:
    """Load a skill of the skills folder: by name (skills_dir/<name>/SKILL.md), or by a path
    relative to that folder (`<name>` or `<name>/SKILL.md`).

    Nothing outside the folder is read, as a job spec's `skill` can name nothing outside it:
    an absolute path, a `..` and a symlink that resolves outside are refused (SkillError).
    """
    base = Path(skills_dir) if skills_dir is not None else default_skills_dir()
    by_name = isinstance(name_or_path, str) and NAME_RE.fullmatch(name_or_path) is not None
    path = _path_in_skills_dir(base, name_or_path)
    if by_name or path.is_dir():
        path = path / SKILL_FILE
    if not path.is_file():
        if by_name:
            raise SkillError(
                f"skill {name_or_path!r} not found: no {path}. Searched {base}; "
                f"{_describe_available(base)}. Create {path} or use one of the listed names."
            )
        raise SkillError(
            f"skill file {path} does not exist; pass a skill name, or a skill folder or its "
            f"{SKILL_FILE} relative to the skills folder {base}."
        )
    if not path.resolve().is_relative_to(base.resolve()):
        raise SkillError(
            f"{path} resolves to {path.resolve()}, outside the skills folder {base} (a symlink); "
            "put the skill itself in the skills folder."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillError(f"{path}: cannot read the skill file ({exc}); save it as UTF-8 text.") from exc

    meta, body = _split_frontmatter(path, text)
    return _build_skill(path, meta, body, expected_name=str(name_or_path) if by_name else None)


def _path_in_skills_dir(base: Path, name_or_path: str | Path) -> Path:
    """`base / name_or_path`, refusing what would step out of `base` by its spelling alone."""
    relative = str(name_or_path)
    if (
        PurePosixPath(relative).is_absolute()
        or PureWindowsPath(relative).is_absolute()
        or PureWindowsPath(relative).drive
        or relative.startswith("~")
        or ".." in PurePosixPath(relative.replace("\\", "/")).parts
    ):
        raise SkillError(
            f"skill {relative!r} is not inside the skills folder {base}: no absolute paths and no '..'; "
            "pass a skill name (a folder of the skills folder) or a path relative to it."
        )
    return base / relative


def _describe_available(base: Path) -> str:
    if not base.is_dir():
        return "that directory does not exist (set skills_dir or $" + SKILLS_DIR_ENV + ")"
    names = sorted(p.parent.name for p in base.glob(f"*/{SKILL_FILE}"))
    return "skills found there: " + (", ".join(names) if names else "none")


def _split_frontmatter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise SkillError(
            f"{path}: no YAML frontmatter; the file must start with a line '---', then "
            f"'name: ...' and 'description: ...', then a closing '---' line before the instructions."
        )
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise SkillError(f"{path}: the frontmatter opened on line 1 is never closed; add a '---' line.")
    try:
        # A second `write_allowlist:` below the first must not widen a skill unseen.
        meta = load_unique("\n".join(lines[1:end]), line_offset=1)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # +2: the YAML text starts on the file's second line and marks count from 0.
        where = f" on line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SkillError(f"{path}: invalid YAML in the frontmatter{where}: {problem}; fix it.") from exc
    if not isinstance(meta, dict):
        raise SkillError(
            f"{path}: the frontmatter must be a YAML mapping with at least 'name' and 'description', "
            f"got {type(meta).__name__}."
        )
    return meta, "\n".join(lines[end + 1 :]).strip()


def _build_skill(path: Path, meta: dict[str, Any], body: str, expected_name: str | None) -> Skill:
    def fail(problem: str) -> SkillError:
        return SkillError(f"{path}: {problem}")

    unknown = sorted(str(k) for k in meta if k not in ALLOWED_KEYS)
    if unknown:
        raise fail(f"unknown frontmatter key(s) {', '.join(unknown)}; allowed: {', '.join(ALLOWED_KEYS)}.")

    name = meta.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise fail(
            f"'name' must be lower-case letters, digits and dashes (^[a-z0-9][a-z0-9-]*$), got {name!r}."
        )
    if expected_name is not None and name != expected_name:
        raise fail(f"'name' is {name!r} but the folder is {expected_name!r}; make them equal.")
    description = meta.get("description")
    if not isinstance(description, str) or not description.strip():
        raise fail("'description' must be a non-empty string saying what the skill does.")

    allowed_tools = meta.get("allowed_tools")
    if allowed_tools is not None:
        allowed_tools = _str_list(allowed_tools, "allowed_tools", fail)
    write_allowlist = _str_list(meta.get("write_allowlist", []), "write_allowlist", fail)
    for pattern in write_allowlist:
        parts = re.split(r"[\\/]", pattern)
        if PurePosixPath(pattern).is_absolute() or PureWindowsPath(pattern).is_absolute() or ".." in parts:
            raise fail(
                f"write_allowlist entry {pattern!r} must be relative to the work dir and must not "
                f"contain '..'; write e.g. 'out/*.csv'."
            )
        if pattern.startswith(("~", "\\")) or PureWindowsPath(pattern).drive:
            raise fail(f"write_allowlist entry {pattern!r} must be a plain relative glob like 'out/*.csv'.")

    hosts: list[str] = []
    for entry in _str_list(meta.get("http_allowlist", []), "http_allowlist", fail):
        try:
            hosts.append(_http_allowlist_entry(entry))
        except ValueError as exc:
            raise fail(f"http_allowlist entry {entry!r} {exc}.") from None
    http_allowlist = tuple(hosts)
    # Here, not at the top: http_policy brings guarded_http (~2 ms), which a DAG parse, importing
    # this module for its names only, does not need.
    from agentjobs.agent.http_policy import check_allow_url

    prefixes: list[str] = []
    for entry in _str_list(meta.get("allow_urls", []), "allow_urls", fail):
        try:
            prefixes.append(check_allow_url(entry))
        except ValueError as exc:
            raise fail(f"allow_urls entry: {exc}.") from None

    mode = meta.get("mode", "loop")
    if mode not in MODES:
        raise fail(f"'mode' must be one of {', '.join(MODES)}, got {mode!r}.")

    result_schema = meta.get("result_schema", {"type": "object"})
    if not isinstance(result_schema, Mapping):
        raise fail("'result_schema' must be a mapping holding a JSON Schema with 'type: object'.")
    result_schema = copy.deepcopy(dict(result_schema))  # the frozen Skill must not share caller state
    try:
        model = model_from_json_schema(result_schema, _model_name(name))
    except SkillError as exc:
        raise fail(f"bad result_schema: {exc}") from exc

    empty_field = meta.get("empty_field")
    if empty_field is not None:
        prop = result_schema.get("properties", {}).get(empty_field) if isinstance(empty_field, str) else None
        if not isinstance(prop, Mapping) or prop.get("type") != "integer":
            raise fail(
                f"'empty_field' {empty_field!r} must name a property of result_schema with "
                f"'type: integer' (the count of items the run produced)."
            )

    if not body:
        raise fail("the instructions after the frontmatter are empty; write what the model should do.")

    skill = Skill(
        name=name,
        description=description.strip(),
        instructions=body,
        path=path,
        allowed_tools=allowed_tools,
        write_allowlist=write_allowlist,
        http_allowlist=http_allowlist,
        allow_urls=tuple(prefixes),
        result_schema=result_schema,
        mode=mode,
        empty_field=empty_field,
    )
    object.__setattr__(skill, "_result_model", model)  # already built: reuse it
    return skill


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _http_allowlist_entry(entry: str) -> str:
    """`entry` as PermissionEngine matches it, or ValueError saying why http_get cannot be allowed
    to reach it. An entry is a host name, '*.' and a domain (its subdomains, not the domain
    itself), or an IP address."""
    example = "write a host like 'api.example.com', '*.example.com' for its subdomains, or an IP"
    parts = urlsplit(entry if "//" in entry else "//" + entry)
    if "//" in entry or parts.path or parts.query or parts.fragment or "@" in entry:
        if parts.scheme in ("http", "https") and parts.hostname:
            host = parts.hostname
            raise ValueError(f"is a URL; the allowlist holds hosts (any port and path): write {host!r}")
        raise ValueError(f"is not a host; {example}")
    try:
        return str(ipaddress.ip_address(entry.strip("[]")))
    except ValueError:
        pass
    if ":" in entry:
        raise ValueError(f"has a port; the allowlist holds hosts (any port of them): {example}")
    name = entry.lower().removeprefix("*.").rstrip(".")
    try:
        name = name if name.isascii() else name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"is not a valid host name; {example}") from None
    labels = name.split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"is not a host name; {example}")
    if entry.startswith("*.") and len(labels) < 2:
        raise ValueError(f"would allow every host of a top-level domain; {example}")
    return entry


def _str_list(value: Any, key: str, fail: Callable[[str], SkillError]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(f"'{key}' must be a list of non-empty strings, e.g. [a, b]; got {value!r}.")
    return tuple(v.strip() for v in value)


def _model_name(skill_name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", skill_name) if part) + "Result"


# ---------------------------------------------------------------------------------------------
# JSON Schema -> pydantic model
# ---------------------------------------------------------------------------------------------

_ANNOTATIONS = {"type", "enum", "description", "title", "default", "examples", "$comment", "$schema"}
_KEYWORDS_BY_TYPE: dict[str, set[str]] = {
    "string": {"minLength", "maxLength", "pattern"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "array": {"items", "minItems", "maxItems"},
    "object": {"properties", "required", "additionalProperties"},
    "boolean": set(),
    "null": set(),
}
_SUPPORTED = _ANNOTATIONS.union(*_KEYWORDS_BY_TYPE.values())
_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minItems": "min_length",
    "maxItems": "max_length",
}
# Strict scalars: a RESULT saying "items": "3" or "done": 1 is a contract violation, not a value
# to coerce. (Strict float still takes JSON integers, which are numbers too.)
_SCALARS: dict[str, Any] = {
    "string": Annotated[str, Strict()],
    "integer": Annotated[int, Strict()],
    "number": Annotated[float, Strict()],
    "boolean": Annotated[bool, Strict()],
    "null": None,
}


def model_from_json_schema(schema: dict, name: str = "Result") -> type[BaseModel]:
    """Build a pydantic model from a practical subset of JSON Schema.

    The top level must be `type: object`. Supported: properties/required (nested objects become
    nested models), additionalProperties true/false, types string/integer/number/boolean/array
    (items)/object/null and lists of them, enum, minimum/maximum/exclusiveMinimum/exclusiveMaximum,
    minLength/maxLength/pattern, minItems/maxItems, plus the annotations description/title/default/
    examples. Any other keyword ($ref, oneOf, format...) raises SkillError naming it.

    Strictness, on purpose:
    - An object that declares `properties` forbids undeclared keys unless `additionalProperties:
      true`; an object without `properties` accepts any keys (so `{"type": "object"}` means
      "any object") unless `additionalProperties: false`.
    - integer and boolean values are never coerced: "3", 3.0 and true are not integers.
    - An optional property may be omitted, but it may only be null if its type allows null.
    """
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        raise SkillError("the result schema must be a mapping with 'type: object' at the top level.")
    _check_keywords(schema, "result_schema")
    if "enum" in schema:
        raise SkillError("result_schema: the RESULT must be an object; remove the top-level 'enum'.")
    return _object_model(schema, name, "result_schema")


def _check_keywords(schema: Any, where: str) -> list[str]:
    """Reject unsupported or misplaced keywords; return the node's type names.

    `where` is the node's path (result_schema.properties.x), so errors point at the right spot.
    """
    if not isinstance(schema, Mapping):
        raise SkillError(f"{where}: a schema must be a mapping, got {schema!r}.")
    for key in schema:
        if key not in _SUPPORTED:
            raise SkillError(
                f"{where}: unsupported keyword {key!r}; supported keywords: {', '.join(sorted(_SUPPORTED))}."
            )
    raw_type = schema.get("type")
    types = raw_type if isinstance(raw_type, list) else [raw_type] if raw_type is not None else []
    for t in types:
        if not isinstance(t, str) or t not in _KEYWORDS_BY_TYPE:
            raise SkillError(f"{where}: unknown type {t!r}; use one of {', '.join(_KEYWORDS_BY_TYPE)}.")
    for key in schema:
        if key not in _ANNOTATIONS and not any(key in _KEYWORDS_BY_TYPE[t] for t in types):
            raise SkillError(f"{where}: keyword {key!r} does not apply to type {raw_type!r}.")
    return types


def _annotation(schema: Any, name: str, where: str) -> Any:
    """The type annotation for one schema node."""
    types = _check_keywords(schema, where)
    if "enum" in schema:
        return _enum(schema["enum"], where)
    if not types:
        return Any  # `{}` accepts any value, as in JSON Schema
    members = [_typed_annotation(schema, t, name, where) for t in types]
    return members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007 - built at runtime


def _typed_annotation(schema: Mapping[str, Any], type_name: str, name: str, where: str) -> Any:
    if type_name == "object":
        return _object_model(schema, name, where)
    if type_name == "array":
        items = schema.get("items")
        item = Any if items is None else _annotation(items, name + "Item", where + ".items")
        base: Any = Annotated[list[item], Strict()]
    else:
        base = _SCALARS[type_name]
    constraints: dict[str, Any] = {}
    for key in _KEYWORDS_BY_TYPE[type_name] & _CONSTRAINTS.keys():
        if key not in schema:
            continue
        value = schema[key]
        if key == "pattern":
            kind, ok = "a string", isinstance(value, str)
        elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            kind, ok = "a number", isinstance(value, (int, float)) and not isinstance(value, bool)
        else:  # lengths and item counts
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            kind = "an integer >= 0"
        if not ok:
            raise SkillError(f"{where}: {key!r} must be {kind}, got {value!r}.")
        if key == "pattern":
            try:
                re.compile(value)
            except re.error as exc:
                raise SkillError(f"{where}: invalid pattern {value!r}: {exc}.") from exc
        constraints[_CONSTRAINTS[key]] = value
    return Annotated[base, Field(**constraints)] if constraints else base


def _object_model(schema: Mapping[str, Any], name: str, where: str) -> type[BaseModel]:
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    if additional is not None and not isinstance(additional, bool):
        raise SkillError(f"{where}: 'additionalProperties' must be true or false (schemas are unsupported).")
    if properties is None:
        properties = {}
        extra = "forbid" if additional is False else "allow"
    else:
        extra = "allow" if additional is True else "forbid"
    if not isinstance(properties, Mapping):
        raise SkillError(f"{where}: 'properties' must be a mapping of property name to schema.")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SkillError(f"{where}: 'required' must be a list of property names.")
    missing = [r for r in required if r not in properties]
    if missing:
        raise SkillError(f"{where}: 'required' lists {', '.join(missing)}, missing from 'properties'.")

    fields: dict[str, Any] = {}
    for index, (prop, sub) in enumerate(properties.items()):
        prop = str(prop)
        annotation = _annotation(sub, name + _model_name(prop).removesuffix("Result"), f"{where}.{prop}")
        info: dict[str, Any] = {"description": sub.get("description")}
        if prop not in required:
            # Omitted optional properties read as None (or their default); defaults are not
            # validated, so an explicit null is still rejected unless the type allows null.
            info["default"] = copy.deepcopy(sub.get("default"))
        unusable = not prop.isidentifier() or keyword.iskeyword(prop) or prop.startswith("_")
        if unusable or hasattr(BaseModel, prop):
            # Python cannot hold this name as a field (or it shadows BaseModel): keep the JSON name
            # as the alias, which is what validation and dumping use.
            fields[f"field_{index}"] = (annotation, Field(alias=prop, **info))
        else:
            fields[prop] = (annotation, Field(**info))
    config = ConfigDict(extra=extra, protected_namespaces=(), serialize_by_alias=True)
    try:
        return pydantic.create_model(name, __config__=config, **fields)
    except Exception as exc:  # pydantic raises several types for schemas it cannot build
        raise SkillError(f"{where}: cannot build a model: {exc}") from exc


def _enum(values: Any, where: str) -> Any:
    if not isinstance(values, list) or not values:
        raise SkillError(f"{where}: 'enum' must be a non-empty list.")
    for v in values:
        if v is not None and not isinstance(v, (str, int, bool)):
            raise SkillError(f"{where}: enum values must be strings, integers, booleans or null; got {v!r}.")

    # pydantic's Literal compares with ==, which lets true match 1 and 1.0 match 1; require the
    # JSON type to match as well so enum stays as strict as the scalar types.
    def same_type(value: Any) -> Any:
        if not any(value == v and type(value) is type(v) for v in values):
            raise ValueError(f"Input should be one of {values!r}")
        return value

    return Annotated[Literal[tuple(values)], BeforeValidator(same_type)]
