"""The deployment's checks, as functions returning the problems they find (empty: all good), so a
test can run each on the real files and on a broken copy and see it named.

No Docker engine runs here: what can be proved without one is that the Compose file is valid
Compose (the specification's own JSON schema, vendored as compose-spec.json from
github:compose-spec/compose-spec `schema/compose-spec.json` at commit
170098ba07d9f53c383a41bfd4c5166b0a4529a6, 2026-06-23), and that it, the Dockerfile, .env.example
and the README's Deploy section agree with the project and with the installed Airflow.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCHEMA = HERE / "compose-spec.json"
COMPOSE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
README = REPO / "README.md"
DEPLOY_HEADING = "## Deploy\n"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME; $$ is a literal $.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_AIRFLOW_OPTION = re.compile(r"^AIRFLOW__([A-Z0-9_]+?)__([A-Z0-9_]+)$")
_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)(?:\s+AS\s+(?P<name>\S+))?", re.I | re.M)


class InterpolationError(ValueError):
    """A ${VAR:?message} whose variable is unset or empty, as `docker compose` would refuse it."""


# -- reading the files -----------------------------------------------------------------------


def read_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped), as Compose reads them."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def variables_in(text: str) -> set[str]:
    """The names every ${VAR} (or $VAR) of the text refers to; $$ is no variable."""
    return {m["braced"] or m["bare"] for m in _VARIABLE.finditer(text) if not m["escaped"]}


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)


def compose_variables(compose_text: str) -> set[str]:
    """The variables the Compose file interpolates (its values, not its comments)."""
    return {name for text in _strings(yaml.safe_load(compose_text)) for name in variables_in(text)}


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation of one string."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env
        value = env.get(name, "")
        if op in (":-", "-"):
            use_default = not value if op == ":-" else not present
            return arg if use_default else value
        if op in (":?", "?"):
            if (op == ":?" and not value) or not present:
                raise InterpolationError(f"{name}: {arg or 'required variable is missing'}")
        return value

    return _VARIABLE.sub(replace, value)


def _interpolated(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolated(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolated(value, env) for key, value in node.items()}
    return node


def load_compose(text: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The Compose file as `docker compose config` sees it before its own checks: YAML (anchors
    and merge keys resolved) with every value interpolated from `env`."""
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        raise ValueError("the Compose file is not a mapping")
    return _interpolated(document, env)


def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE.read_text(encoding="utf-8"))


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=VALUE list form
        return dict(item.partition("=")[::2] for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


# -- the Compose specification ----------------------------------------------------------------


def schema_problems(document: Mapping[str, Any]) -> list[str]:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def healthcheck_problems(document: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, service in document.get("services", {}).items():
        check = service.get("healthcheck") or {}
        if check.get("disable") or not check.get("test") or check.get("test") == ["NONE"]:
            problems.append(f"service {name} has no health check")
    return problems


def _published_ports(service: Mapping[str, Any]) -> Iterator[str]:
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published"):
                yield f"{port.get('host_ip', '')}:{port['published']}/{port.get('protocol', 'tcp')}"
            continue
        spec, _, protocol = str(port).partition("/")
        parts = spec.split(":")
        if len(parts) >= 2:  # HOST:CONTAINER or IP:HOST:CONTAINER; a bare port publishes a random one
            ip = parts[0] if len(parts) == 3 else ""
            yield f"{ip}:{parts[-2]}/{protocol or 'tcp'}"


def port_problems(document: Mapping[str, Any]) -> list[str]:
    owners: dict[str, list[str]] = {}
    for name, service in document.get("services", {}).items():
        for published in _published_ports(service):
            owners.setdefault(published, []).append(name)
    return [
        f"host port {port} is published by {' and '.join(names)}"
        for port, names in owners.items()
        if len(names) > 1
    ]


# -- the Dockerfile against the project -------------------------------------------------------


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _pins(constraints: str) -> dict[str, str]:
    pins = {}
    for line in constraints.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith("#"):
            pins[name.lower()] = version
    return pins


def _stages(dockerfile: str) -> dict[str, str]:
    return {m["name"] or f"#{i}": m["image"] for i, m in enumerate(_FROM.finditer(dockerfile))}


def image_problems(
    dockerfile: str, constraints: str, pyproject: Mapping[str, Any] | None = None
) -> list[str]:
    """The official Airflow image of the pinned version, on a Python the project supports."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    project = (pyproject or _pyproject())["project"]
    bases = [image for image in _stages(dockerfile).values() if image.startswith("apache/airflow:")]
    if not bases:
        return ["the Dockerfile builds FROM no apache/airflow image"]
    problems = []
    pinned = _pins(constraints).get("apache-airflow")
    required = next(
        (Requirement(dep) for dep in project["dependencies"] if Requirement(dep).name == "apache-airflow"),
        None,
    )
    for image in bases:
        tag = image.partition(":")[2]
        match = re.fullmatch(r"(?P<airflow>\d+\.\d+\.\d+)-python(?P<python>\d+\.\d+)", tag)
        if not match:
            problems.append(f"{image}: the tag must name the Airflow and Python versions (3.3.2-python3.11)")
            continue
        if match["airflow"] != pinned:
            problems.append(f"{image}: Airflow {match['airflow']} but constraints.txt pins {pinned}")
        if required and match["airflow"] not in required.specifier:
            problems.append(f"{image}: Airflow {match['airflow']} outside pyproject's {required}")
        if match["python"] not in SpecifierSet(project["requires-python"]):
            problems.append(
                f"{image}: Python {match['python']} outside requires-python {project['requires-python']}"
            )
    return problems


def extras_in(dockerfile: str) -> set[str]:
    """The extras of every `pip install ...[a,b]` of the Dockerfile."""
    extras: set[str] = set()
    for line in dockerfile.splitlines():
        if "pip install" in line:
            for group in re.findall(r"\[([A-Za-z0-9_,\s-]+)\]", line):
                extras.update(name.strip() for name in group.split(",") if name.strip())
    return extras


def extras_problems(dockerfile: str, pyproject: Mapping[str, Any] | None = None) -> list[str]:
    defined = set((pyproject or _pyproject())["project"].get("optional-dependencies", {}))
    return [f"extra [{name}] is not in pyproject.toml" for name in sorted(extras_in(dockerfile) - defined)]


def copy_problems(dockerfile: str, root: Path = REPO) -> list[str]:
    """Every COPY source (but --from=another stage) exists in the build context."""
    problems = []
    for line in dockerfile.splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [word for word in words[1:] if not word.startswith("--")]
        if any(word.startswith("--from") for word in words[1:]):
            continue
        for source in args[:-1]:
            if not (root / source).exists():
                problems.append(f"{words[0]} source {source} does not exist")
    return problems


def dockerignore_problems(dockerfile: str, dockerignore: str) -> list[str]:
    """The build context must keep what the Dockerfile copies and leave out .env."""
    ignored = {line.strip().rstrip("/").lstrip("/") for line in dockerignore.splitlines()}
    ignored.discard("")
    problems = [] if ".env" in ignored else [".dockerignore does not leave out .env (the secrets)"]
    for line in dockerfile.splitlines():
        words = line.split()
        if words and words[0].upper() == "COPY" and not any(w.startswith("--from") for w in words):
            for source in [w for w in words[1:] if not w.startswith("--")][:-1]:
                if source.rstrip("/") in ignored:
                    problems.append(f".dockerignore leaves out {source}, which the Dockerfile copies")
    return problems


def compose_targets_problems(document: Mapping[str, Any], dockerfile: str) -> list[str]:
    stages = set(_stages(dockerfile))
    problems = []
    for name, service in document.get("services", {}).items():
        build = service.get("build")
        target = build.get("target") if isinstance(build, dict) else None
        if target and target not in stages:
            problems.append(f"service {name} builds target {target}, which the Dockerfile lacks")
    return problems


# -- variables against Airflow and agentjobs --------------------------------------------------


def all_environment_names(document: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for service in document.get("services", {}).values():
        names.update(environment_of(service))
    return names


@cache
def _airflow_options() -> dict[str, set[str]]:
    from airflow.configuration import conf

    # configuration_description holds core's config.yml and every installed provider's options.
    return {section: set(body.get("options", {})) for section, body in conf.configuration_description.items()}


def airflow_option_problems(names: set[str]) -> list[str]:
    options = _airflow_options()
    problems = []
    for name in sorted(names):
        match = _AIRFLOW_OPTION.match(name)
        if not match and name.startswith("AIRFLOW__"):
            problems.append(f"{name} is not of the form AIRFLOW__SECTION__KEY")
            continue
        if not match:
            continue
        section, key = match[1].lower(), match[2].lower()
        if section not in options:
            problems.append(f"{name}: Airflow has no [{section}] section")
        elif key not in options[section]:
            problems.append(f"{name}: Airflow's [{section}] has no option {key}")
    return problems


def _source_text() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for folder in ("src", "dags", "plugins")
        for path in sorted((REPO / folder).rglob("*.py"))
    )


def agentjobs_variable_problems(names: set[str]) -> list[str]:
    source = _source_text()
    return [
        f"{name} is set but no code in src/, dags/ or plugins/ reads it"
        for name in sorted(n for n in names if n.startswith("AGENTJOBS_"))
        if not re.search(rf"[\"']{re.escape(name)}[\"']", source)
    ]


# A real credential's shapes: OpenAI, Slack, GitHub, AWS keys, a Slack webhook, a private key, a
# Fernet key (44 url-safe base64 characters), long random hex.
_SECRET_SHAPES = {
    "an OpenAI key": r"\bsk-[A-Za-z0-9_-]{16,}",
    "a Slack token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "a Slack webhook": r"hooks\.slack\.com/services/T[A-Z0-9]+/",
    "a GitHub token": r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}",
    "an AWS access key": r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    "a private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "a Fernet key": r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=",
    "a random hex secret": r"\b[0-9a-f]{32,}\b",
}
# Values in .env.example that are fine as written: names, hosts, numbers, the placeholders.
_SECRET_NAMES = ("PASSWORD", "SECRET", "KEY", "TOKEN", "WEBHOOK")


def env_example_problems(compose_text: str, env_example: str) -> list[str]:
    documented = read_env_file(env_example)
    used = compose_variables(compose_text)
    problems = [
        f"${{{name}}} is used by the Compose file but not in .env.example"
        for name in sorted(used - set(documented))
    ]
    problems += [
        f"{name} is in .env.example but the Compose file never uses it"
        for name in sorted(set(documented) - used)
    ]
    for kind, pattern in _SECRET_SHAPES.items():
        for match in re.finditer(pattern, env_example):
            problems.append(f".env.example holds what looks like {kind}: {match[0][:12]}...")
    for name, value in documented.items():
        secret = any(part in name for part in _SECRET_NAMES) and not name.endswith("_IMAGE_NAME")
        if secret and value and not value.startswith("change-me"):
            problems.append(f".env.example gives {name} a value; leave it empty or a change-me placeholder")
    return problems


# -- Airflow CLI commands -----------------------------------------------------------------------


def airflow_commands(document: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(service, argv after `airflow`) of every Airflow command the file runs: a service command
    the image's entrypoint hands to `airflow`, and each `airflow ...` line of a shell script or
    a health check."""
    found = []
    for name, service in document.get("services", {}).items():
        command = service.get("command")
        airflow_image = "build" in service and service.get("build", {}).get("target") == "airflow"
        if airflow_image and "entrypoint" not in service and command is not None:
            argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
            found.append((name, argv))
        scripts = []
        if isinstance(command, list) and service.get("entrypoint") in ("/bin/bash", "bash", ["/bin/bash"]):
            scripts.extend(str(part) for part in command)
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL"):
            scripts.append(" ".join(test[1:]) if test[0] == "CMD-SHELL" else shlex.join(test[1:]))
        for script in scripts:
            for line in script.splitlines():
                words = _shell_words(line)
                if words[:1] == ["airflow"]:
                    found.append((name, words[1:]))
    return found


def _shell_words(line: str) -> list[str]:
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    # A shell variable stands for a value the parser need not know; its form does not matter.
    return ["VALUE" if "$" in word else word for word in words]


def cli_problems(commands: list[tuple[str, list[str]]]) -> list[str]:
    import contextlib
    import io

    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
    problems = []
    for service, argv in commands:
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                reason = stderr.getvalue().strip().splitlines()[-1:] or ["refused"]
                problems.append(f"{service}: airflow {shlex.join(argv)}: {reason[0]}")
    return problems


# -- the deployment doc --------------------------------------------------------------------------


def deploy_section(readme: str | None = None) -> str:
    """The README's "## Deploy" section, up to the next top-level heading."""
    text = README.read_text(encoding="utf-8") if readme is None else readme
    start = text.index(DEPLOY_HEADING)
    end = text.find("\n## ", start + len(DEPLOY_HEADING))
    return text[start : end if end != -1 else len(text)]


def doc_problems(doc: str, document: Mapping[str, Any], compose_text: str, env_example: str) -> list[str]:
    """Every service, profile and variable the README's Deploy section names exists in the Compose file."""
    services = set(document.get("services", {}))
    profiles = {p for service in document.get("services", {}).values() for p in service.get("profiles", [])}
    variables = (
        compose_variables(compose_text) | set(read_env_file(env_example)) | all_environment_names(document)
    )
    problems = []
    for line in doc.splitlines():
        for command in re.findall(r"docker compose [^`\n]*", line):
            words = command.split()
            for i, word in enumerate(words):
                if word == "--profile" and i + 1 < len(words) and words[i + 1] not in profiles:
                    problems.append(f"README Deploy: profile {words[i + 1]} is not in the Compose file")
                if word.startswith("--scale"):
                    target = (word.partition("=")[2] or (words[i + 1] if i + 1 < len(words) else "")).split(
                        "="
                    )[0]
                    if target not in services:
                        problems.append(f"README Deploy: --scale {target}: no such service")
            for sub in ("run", "exec", "logs", "restart", "stop"):
                if sub in words:
                    rest = [w for w in words[words.index(sub) + 1 :] if not w.startswith("-")]
                    if rest and rest[0] not in services:
                        problems.append(f"README Deploy: docker compose {sub} {rest[0]}: no such service")
    for name in sorted(set(re.findall(r"`([A-Z][A-Z0-9_]{2,})(?:=[^`]*)?`", doc))):
        if name in variables:
            continue
        problems.append(f"README Deploy names {name}, which neither the Compose file nor .env.example has")
    volumes = set(document.get("volumes") or {})
    for name in sorted(set(re.findall(r"`(airflow-[a-z-]+|local-model|postgres|redis)`", doc))):
        if name not in services | volumes:
            problems.append(f"README Deploy names service {name}, which the Compose file lacks")
    return problems


# -- secrets and scaling -------------------------------------------------------------------------

_SECRET_KEY_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|API_KEY|_AUTH$|WEBHOOK", re.I)


def literal_secret_problems(raw_document: Mapping[str, Any]) -> list[str]:
    """Before interpolation, every secret-bearing variable of every service is a ${VAR} from .env."""
    problems = []
    for name, service in raw_document.get("services", {}).items():
        for key, value in environment_of(service).items():
            secret = _SECRET_KEY_NAME.search(key) and not key.endswith("_FILE")  # a path is no secret
            if secret and value and not variables_in(value):
                problems.append(
                    f"service {name}: {key} is written in the file; take it from .env as ${{VAR}}"
                )
    return problems


def scale_problems(document: Mapping[str, Any], service: str = "airflow-worker") -> list[str]:
    """`--scale airflow-worker=N` needs copies that cannot collide: no fixed name, no host port."""
    worker = document.get("services", {}).get(service)
    if worker is None:
        return [f"no {service} service to scale"]
    problems = []
    if worker.get("container_name"):
        problems.append(f"{service} has container_name {worker['container_name']}: only one copy could run")
    if list(_published_ports(worker)):
        problems.append(f"{service} publishes a host port: a second copy could not bind it")
    return problems
