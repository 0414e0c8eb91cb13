"""The deployment's checks, as functions returning the problems they find (empty: all good), so a
test can run each on the real files and on a broken copy and see it named.

No Docker engine runs here: what can be proved without one is that the Compose file is valid
Compose (the specification's own JSON schema, vendored as compose-spec.json from
github:compose-spec/compose-spec `schema/compose-spec.json` at commit
170098ba07d9f53c383a41bfd4c5166b0a4529a6, 2026-06-23), and that it, the Dockerfile, .env.example
and the deployment page (docs/deploy.md) agree with the project and with the installed Airflow.
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
DEPLOY_DOC = REPO / "docs" / "deploy.md"  # the manual's page "Deploy with Docker Compose"

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
    """Every service says how it restarts, and every long-running one (restarted: not "no") has a
    health check. A run-once service (airflow-init, airflow-cli) is judged by its exit code, and a
    forgotten `restart` cannot hide a long-running service among them."""
    problems = []
    for name, service in document.get("services", {}).items():
        restart = service.get("restart")
        if restart is None:
            problems.append(f"service {name} states no restart policy")
            continue
        check = service.get("healthcheck") or {}
        if restart != "no" and (
            check.get("disable") or not check.get("test") or check.get("test") == ["NONE"]
        ):
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
_SECRET_NAMES = ("PASSWORD", "SECRET", "KEY", "TOKEN", "WEBHOOK", "AUTH")


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
        argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command or []]
        airflow_image = "build" in service and service.get("build", {}).get("target") == "airflow"
        scripts = []
        if airflow_image and "entrypoint" not in service and argv:
            # The image's entrypoint runs `bash ...` and `python ...` as given and hands anything
            # else to `airflow`.
            if argv[0] in ("bash", "/bin/bash"):
                scripts.extend(argv[1:])
            elif argv[0] != "python":
                found.append((name, argv))
        if argv and service.get("entrypoint") in ("/bin/bash", "bash", ["/bin/bash"]):
            scripts.extend(argv)
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL"):
            scripts.append(" ".join(test[1:]) if test[0] == "CMD-SHELL" else shlex.join(test[1:]))
        for script in scripts:
            for line in script.splitlines():
                words = _shell_words(line)
                # A bare `airflow` prints the usage (airflow-cli's default); nothing to parse.
                if words[:1] == ["airflow"] and words[1:]:
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


def deploy_section() -> str:
    """The deployment page of the manual, docs/deploy.md, whole."""
    return DEPLOY_DOC.read_text(encoding="utf-8")


def doc_airflow_commands(doc: str) -> list[tuple[str, list[str]]]:
    """(where, argv after `airflow`) of every Airflow command the deployment page runs in a
    container: `docker compose run [--rm] airflow-cli ARGS` (the image's entrypoint hands ARGS to
    `airflow`) and `docker compose exec SERVICE airflow ARGS`."""
    found = []
    for command in re.findall(r"docker compose [^`\n#]*", doc):
        words = _shell_words(command)
        for sub in ("run", "exec"):
            if sub not in words:
                continue
            rest = words[words.index(sub) + 1 :]
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            if not rest:
                continue
            service, args = rest[0], rest[1:]
            if sub == "run" and service == "airflow-cli" and args:
                found.append((f"docs/deploy.md: docker compose run {service}", args))
            elif args[:1] == ["airflow"] and args[1:]:
                found.append((f"docs/deploy.md: docker compose {sub} {service}", args[1:]))
    return found


def doc_problems(doc: str, document: Mapping[str, Any], compose_text: str, env_example: str) -> list[str]:
    """Every service, profile and variable the deployment page names exists in the Compose file."""
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
                    problems.append(f"docs/deploy.md: profile {words[i + 1]} is not in the Compose file")
                if word.startswith("--scale"):
                    target = (word.partition("=")[2] or (words[i + 1] if i + 1 < len(words) else "")).split(
                        "="
                    )[0]
                    if target not in services:
                        problems.append(f"docs/deploy.md: --scale {target}: no such service")
            for sub in ("run", "exec", "logs", "restart", "stop"):
                if sub in words:
                    rest = [w for w in words[words.index(sub) + 1 :] if not w.startswith("-")]
                    if rest and rest[0] not in services:
                        problems.append(f"docs/deploy.md: docker compose {sub} {rest[0]}: no such service")
    for name in sorted(set(re.findall(r"`([A-Z][A-Z0-9_]{2,})(?:=[^`]*)?`", doc))):
        if name in variables:
            continue
        problems.append(f"docs/deploy.md names {name}, which neither the Compose file nor .env.example has")
    volumes = set(document.get("volumes") or {})
    for name in sorted(set(re.findall(r"`(airflow-[a-z-]+|local-model|postgres|redis|flower)`", doc))):
        if name not in services | volumes:
            problems.append(f"docs/deploy.md names service {name}, which the Compose file lacks")
    return problems


# -- mounts, profiles and the broker -------------------------------------------------------------

# The services only a profile starts (`docker compose up` starts none of them), and their profiles.
PROFILES: dict[str, list[str]] = {
    "airflow-cli": ["debug"],
    "flower": ["flower"],
    "local-model": ["local-model"],
}
INIT_SERVICE = "airflow-init"


def _mounts(service: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(type, source, target) of each volume of a service: type "bind" (a host path) or "volume"."""
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            kind, source, target = (
                volume.get("type", "volume"),
                str(volume.get("source", "")),
                volume["target"],
            )
        else:
            source, _, rest = str(volume).partition(":")
            target = rest.partition(":")[0]
            if not rest:  # a bare container path: an anonymous volume
                source, target = "", source
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        yield kind, source, target


@cache
def _tracked(root: Path, relative: str) -> bool:
    """A file of the repository (git's index) lies at or under `relative`: what a fresh clone has,
    not a folder a local run left behind."""
    import subprocess

    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--", relative],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # no git here: what is on disk
        return (root / relative).exists()
    return bool(listed.strip())


def _init_script_words(document: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The paths every `mkdir` of the init's script names, and the argument lists of its `chown`s."""
    init = document.get("services", {}).get(INIT_SERVICE) or {}
    raw = init.get("command") or []
    script = "\n".join(raw if isinstance(raw, list) else [raw])
    made, chowns = [], []
    for line in script.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        args = [word for word in words[1:] if not word.startswith("-")]
        if words[:1] == ["mkdir"]:
            made.extend(args)
        elif words[:1] == ["chown"]:
            chowns.append(args)
    return made, chowns


def mount_problems(document: Mapping[str, Any], root: Path = REPO) -> list[str]:
    """Every bind mount's host path is in the repository or created by airflow-init (a folder Docker
    creates for a missing path is root's, which the Airflow user cannot write), and inside the
    project; every named volume is declared."""
    declared = set(document.get("volumes") or {})
    init = document.get("services", {}).get(INIT_SERVICE) or {}
    init_binds = {(source, target) for kind, source, target in _mounts(init) if kind == "bind"}
    made, _ = _init_script_words(document)
    problems = []
    for name, service in document.get("services", {}).items():
        for kind, source, target in _mounts(service):
            if kind == "volume":
                if source and source not in declared:
                    problems.append(f"service {name} mounts volume {source}, which volumes: does not declare")
                continue
            host = (root / source).resolve()
            if not host.is_relative_to(root.resolve()):
                problems.append(f"service {name} mounts {source}, outside the project")
                continue
            relative = host.relative_to(root.resolve()).as_posix()
            if _tracked(root, relative):
                continue
            if (source, target) not in init_binds or target not in made:
                problems.append(
                    f"service {name} mounts ./{relative}, which is neither in the repository nor "
                    f"created by {INIT_SERVICE}"
                )
    return sorted(set(problems))


def ownership_problems(document: Mapping[str, Any], root: Path = REPO) -> list[str]:
    """What the Airflow services write (their named volumes and the bind mounts airflow-init
    creates) airflow-init hands to the user they run as, so any AIRFLOW_UID can write it."""
    _, chowns = _init_script_words(document)
    owned: dict[str, set[str]] = {}
    for args in chowns:
        if args:
            owned.setdefault(args[0], set()).update(args[1:])
    problems = []
    for name, service in document.get("services", {}).items():
        airflow_image = (service.get("build") or {}).get("target") == "airflow"
        if name == INIT_SERVICE or not airflow_image:
            continue
        user = str(service.get("user", ""))
        for kind, source, target in _mounts(service):
            host = (root / source).resolve() if kind == "bind" else None
            written = kind == "volume" or (
                host is not None
                and host.is_relative_to(root.resolve())
                and not _tracked(root, host.relative_to(root.resolve()).as_posix())
            )
            if written and target not in owned.get(user, set()):
                problems.append(f"{INIT_SERVICE} does not chown {target} to {user}, whom {name} runs as")
    return sorted(set(problems))


def profile_problems(document: Mapping[str, Any], expected: Mapping[str, list[str]] = PROFILES) -> list[str]:
    """The services behind a profile are exactly `expected`, and a service's dependencies are
    active whenever it is (else `up` fails, or starts it without them)."""
    services = document.get("services", {})
    problems = []
    for name, service in services.items():
        profiles = list(service.get("profiles") or [])
        if profiles != list(expected.get(name, [])):
            want = expected.get(name) or "none"
            problems.append(f"service {name} has profiles {profiles or 'none'}, expected {want}")
    for name, service in services.items():
        profiles = set(service.get("profiles") or [])
        depends = service.get("depends_on") or []
        for dependency in depends if isinstance(depends, list) else list(depends):
            theirs = set((services.get(dependency) or {}).get("profiles") or [])
            if dependency not in services:
                problems.append(f"service {name} depends on {dependency}, which the file lacks")
            elif theirs and not (profiles and profiles <= theirs):
                problems.append(
                    f"service {name} depends on {dependency}, which only profile {sorted(theirs)} starts"
                )
    return problems


def celery_problems(document: Mapping[str, Any], reference: str = "airflow-scheduler") -> list[str]:
    """Every Celery process (the workers, Flower) talks to the broker and result backend the
    scheduler's executor sends tasks through, and waits for the broker's service."""
    services = document.get("services", {})
    env = environment_of(services.get(reference) or {})
    problems = []
    for name, service in services.items():
        command = service.get("command")
        argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command or []]
        if argv[:1] != ["celery"]:
            continue
        theirs = environment_of(service)
        for option in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND"):
            if not theirs.get(option):
                problems.append(f"service {name} ({' '.join(argv)}) has no {option}")
            elif theirs[option] != env.get(option):
                problems.append(f"service {name} ({' '.join(argv)}): {option} is not {reference}'s")
        broker_host = re.sub(r"^[a-z+]+://(?:[^@/]*@)?", "", theirs.get("AIRFLOW__CELERY__BROKER_URL", ""))
        broker_host = re.split(r"[:/]", broker_host)[0]
        depends = service.get("depends_on") or []
        if broker_host in services and broker_host not in depends:
            problems.append(f"service {name} does not wait for the broker {broker_host}")
    return problems


# -- secrets and scaling -------------------------------------------------------------------------

_SECRET_KEY_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|API_KEY|_AUTH$|WEBHOOK", re.I)


# The password of a URL's user-info (scheme://user:PASSWORD@host), as Airflow's own file writes
# `postgresql+psycopg2://airflow:airflow@postgres/airflow`.
_URL_PASSWORD = re.compile(r"://[^\s:/@]*:(?P<password>[^\s@/]+)@")


def literal_secret_problems(raw_document: Mapping[str, Any]) -> list[str]:
    """Before interpolation, every secret of every service is a ${VAR} from .env: the variables
    whose names say secret, the passwords inside URLs, and no value anywhere in the file (commands,
    health checks, ports) has a real credential's shape."""
    problems = []
    for name, service in raw_document.get("services", {}).items():
        for key, value in environment_of(service).items():
            secret = _SECRET_KEY_NAME.search(key) and not key.endswith("_FILE")  # a path is no secret
            if secret and value and not variables_in(value):
                problems.append(
                    f"service {name}: {key} is written in the file; take it from .env as ${{VAR}}"
                )
        for text in _strings(service):
            # Each ${...} as one NUL first: its default or message may hold spaces, ':' and '@'.
            masked = _VARIABLE.sub(lambda m: "$" if m["escaped"] else "\0", text)
            for match in _URL_PASSWORD.finditer(masked):
                if "\0" not in match["password"]:
                    # The scheme only: the message must not repeat the password.
                    scheme = text.partition("://")[0]
                    problems.append(f"service {name}: a {scheme}:// URL's password is written in the file")
            for kind, pattern in _SECRET_SHAPES.items():
                if re.search(pattern, text):
                    problems.append(f"service {name}: a value looks like {kind}")
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
