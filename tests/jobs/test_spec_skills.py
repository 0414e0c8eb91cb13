"""The skills a spec's agent tasks load, checked before the job runs (jobs/spec_skills.py): a
skill name with no folder behind it is named with its field and the folder searched."""

from __future__ import annotations

from pathlib import Path

from agentjobs.jobs.spec import load_spec
from agentjobs.jobs.spec_skills import needed_skills, skill_problems
from tests.jobs.test_spec import VALID, write_spec

REPO = Path(__file__).resolve().parents[2]
SKILLS = REPO / "include" / "skills"


def test_the_jobs_skill_and_the_review_agents_when_it_runs(tmp_path):
    assert needed_skills(load_spec(write_spec(tmp_path, VALID))) == [("skill", "daily-digest")]
    detector_only = {**VALID, "pii_review": {"enabled": True}}
    assert needed_skills(load_spec(write_spec(tmp_path, detector_only))) == [("skill", "daily-digest")]
    with_agent = {**VALID, "pii_review": {"enabled": True, "agent": True}}
    assert needed_skills(load_spec(write_spec(tmp_path, with_agent))) == [
        ("skill", "daily-digest"),
        ("pii_review.skill", "pii-review"),
    ]


def test_the_shipped_skills_load(tmp_path):
    spec = load_spec(write_spec(tmp_path, {**VALID, "pii_review": {"enabled": True, "agent": True}}))
    assert skill_problems(spec, SKILLS) == []


def test_a_skill_with_no_folder_is_named_with_its_field_and_the_folder_searched(tmp_path):
    # It loaded and passed `agentjobs check`; the job failed at its first agent task.
    spec = load_spec(write_spec(tmp_path, {**VALID, "skill": "daily-digset"}))
    (problem,) = skill_problems(spec, SKILLS)
    assert problem.startswith("field 'skill': skill 'daily-digset' not found: no ")
    assert f"Searched {SKILLS}" in problem and "daily-digest" in problem


def test_a_review_skill_missing_from_another_skills_folder_is_named_too(tmp_path):
    skills = tmp_path / "skills"
    (skills / "daily-digest").mkdir(parents=True)
    (skills / "daily-digest" / "SKILL.md").write_bytes((SKILLS / "daily-digest" / "SKILL.md").read_bytes())
    spec = load_spec(write_spec(tmp_path, {**VALID, "pii_review": {"enabled": True, "agent": True}}))
    (problem,) = skill_problems(spec, skills)
    assert problem.startswith("field 'pii_review.skill': skill 'pii-review' not found")
