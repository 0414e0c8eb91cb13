"""A job's URL prefixes for http_get: checked at spec load, only URLs below them fetched, and an
answer too large or not JSON refused (told to the model as an error, never read)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentjobs.agent.http_policy import HttpPolicy
from agentjobs.agent.permissions import PermissionEngine
from agentjobs.agent.tools import ToolRegistry, builtin_tools
from agentjobs.business.directory import Answer
from agentjobs.jobs.spec import JobSpecError, load_spec
from tests.fakes.directory import record

REPO = Path(__file__).resolve().parents[2]


def test_a_bad_prefix_in_a_spec_names_the_file_and_the_field(tmp_path: Path) -> None:
    text = (REPO / "include" / "jobs" / "enrichment.yaml").read_text()
    path = tmp_path / "job.yaml"
    path.write_text(text.replace("allow_urls: [https://", "allow_urls: [https://user:pw@"))
    with pytest.raises(JobSpecError) as raised:
        load_spec(path)
    assert str(raised.value).startswith(f"{path}: invalid job spec: ")
    assert "field 'enrichment.allow_urls" in str(raised.value) and "pw@" not in str(raised.value)
    path.write_text(
        text.replace("source_url: https://directory.example.com/", "source_url: https://other.example/")
    )
    with pytest.raises(JobSpecError, match="is not below any of allow_urls"):
        load_spec(path)


def http_get(tmp_path: Path, policy: HttpPolicy):
    registry = ToolRegistry()
    for tool in builtin_tools(PermissionEngine(tmp_path, http_policy=policy)):
        registry.register(tool)
    return lambda url: registry.call("http_get", json.dumps({"url": url}))


def test_only_urls_below_a_prefix_are_fetched_and_bad_answers_are_refused(tmp_path, company_directory):
    company_directory.answers.update(
        {
            "Globex": record(industry="Manufacturing"),
            "Soylent": Answer(200, b"<html>people</html>", "text/html"),
            "Tyrell": record(description="x" * 5000),
        }
    )
    get = http_get(tmp_path, HttpPolicy.of([company_directory.url], max_bytes=4096))
    ok = get(company_directory.url + "Globex")
    assert ok.ok and '"industry": "Manufacturing"' in ok.content

    base = company_directory.url.removesuffix("companies/")
    for url in (base + "admin/secrets", company_directory.url + "../admin/secrets"):
        off = get(url)
        assert not off.ok and "not below the allow_urls" in off.content
    other_port = get("http://127.0.0.1:1/companies/Globex")
    assert not other_port.ok and "not below the allow_urls" in other_port.content
    assert not any("admin" in path for path in company_directory.requests)

    html = get(company_directory.url + "Soylent")
    assert not html.ok and "content type is 'text/html'" in html.content and "people" not in html.content
    big = get(company_directory.url + "Tyrell")
    assert not big.ok and "larger than the 4096-byte cap" in big.content and "xxx" not in big.content


def test_without_a_policy_loopback_stays_unreachable(tmp_path, company_directory):
    registry = ToolRegistry()
    for tool in builtin_tools(PermissionEngine(tmp_path, http_allowlist=["127.0.0.1"])):
        registry.register(tool)
    outcome = registry.call("http_get", json.dumps({"url": company_directory.url + "Globex"}))
    assert not outcome.ok and "loopback" in outcome.content


def skill_file(tmp_path: Path, allow_urls: str) -> Path:
    folder = tmp_path / "skills" / "lookup"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: lookup\ndescription: Look a company up.\n"
        f"allow_urls: {allow_urls}\n---\n# Lookup\nFetch it.\n"
    )
    return folder


def test_a_skill_may_declare_its_prefixes_too(tmp_path, company_directory):
    from agentjobs.agent.errors import SkillError
    from agentjobs.agent.runner import RunPlan
    from agentjobs.agent.skills import load_skill

    company_directory.answers["Globex"] = record(industry="Manufacturing")
    skill = load_skill("lookup", skill_file(tmp_path, f"[{company_directory.url}]").parent)
    work = tmp_path / "work"
    work.mkdir()
    registry = RunPlan(skill=skill, prompt="", work_dir=work).registry()
    assert registry.call("http_get", json.dumps({"url": company_directory.url + "Globex"})).ok
    off = registry.call("http_get", json.dumps({"url": "http://127.0.0.1:1/other/"}))
    assert not off.ok and "not below the allow_urls" in off.content

    # A job's own prefixes and cap add to the skill's.
    job = HttpPolicy.of(["https://directory.example.com/companies/"], max_bytes=1000)
    merged = RunPlan(skill=skill, prompt="", work_dir=work, http_policy=job).policy()
    assert merged is not None and merged.max_bytes == 1000 and len(merged.allow_urls) == 2

    with pytest.raises(SkillError, match=r"allow_urls entry: .*wildcard"):
        load_skill("lookup", skill_file(tmp_path / "bad", "['https://*.example.com/']").parent)
