"""The GitHub Actions workflows: valid for actionlint (built from its Go module by
scripts/actionlint.sh, never skipped), and holding the properties the release process relies on:
OIDC instead of stored cloud keys, previews with the policy pack and the replacement guard, an
offline plan for forks, staging on main, production behind an environment, deploys that never
cancel each other."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import yaml

from infra.plan import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def steps_text(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) for step in job["steps"])


def test_actionlint_accepts_every_workflow() -> None:
    built = subprocess.run(["bash", "scripts/actionlint.sh"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert built.returncode == 0, built.stderr
    binary = built.stdout.strip().splitlines()[-1]
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2
    result = subprocess.run([binary, *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_stored_cloud_keys_anywhere() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY",
                          "AZURE_CLIENT_SECRET", "client-secret", "creds:"):  # fmt: skip
            assert forbidden not in text, f"{path.name}: {forbidden}"


def test_pull_requests_preview_with_policies_and_the_guard_over_oidc() -> None:
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    preview = workflow["jobs"]["preview"]
    assert preview["permissions"]["id-token"] == "write"
    assert preview["permissions"]["pull-requests"] == "write"
    assert "fork" in preview["if"] and preview["if"].startswith("${{ !")
    text = steps_text(preview)
    assert "--policy-pack policy --policy-pack-config" in text
    assert "pulumi preview" in text and "--diff" in text
    assert "infra.replacement_guard preview.json" in text
    assert "actions/github-script" in text
    stacks = {entry["stack"] for entry in preview["strategy"]["matrix"]["include"]}
    assert {"staging", "production"} <= stacks
    assert "bash scripts/test.sh" in steps_text(workflow["jobs"]["test"])


def test_forks_get_the_offline_plan() -> None:
    job = load("pull-request.yml")["jobs"]["offline-plan"]
    assert "fork" in job["if"] and "!" not in job["if"]
    assert "python -m infra plan --stack" in steps_text(job)
    assert "id-token" not in str(job.get("permissions", ""))


def test_main_deploys_staging_and_production_waits_for_approval() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in workflow["on"] and workflow["on"]["push"]["tags"] == ["v*"]
    staging, production = workflow["jobs"]["staging"], workflow["jobs"]["production"]
    assert "refs/heads/main" in staging["if"]
    assert production["environment"] == "production"
    assert "refs/tags/v" in production["if"] and "workflow_dispatch" in production["if"]
    for job, stack in ((staging, "staging"), (production, "production")):
        assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
        assert job["permissions"]["id-token"] == "write"
        text = steps_text(job)
        assert f"policy/config/{stack}.json" in text and "infra.replacement_guard" in text
        assert "pulumi up --stack " + stack in text


def test_policy_configs_are_mandatory_in_production_and_advisory_in_staging() -> None:
    for stack, level in (("production", "mandatory"), ("staging", "advisory")):
        config = json.loads((PROJECT_ROOT / "policy" / "config" / f"{stack}.json").read_text())
        assert config["all"] == level
        assert all(v["enforcementLevel"] == level for k, v in config.items() if k != "all")
    production = json.loads((PROJECT_ROOT / "policy/config/production.json").read_text())
    assert production["database-backups-retained"]["minBackupRetentionDays"] == 14
