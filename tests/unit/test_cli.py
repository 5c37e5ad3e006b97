"""`python -m infra plan` as a user runs it: a new process, real stack files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from infra.plan import PROJECT_ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_plan_json_follows_the_contract() -> None:
    result = run("plan", "--stack", "dev", "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["stack"] == "dev" and plan["cloud"] == "local"
    assert plan["resources"]
    for resource in plan["resources"]:
        assert set(resource) == {
            "urn",
            "type",
            "name",
            "parent",
            "inputs",
            "dependencies",
            "protect",
        }
    assert "__provider" not in result.stdout


def test_plan_text_lists_resources_with_protection() -> None:
    result = run("plan", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Stack dev (cloud: local):")
    assert "[protected]" in result.stdout
    assert "[secret]" in result.stdout


def test_diff_of_a_repin_prints_only_what_changes() -> None:
    result = run("plan", "--stack", "dev", "--diff", "--set", "release.web=v0.9.0")
    assert result.returncode == 0, result.stderr
    changed = [line.split()[-1] for line in result.stdout.splitlines() if line[:1] in "+~-"]
    assert "pin-web" in changed and "gate-web" in changed
    assert not [name for name in changed if name.startswith(("database", "migration", "pin-api"))]


def test_bad_config_exits_2_with_the_message_and_no_traceback() -> None:
    result = run("plan", "--stack", "dev", "--set", "services.api.port=70000")
    assert result.returncode == 2
    assert "releasegate:services.api.port: 70000 is not valid" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_stack_names_the_stacks_that_exist() -> None:
    result = run("plan", "--stack", "nope")
    assert result.returncode == 2
    assert "no stack file" in result.stderr and "dev" in result.stderr


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`python -m infra plan ... | head` must not end in a BrokenPipeError traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "infra", "plan", "--stack", "dev"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader goes away before the plan is printed
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr
