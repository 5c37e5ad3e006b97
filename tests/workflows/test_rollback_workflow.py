"""The rollback workflow: a manual dispatch that runs `python -m infra rollback --yes --commit`
with OIDC cloud credentials, then pushes the rollback branch and opens a pull request with the
job's token; inputs reach the script only through the environment."""

from __future__ import annotations

import re
import subprocess
import sys

from infra.cli import build_parser
from infra.plan import PROJECT_ROOT
from tests.workflows.test_workflows import WORKFLOWS, load, steps_text


def _job() -> dict:  # type: ignore[type-arg]
    job: dict = load("rollback.yml")["jobs"]["rollback"]  # type: ignore[type-arg]
    return job


def test_it_is_dispatched_by_hand_for_a_stack_and_service() -> None:
    workflow = load("rollback.yml")
    assert set(workflow["on"]) == {"workflow_dispatch"}
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["options"] == ["production", "staging"]
    assert inputs["service"]["default"] == "all"
    assert {"to", "reason"} <= set(inputs)
    assert workflow["permissions"] == {"contents": "read"}


def test_the_job_may_push_a_branch_and_open_a_pull_request_and_logs_in_over_oidc() -> None:
    job = _job()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write",
                                  "id-token": "write"}  # fmt: skip
    assert job["environment"] == "${{ inputs.stack }}"
    # The deploy jobs' concurrency group: never alongside a deploy of the same stack.
    assert job["concurrency"] == {"group": "deploy-${{ inputs.stack }}",
                                  "cancel-in-progress": False}  # fmt: skip
    deploy = load("deploy.yml")["jobs"]
    assert {deploy[s]["concurrency"]["group"] for s in ("staging", "production")} == {
        "deploy-staging", "deploy-production",
    }  # fmt: skip
    aws = next(s for s in job["steps"] if "configure-aws-credentials" in str(s.get("uses")))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    text = (WORKFLOWS / "rollback.yml").read_text()
    assert "secrets." not in text and "aws-access-key-id" not in text


def test_it_rolls_back_with_commit_then_pushes_and_opens_the_pull_request() -> None:
    job = _job()
    names = [step.get("name", step.get("uses")) for step in job["steps"]]
    roll = next(s for s in job["steps"] if s.get("id") == "rollback")
    publish = job["steps"][names.index("Push the branch and open a pull request")]
    assert names.index(roll["name"]) < names.index(publish["name"])
    script = roll["run"]
    assert "venv/bin/python -m infra rollback" in script
    assert '(--stack "$STACK" --service "$SERVICE" --yes --commit)' in script
    assert "${{" not in script, "an input pasted into the script"
    assert roll["env"]["STACK"] == "${{ inputs.stack }}"
    assert 'echo "branch=$branch" >> "$GITHUB_OUTPUT"' in script
    assert publish["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert publish["env"]["BRANCH"] == "${{ steps.rollback.outputs.branch }}"
    assert 'git push --set-upstream origin "$BRANCH"' in publish["run"]
    assert 'gh pr create --base "$BASE" --head "$BRANCH" --fill' in publish["run"]
    assert "git config user.email" in steps_text(job)


def test_every_flag_the_workflow_passes_exists() -> None:
    """The script's flags parse with the real command line (a renamed flag fails here)."""
    script = next(s for s in _job()["steps"] if s.get("id") == "rollback")["run"]
    lines = [line for line in script.splitlines() if re.search(r"\bargs\+?=", line)]
    flags = sorted(set(re.findall(r"(--[a-z-]+)", "\n".join(lines))))
    assert {"--stack", "--service", "--yes", "--commit", "--to", "--reason"} == set(flags)
    argv = ["rollback"]
    for flag in flags:
        argv += [flag] if flag in ("--yes", "--commit") else [flag, "x"]
    args = build_parser().parse_args(argv)
    assert args.commit and args.yes and args.stack == "x"
    done = subprocess.run([sys.executable, "-m", "infra", "rollback", "--help"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    assert "--commit" in done.stdout
