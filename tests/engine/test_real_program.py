"""The real program (infra/, `main: infra/`, Pulumi.yaml's typed config) under the real
engine, as far as it runs without the cloud provider plugins: the engine accepts the project
and stack files, starts the program through the `main:` folder and the relative virtualenv,
and a user mistake or a missing provider plugin ends with one clean message, no traceback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.engine.conftest import REPO, _environment


def pulumi(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pulumi", *args, "--non-interactive"], cwd=root, env=env, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture
def staging(pulumi_bin: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "infra", root / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "venv").symlink_to(REPO / "venv")
    env = _environment(pulumi_bin, tmp_path / "state")
    init = pulumi(root, env, "stack", "init", "staging")
    assert init.returncode == 0, init.stderr
    return root, env


@pytest.mark.timeout(300)
def test_staging_runs_the_aws_target_and_names_the_missing_plugin(
    staging: tuple[Path, dict[str, str]],
) -> None:
    """The engine accepts the project and the staging stack, runs the AWS target through
    `main: infra/` and the relative virtualenv, and stops cleanly at the first AWS resource:
    the `aws` provider plugin cannot be installed here, and the message says exactly which one
    a user must install (`pulumi plugin install resource aws 7.51.1`)."""
    root, env = staging
    result = pulumi(root, env, "preview", "--stack", "staging")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "validating stack config" not in output, output
    assert "no resource plugin 'pulumi-resource-aws' found" in output, output
    assert "v7.51.1" in output, output
    assert "Traceback" not in output


@pytest.mark.timeout(300)
def test_a_bad_pin_fails_preview_with_the_validation_message(
    staging: tuple[Path, dict[str, str]],
) -> None:
    root, env = staging
    pulumi(root, env, "config", "set", "--path", "release.api", "latest", "--stack", "staging")
    result = pulumi(root, env, "preview", "--stack", "staging")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "invalid stack config for stack 'staging' (1 problem); nothing was changed" in output
    assert "releasegate:release.api: 'latest' is a mutable tag" in output
    assert "Traceback" not in output


@pytest.mark.timeout(300)
def test_a_stack_without_pins_is_accepted_as_a_foundation(
    staging: tuple[Path, dict[str, str]],
) -> None:
    """With `release` removed from the (copied) stack file, the engine accepts the stack
    (Pulumi.yaml gives `release` the default {}: a declared key without a default would be
    refused as missing) and the program runs the foundation up to the first AWS resource; a
    stack pinning only some images is refused with the validation message."""
    root, env = staging
    removed = pulumi(root, env, "config", "rm", "release", "--stack", "staging")
    assert removed.returncode == 0, removed.stderr
    result = pulumi(root, env, "preview", "--stack", "staging")
    output = result.stdout + result.stderr
    # Without the default the engine stops here: "validating stack config: Stack 'staging' is
    # missing configuration value 'release'" (seen with this CLI).
    assert "validating stack config" not in output, output
    assert "missing configuration value" not in output, output
    assert "no resource plugin 'pulumi-resource-aws' found" in output, output
    assert "Traceback" not in output
    pulumi(root, env, "config", "set", "--path", "release.api", "v1.4.2", "--stack", "staging")
    partial = pulumi(root, env, "preview", "--stack", "staging")
    output = partial.stdout + partial.stderr
    assert partial.returncode != 0
    assert "releasegate:release.migrations: missing" in output, output
    assert "or none for a foundation-only deploy" in output, output
    assert "Traceback" not in output


@pytest.mark.timeout(300)
def test_a_config_typo_fails_preview_naming_the_nearest_key(
    staging: tuple[Path, dict[str, str]],
) -> None:
    """The CLI itself accepts keys Pulumi.yaml does not declare (`config set` writes them and
    `preview` validates only declared keys), so the program's message is the one a user sees:
    the typo and the nearest known key, at the top level and inside an object."""
    root, env = staging
    for path, value in (("relase.api", "v1"), ("healthGate.intervalSecond", "2")):
        written = pulumi(root, env, "config", "set", "--path", path, value, "--stack", "staging")
        assert written.returncode == 0, written.stderr
    result = pulumi(root, env, "preview", "--stack", "staging")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "invalid stack config for stack 'staging' (2 problems); nothing was changed" in output
    assert "releasegate:relase: unknown key; did you mean 'release'?" in output, output
    assert ("releasegate:healthGate.intervalSecond: unknown setting; did you mean "
            "'intervalSeconds'?") in output, output  # fmt: skip
    assert "Traceback" not in output


def infra(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "venv" / "bin" / "python"), "-m", "infra", *args], cwd=root, env=env,
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.mark.timeout(300)
def test_a_new_stack_file_and_the_release_commands_before_any_release(
    staging: tuple[Path, dict[str, str]],
) -> None:
    """`pulumi stack init` with the passphrase provider appended `encryptionsalt` to the copied
    stack file, and the offline plan still reads it; `releases` on the stack, which has no
    release yet, says so and exits 0; a stack the backend lacks is one clean sentence."""
    root, env = staging
    stack_file = (root / "Pulumi.staging.yaml").read_text()
    assert "\nencryptionsalt: v1:" in stack_file
    plan = infra(root, env, "plan", "--stack", "staging", "--config-file",
                 str(root / "Pulumi.staging.yaml"))  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert "Release order:" in plan.stdout
    releases = infra(root, env, "releases", "--stack", "staging", "--cwd", str(root))
    assert releases.returncode == 0, releases.stderr
    assert releases.stdout == (
        "no release yet on stack 'staging': its ledger is empty (no `pulumi up` of a release "
        "has passed its gates)\n"
    )
    for command in ("releases", "rollback"):
        missing = infra(root, env, command, "--stack", "nope", "--cwd", str(root))
        assert missing.returncode == 2
        assert missing.stderr == (
            "error: stack 'nope' does not exist in the current backend (`pulumi stack ls` lists "
            "those that do, `pulumi whoami -v` names the backend); select or create it with "
            "`pulumi stack select --create nope`\n"
        ), missing.stderr
