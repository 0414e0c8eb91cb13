"""The skills a job spec's agent tasks load, checked before anything of the job runs.

A spec names its skill by folder (`skill: overdue-reminders`, and `pii_review.skill` when the
digest's review agent is on); the agent task loads it from the skills folder when it starts
(agent/skills.py). A name with no folder behind it, or a SKILL.md that does not load, used to
surface only then: after the fetch, on the first scheduled run. `agentjobs check` and
`agentjobs run` check them here first. A DAG parse does not: it reads no skill file (and the
skills folder may be named only in the workers' environment, read at run time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def needed_skills(spec: Any) -> list[tuple[str, str]]:
    """(spec field, skill name) of every skill the job's agent tasks load."""
    needed = [("skill", spec.skill)]
    if spec.pii_review.enabled and spec.pii_review.agent:
        needed.append(("pii_review.skill", spec.pii_review.skill))
    return needed


def skill_problems(spec: Any, skills_dir: Path) -> list[str]:
    """One line per skill of `spec` that does not load from `skills_dir`, naming its field."""
    from agentjobs.agent.errors import SkillError
    from agentjobs.agent.skills import load_skill

    problems = []
    for field, name in needed_skills(spec):
        try:
            load_skill(name, skills_dir)
        except SkillError as exc:
            problems.append(f"field '{field}': {exc}")
    return problems
