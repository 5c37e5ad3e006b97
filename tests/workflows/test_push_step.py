"""The deploy workflow's "Build and push unless the registry has it" step, run for real with
bash, against stand-in `aws`, `az` and `docker` commands that answer like the real ones
(ECR DescribeImages raises ImageNotFoundException for a missing image: botocore's ecr
2015-09-21 model). What a release relies on: a re-run skips an image already pushed (ECR tags
are immutable), a pin equal to the tag is built with the stack's context, Dockerfile, target and
build args and pushed, a pin that is neither built now nor in the registry fails naming the stack
file and the pin, and a registry error is never mistaken for "absent".
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.test_workflows import load

DIGEST = "sha256:" + "b" * 64

AWS_STUB = """#!/usr/bin/env bash
echo "aws $*" >> "$STUB_STATE/calls"
if [[ -f "$STUB_STATE/denied" ]]; then
  echo "An error occurred (AccessDeniedException) when calling the DescribeImages operation" >&2
  exit 254
fi
if [[ -f "$STUB_STATE/present" ]]; then echo "@DIGEST@"; exit 0; fi
echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: \
The image with imageId {imageTag:'v1.5.0'} does not exist" >&2
exit 254
""".replace("@DIGEST@", DIGEST)

AZ_STUB = """#!/usr/bin/env bash
echo "az $*" >> "$STUB_STATE/calls"
if [[ -f "$STUB_STATE/denied" ]]; then
  # A registry with public network access disabled, asked from outside its network.
  echo "ERROR: denied: client with IP '203.0.113.7' is not allowed access. \
Refer https://aka.ms/acr/firewall to grant access." >&2
  exit 1
fi
if [[ -f "$STUB_STATE/present" ]]; then echo "@DIGEST@"; exit 0; fi
echo "ERROR: manifest unknown: manifest tagged by \\"v1.5.0\\" is not found" >&2
exit 1
""".replace("@DIGEST@", DIGEST)

DOCKER_STUB = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$STUB_STATE/docker-args"
touch "$STUB_STATE/present"
"""


def push_script() -> str:
    steps = load("deploy.yml")["jobs"]["push"]["steps"]
    step = next(s for s in steps if s.get("name") == "Build and push unless the registry has it")
    return str(step["run"])


def run_step(tmp_path: Path, env: dict[str, str], state: tuple[str, ...] = ()) -> Any:
    bin_dir, state_dir = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state_dir.mkdir()
    for name, body in (("aws", AWS_STUB), ("az", AZ_STUB), ("docker", DOCKER_STUB)):
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    for flag in state:
        (state_dir / flag).touch()
    script = tmp_path / "step.sh"
    script.write_text(push_script())
    full_env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "STUB_STATE": str(state_dir),
        "GITHUB_SHA": "0123abc",
        "GITHUB_REF_NAME": "v1.5.0",
        "CLOUD": "aws",
        "REGION": "eu-west-1",
        "REGISTRY": "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
        "REPOSITORY": "releasegate/web",
        "REFERENCE": "v1.5.0",
        "PINNED_BY": "release.web",
        "BUILD": "true",
        "CONTEXT": "app",
        "DOCKERFILE": "app/Dockerfile",
        "TARGET": "",
        "BUILD_ARGS": json.dumps({"APP_ROLE": "web", "APP_VERSION": "v1.5.0"}),
        "STACK": "production",
        "RELEASE_TAGS": "v1.5.0",
        **env,
    }
    result = subprocess.run(["bash", str(script)], env=full_env, capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    calls = (state_dir / "calls").read_text() if (state_dir / "calls").exists() else ""
    docker = state_dir / "docker-args"
    docker_args = docker.read_text().splitlines() if docker.exists() else None
    return result, calls, docker_args


def test_a_pin_equal_to_the_tag_is_built_and_pushed_with_the_stack_build(tmp_path: Path) -> None:
    result, calls, docker = run_step(tmp_path, {"TARGET": "runtime"})
    assert result.returncode == 0, result.stderr
    assert docker == [
        "buildx", "build",
        "--file", "app/Dockerfile",
        "--tag", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/releasegate/web:v1.5.0",
        "--push",
        "--label", "org.opencontainers.image.revision=0123abc",
        "--target", "runtime",
        "--build-arg", "APP_ROLE=web",
        "--build-arg", "APP_VERSION=v1.5.0",
        "app",
    ]  # fmt: skip
    # looked up before the build (absent) and after it (present, with its digest)
    assert calls.count("aws ecr describe-images") == 2
    assert "--repository-name releasegate/web --image-ids imageTag=v1.5.0" in calls
    assert f"({DIGEST})" in result.stdout


def test_a_rerun_skips_an_image_whose_tag_exists(tmp_path: Path) -> None:
    result, _, docker = run_step(tmp_path, {}, state=("present",))
    assert result.returncode == 0, result.stderr
    assert docker is None
    assert "is in the registry" in result.stdout and "not pushing again" in result.stdout


def test_a_pin_neither_built_now_nor_in_the_registry_fails_naming_it(tmp_path: Path) -> None:
    result, _, docker = run_step(
        tmp_path, {"REFERENCE": "v1.4.1", "BUILD": "false", "PINNED_BY": "release.api"}
    )
    assert result.returncode == 1 and docker is None
    assert "::error::Pulumi.production.yaml pins release.api to v1.4.1, which is not in" in (
        result.stdout
    )


def test_a_registry_error_is_not_taken_for_a_missing_image(tmp_path: Path) -> None:
    result, _, docker = run_step(tmp_path, {}, state=("denied",))
    assert result.returncode != 0 and docker is None
    assert "AccessDeniedException" in result.stderr


def test_a_digest_pin_is_looked_up_by_digest_and_never_built(tmp_path: Path) -> None:
    result, calls, docker = run_step(tmp_path, {"REFERENCE": DIGEST, "BUILD": "false"})
    assert result.returncode == 1 and docker is None
    assert f"--image-ids imageDigest={DIGEST}" in calls


@pytest.mark.parametrize("present", [False, True])
def test_azure_stacks_push_to_acr(tmp_path: Path, present: bool) -> None:
    env = {"CLOUD": "azure", "REGION": "", "REGISTRY": "releasegatestaging47bde1.azurecr.io"}
    result, calls, docker = run_step(tmp_path, env, state=("present",) if present else ())
    assert result.returncode == 0, result.stderr
    assert "az acr repository show --name releasegatestaging47bde1 --image " in calls
    assert "--image releasegate/web:v1.5.0 --query digest" in calls
    assert (docker is None) is present
    if not present:
        assert docker is not None
        assert "releasegatestaging47bde1.azurecr.io/releasegate/web:v1.5.0" in docker


def test_a_private_registry_refusing_the_runner_stops_naming_the_route(tmp_path: Path) -> None:
    """Outside the stack's network a private registry refuses the look-up: the job stops before
    any build, naming the self-hosted runner, and never takes the refusal for "absent"."""
    env = {"CLOUD": "azure", "REGION": "", "REGISTRY": "releasegateprod3f5cd1.azurecr.io"}
    result, calls, docker = run_step(tmp_path, env, state=("denied",))
    assert result.returncode != 0 and docker is None
    assert "az acr repository show" in calls
    assert "self-hosted runner labelled releasegate-azure" in result.stderr
    assert "not allowed access" in result.stderr
