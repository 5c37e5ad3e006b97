"""`python -m infra plan` as a user runs it: a new process, real stack files, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from pulumi import automation as auto

from infra import rollback_run
from infra.cli import main
from infra.plan import PROJECT_ROOT, apply_sets, diff_plans, evaluate, load_stack_config
from infra.render import plan_text, release_order


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


def test_plan_text_opens_with_the_release_order() -> None:
    """A reader sees the order of the release first, not by reconstructing `after:` lines."""
    result = run("plan", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:8] == [
        "Release order:",
        "  1. pin images: api, web, worker, migrations",
        "  2. pre-migration snapshot (taken when the migrations pin changes)",
        "  3. migration",
        "  4. api rollout + gate",
        "  5. web, worker rollouts + gates (side by side)",
        "  6. ledger",
    ]


def order_of(stack: str, *sets: str) -> list[str]:
    return release_order(evaluate(apply_sets(load_stack_config(stack), list(sets))))


def test_release_order_follows_migration_after_and_service_after() -> None:
    """Derived from the graph the program builds: `migration.after` ships the API before the
    snapshot; a worker that waits for no service rolls out beside the API (after the
    migration, which every service not in `migration.after` waits for)."""
    assert order_of("dev", "migration.after=[api]") == [
        "1. pin images: api, web, worker, migrations",
        "2. api rollout + gate",
        "3. pre-migration snapshot (taken when the migrations pin changes)",
        "4. migration",
        "5. web, worker rollouts + gates (side by side)",
        "6. ledger",
    ]
    assert order_of("dev", "services.worker.after=[]") == [
        "1. pin images: api, worker, web, migrations",
        "2. pre-migration snapshot (taken when the migrations pin changes)",
        "3. migration",
        "4. api, worker rollouts + gates (side by side)",
        "5. web rollout + gate",
        "6. ledger",
    ]
    assert order_of("staging", "services.web.after=[]") == [
        "1. pin images: api, web, migrations",
        "2. pre-migration snapshot (taken when the migrations pin changes)",
        "3. migration",
        "4. api, web rollouts + gates (side by side)",
        "5. ledger",
    ]


def test_release_order_names_the_traffic_shift_in_multiple_revision_mode() -> None:
    assert order_of("azure-production")[3:5] == [
        "4. api rollout + gate + traffic shift",
        "5. web rollout + gate + traffic shift",
    ]


def test_a_stack_without_pins_plans_the_foundation_only() -> None:
    plan = evaluate(apply_sets(load_stack_config("staging"), ["release={}"]))
    assert release_order(plan) == []
    text = plan_text(plan).splitlines()
    assert text[1].startswith("Release order: foundation only (the release names no pins")
    assert not [line for line in text if line.lstrip().startswith(("1. ", "+ pulumi-python"))]


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


def test_a_config_typo_exits_2_naming_the_nearest_key() -> None:
    result = run("plan", "--stack", "dev", "--set", "healthgate.intervalSeconds=1")
    assert result.returncode == 2
    assert "releasegate:healthgate: unknown key; did you mean 'healthGate'?" in result.stderr
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


# `releases` and `rollback` against the Automation API, with its real result and error classes.


class FakeStack:
    def __init__(self, outputs: dict[str, Any]) -> None:
        self._outputs = {k: auto.OutputValue(v, secret=False) for k, v in outputs.items()}

    def outputs(self) -> dict[str, auto.OutputValue]:
        return self._outputs

    def export_stack(self) -> auto.Deployment:
        """The checkpoint `releases` reads: the ledger resource's state is what the `ledger`
        output exports (after a successful `up`)."""
        ledger = self._outputs.get("ledger")
        resources = [] if ledger is None else [
            {"type": "pulumi-python:dynamic/gates:ReleaseLedger", "outputs": ledger.value}]
        return auto.Deployment(version=3, deployment={"resources": resources})  # fmt: skip


def releases_of(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], outputs: dict[str, Any],
    *args: str,
) -> tuple[int, str, str]:  # fmt: skip
    monkeypatch.setattr(rollback_run, "open_stack", lambda _name, _cwd: FakeStack(outputs))
    code = main(["releases", "--stack", "staging", "--cwd", str(PROJECT_ROOT), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("outputs", "why"),
    [
        ({}, "its ledger is empty (no `pulumi up` of a release has passed its gates)"),
        ({"ledger": {"current": None, "previous": None, "history": []}}, "its ledger is empty"),
        (
            {"pushTo": {"api": "r/api"}, "nextStep": "foundation only (release names no pins). "
             "Next: push every image"},
            "it is foundation only. foundation only (release names no pins). Next: push",
        ),
    ],
)  # fmt: skip
def test_releases_on_a_stack_with_no_release_yet_says_so_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], outputs: dict[str, Any],
    why: str,
) -> None:  # fmt: skip
    code, out, err = releases_of(monkeypatch, capsys, outputs)
    assert code == 0, err
    assert out.startswith(f"no release yet on stack 'staging': {why}")
    assert len(out.splitlines()) == 1 and err == ""
    code, out, _ = releases_of(monkeypatch, capsys, outputs, "--format", "json")
    assert code == 0 and json.loads(out) == []


def test_releases_lists_a_recorded_release(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    service = {"tag": "v1.0.0", "digest": "sha256:" + "a" * 64,
               "gate": {"served_version": "v1.0.0", "elapsed_seconds": 4}}  # fmt: skip
    entry = {"id": "r1", "recorded_at": "2026-11-29T10:00:00Z", "services": {"api": service},
             "migrations": {"tag": "v1.0.0", "snapshot": "pre-migrate-v1.0.0-x"}}  # fmt: skip
    code, out, _ = releases_of(monkeypatch, capsys, {"ledger": {"current": entry,
                                                                "history": [entry]}})  # fmt: skip
    assert code == 0
    assert out.splitlines()[0] == "r1  recorded 2026-11-29T10:00:00Z"


def failing_select(error: Exception) -> Callable[..., Any]:
    def select_stack(**_kwargs: Any) -> Any:
        raise error

    return select_stack


# What `pulumi stack select` gives the Automation API for a stack the backend does not have:
# exit code 6 (ExitStackNotFound) with or without "no stack named" on stderr.
MISSING = [
    auto.errors.StackNotFoundError(auto.CommandResult("", "error: no stack named 'x' found", 6)),
    auto.errors.CommandError(auto.CommandResult("", "", 6)),
]


@pytest.mark.parametrize("error", MISSING)
@pytest.mark.parametrize("command", ["releases", "rollback"])
def test_a_stack_missing_from_the_backend_is_one_clean_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception,
    command: str,
) -> None:  # fmt: skip
    monkeypatch.setattr(auto, "select_stack", failing_select(error))
    extra = ["--yes"] if command == "rollback" else []
    code = main([command, "--stack", "x", "--cwd", str(PROJECT_ROOT), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "error: stack 'x' does not exist in the current backend (`pulumi stack ls` lists those "
        "that do, `pulumi whoami -v` names the backend); select or create it with "
        "`pulumi stack select --create x`\n"
    )


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            auto.CommandResult("", "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
                               "PULUMI_CONFIG_PASSPHRASE_FILE environment variables", 255),
            "stack 'x' encrypts its secrets with a passphrase (passphrase must be set with "
            "PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables): "
            "export PULUMI_CONFIG_PASSPHRASE",
        ),
        (
            auto.CommandResult("", "error: PULUMI_ACCESS_TOKEN must be set for login during "
                               "non-interactive CLI sessions", 3),
            "the Pulumi backend refused the login (PULUMI_ACCESS_TOKEN must be set for login "
            "during non-interactive CLI sessions): run `pulumi login`",
        ),
        (
            auto.CommandResult("Updating...\n", "warning: x\nerror: the stack is locked\n", 1),
            "the Pulumi CLI failed on stack 'x': the stack is locked",
        ),
    ],
)  # fmt: skip
def test_other_backend_errors_are_one_sentence_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    result: auto.CommandResult, expected: str,
) -> None:  # fmt: skip
    class Stack(FakeStack):
        def outputs(self) -> dict[str, auto.OutputValue]:
            raise auto.errors.CommandError(result)

    monkeypatch.setattr(rollback_run, "open_stack", lambda _name, _cwd: Stack({}))
    for command in (["releases"], ["rollback", "--yes"]):
        code = main([*command, "--stack", "x", "--cwd", str(PROJECT_ROOT)])
        err = capsys.readouterr().err
        assert code == 2
        assert err.startswith(f"error: {expected}") and len(err.splitlines()) == 1, err
        assert "code:" not in err and "stderr:" not in err


def test_the_readme_rollback_by_hand_example_changes_something_on_dev() -> None:
    """Walk the README's by-hand block in order, as a reader would: each `plan --diff --set`
    must print a non-empty diff (touching only the API and the ledger) from the config that the
    `pulumi config set` lines before it left, and the block ends where dev began."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("\n## Rolling back\n", 1)[1].split("\n## ", 1)[0]
    block = next(b for b in re.findall(r"```bash\n(.*?)```", section, re.S) if "--diff" in b)
    start = load_stack_config("dev")
    config, diffs = start, 0
    for line in block.splitlines():
        if plan := re.search(r"python -m infra plan --stack dev --diff --set (\S+)", line):
            changes = diff_plans(evaluate(config), evaluate(apply_sets(config, [plan[1]])))
            touched = {c.resource.name for c in changes}
            assert "pin-api" in touched and "gate-api" in touched, line
            release_records = ("release-ledger", "release-attempt", "freeze-guard")
            assert not {n for n in touched if "api" not in n and n not in release_records}, touched
            diffs += 1
        if pin := re.search(r"pulumi config set --path '([^']+)' (\S+) --stack dev", line):
            config = apply_sets(config, [f"{pin[1]}={pin[2]}"])
    assert diffs == 2
    assert config.values == start.values
