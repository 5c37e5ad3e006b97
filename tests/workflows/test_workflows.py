"""The GitHub Actions workflows: valid for actionlint (built from its Go module by
scripts/actionlint.sh, never skipped), and holding the properties the release process relies on:
OIDC instead of stored cloud keys, previews with the policy pack and the replacement guard, an
offline plan for forks, staging on main, production behind an environment, deploys that never
cancel each other."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from infra.images import github_outputs, image_list, settings_of
from infra.plan import PROJECT_ROOT, load_stack_config
from tests.unit.test_images import AWS_STACK

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
    assert len(files) == 4
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


def test_release_tags_build_and_push_images_before_the_deploy() -> None:
    jobs = load("deploy.yml")["jobs"]
    images, push = jobs["images"], jobs["push"]
    assert push["needs"] == "images" and "needs.images.outputs.count != '0'" in push["if"]
    assert push["strategy"]["matrix"] == "${{ fromJSON(needs.images.outputs.matrix) }}"
    assert push["strategy"]["fail-fast"] is False
    assert push["concurrency"]["cancel-in-progress"] is False
    for name in ("staging", "production"):
        deploy = jobs[name]
        assert deploy["needs"] == ["images", "push"]
        # Runs after the image jobs passed, or when they were skipped; never after a failure.
        assert deploy["if"].startswith("${{ !failure() && !cancelled() && (")
    listing = steps_text(images)
    assert "python -m infra images --stack" in listing and "--release-tag" in listing
    assert "git ls-remote --tags origin 'refs/tags/v*'" in listing
    assert '--format github >> "$GITHUB_OUTPUT"' in listing
    pushing = steps_text(push)
    assert "aws-actions/amazon-ecr-login@v2" in pushing and "azure/login@v2" in pushing
    assert "az acr login --name" in pushing
    # Azure pushes run inside the stack's network (a private registry answers nowhere else);
    # AWS pushes on a GitHub-hosted runner.
    runs_on = push["runs-on"]
    assert runs_on.startswith("${{ needs.images.outputs.cloud == 'azure' && fromJSON(")
    labels = json.loads(runs_on.split("fromJSON('", 1)[1].split("')", 1)[0])
    assert labels == ["self-hosted", "linux", "releasegate-azure"]
    assert runs_on.endswith("|| 'ubuntu-latest' }}")
    # look the image up first (immutable tags: a re-run skips), build and push only then
    assert pushing.index("aws ecr describe-images") < pushing.index("docker buildx build")
    assert "--push" in pushing


def test_a_tag_push_deploys_production_only() -> None:
    jobs = load("deploy.yml")["jobs"]
    production, staging = jobs["production"]["if"], jobs["staging"]["if"]
    assert "github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v')" in production
    assert "refs/tags" not in staging
    listed = next(s for s in jobs["images"]["steps"] if s.get("id") == "list")
    # the stack built for is the stack deployed: a dispatch names it, a tag push is production,
    # a push to main is staging
    assert listed["env"]["STACK"] == (
        "${{ github.event_name == 'workflow_dispatch' && inputs.stack || "
        "startsWith(github.ref, 'refs/tags/') && 'production' || 'staging' }}"
    )


def test_image_builds_can_be_switched_off_for_teams_that_build_elsewhere() -> None:
    images = load("deploy.yml")["jobs"]["images"]
    assert images["if"] == "${{ vars.RELEASEGATE_BUILD_IMAGES != 'false' }}"


def test_id_token_only_where_a_cloud_login_happens() -> None:
    workflow = load("deploy.yml")
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        logs_in = any(
            str(step.get("uses", "")).startswith(
                ("aws-actions/configure-aws-credentials", "azure/login")
            )
            for step in job["steps"]
        )
        assert (job["permissions"].get("id-token") == "write") is logs_in, name
    assert "id-token" not in workflow["jobs"]["images"]["permissions"]


def test_image_push_uses_its_own_oidc_identity() -> None:
    steps = load("deploy.yml")["jobs"]["push"]["steps"]
    aws = next(s for s in steps if "configure-aws-credentials" in str(s.get("uses")))
    assert aws["with"] == {
        "role-to-assume": "${{ vars.AWS_IMAGE_PUSH_ROLE_ARN }}",
        "aws-region": "${{ needs.images.outputs.region }}",
    }
    azure = next(s for s in steps if "azure/login" in str(s.get("uses")))
    assert set(azure["with"]) == {"client-id", "tenant-id", "subscription-id"}
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "secrets." not in text


def test_the_workflow_reads_only_what_python_m_infra_images_prints(tmp_path: Path) -> None:
    """The job outputs and matrix fields the workflow uses exist in the CLI's output."""
    stack_file = tmp_path / "Pulumi.production.yaml"
    stack_file.write_text(yaml.safe_dump({"config": AWS_STACK}))
    settings = settings_of(load_stack_config("production", stack_file))
    printed = dict(
        line.split("=", 1) for line in github_outputs(image_list(settings, ["v1.5.0"])).splitlines()
    )
    jobs = load("deploy.yml")["jobs"]
    declared = set(jobs["images"]["outputs"])
    assert declared == {*printed, "stack", "release_tags"}
    text = (WORKFLOWS / "deploy.yml").read_text()
    used_outputs = set(re.findall(r"needs\.images\.outputs\.([a-z_]+)", text))
    assert used_outputs <= declared
    fields = set(json.loads(printed["matrix"])["include"][0])
    assert set(re.findall(r"matrix\.([a-z_]+)", text)) <= fields
