"""The promote workflow: a manual dispatch that runs `python -m infra promote --yes` with OIDC
credentials of its own environment, then commits only the edited stack file on a new branch
and opens a pull request; inputs reach the scripts only through the environment."""

from __future__ import annotations

import shlex
from typing import Any

from infra.cli import build_parser
from tests.workflows.test_workflows import WORKFLOWS, load


def _job() -> dict[str, Any]:
    job: dict[str, Any] = load("promote.yml")["jobs"]["promote"]
    return job


def _step(name_start: str) -> dict[str, Any]:
    return next(s for s in _job()["steps"] if str(s.get("name", "")).startswith(name_start))


def test_it_is_dispatched_by_hand_from_staging_to_production() -> None:
    workflow = load("promote.yml")
    assert set(workflow["on"]) == {"workflow_dispatch"}
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert (inputs["from"]["default"], inputs["to"]["default"]) == ("staging", "production")
    assert inputs["service"]["default"] == "all"
    assert workflow["permissions"] == {"contents": "read"}


def test_the_job_logs_in_over_oidc_with_its_own_role_and_may_open_a_pull_request() -> None:
    job = _job()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write",
                                  "id-token": "write"}  # fmt: skip
    assert job["environment"] == "promotion"
    aws = next(s for s in job["steps"] if "configure-aws-credentials" in str(s.get("uses")))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PROMOTE_ROLE_ARN }}"
    text = (WORKFLOWS / "promote.yml").read_text()
    assert "secrets." not in text and "aws-access-key-id" not in text


def test_it_runs_promote_with_yes_and_commits_only_the_stack_file_when_it_changed() -> None:
    promote = _step("Promote")
    script = promote["run"]
    line = next(x for x in script.splitlines() if "-m infra promote" in x)
    argv = shlex.split(line.split("venv/bin/python -m infra ", 1)[1])
    values = {"$FROM": "staging", "$TO": "production", "$SERVICE": "all"}
    args = build_parser().parse_args([values.get(a, a) for a in argv])
    assert (args.command, args.source, args.to, args.service, args.yes) == (
        "promote", "staging", "production", "all", True,
    )  # fmt: skip
    publish = _step("Commit on a new branch")
    assert publish["if"] == "${{ steps.promote.outputs.changed == 'true' }}"
    for step in (promote, publish):
        assert "${{" not in step["run"], "an input pasted into the script"
    assert promote["env"]["FROM"] == "${{ inputs.from }}"
    assert 'git add -- "Pulumi.$TO.yaml"' in publish["run"]
    assert '-- "Pulumi.$TO.yaml"' in publish["run"].split("git commit", 1)[1]
    assert "gh pr create" in publish["run"]
    assert "pulumi up" not in (WORKFLOWS / "promote.yml").read_text(), "promote never deploys"
