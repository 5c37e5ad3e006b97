"""The deploy workflow refuses pins of failed or rolled-back releases before `up` (issue 13):
in both deploy jobs, with the stack the job deploys, and the override reason of a dispatch
reaching both check-pins and the program through the environment, never pasted into a script."""

from __future__ import annotations

import shlex

import pytest

from infra.cli import build_parser
from tests.workflows.test_workflows import load

REASON = "${{ inputs.override_reason }}"


def _index(steps: list[dict[str, object]], needle: str) -> int:
    found = [i for i, step in enumerate(steps) if needle in str(step.get("run", ""))]
    assert len(found) == 1, f"{needle!r} in {len(found)} steps"
    return found[0]


@pytest.mark.parametrize("job", ["staging", "production"])
def test_check_pins_runs_before_the_preview_and_up_with_the_jobs_stack(job: str) -> None:
    steps = load("deploy.yml")["jobs"][job]["steps"]
    check = _index(steps, "-m infra check-pins")
    assert check < _index(steps, "pulumi preview") < _index(steps, "pulumi up")
    command = shlex.split(str(steps[check]["run"]))
    assert command[:4] == ["venv/bin/python", "-m", "infra", "check-pins"]
    args = build_parser().parse_args(command[3:])  # the command our CLI really takes
    assert (args.command, args.stack, args.override_reason) == ("check-pins", job, None)
    assert "continue-on-error" not in steps[check]


@pytest.mark.parametrize("job", ["staging", "production"])
def test_the_override_reason_reaches_check_pins_and_up_through_the_environment(job: str) -> None:
    workflow = load("deploy.yml")
    reason = workflow["on"]["workflow_dispatch"]["inputs"]["override_reason"]
    assert reason["type"] == "string" and reason["required"] is False
    deploy = workflow["jobs"][job]
    assert deploy["env"]["RELEASEGATE_OVERRIDE_REASON"] == REASON
    for step in deploy["steps"]:
        assert "override_reason" not in str(step.get("run", "")), step.get("name")
        assert "RELEASEGATE_OVERRIDE_REASON" not in str(step.get("env", {})), step.get("name")
