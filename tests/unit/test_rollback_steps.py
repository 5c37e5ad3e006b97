"""Rollback order and steps: reverse release order, one gated `up` per service with the left
release in RELEASEGATE_ROLLBACK_OF, what a failed step says, the stack file's report, and
`--commit` on a new branch of a real (temporary) git repository."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from infra.cli import build_parser
from infra.release_env import ROLLBACK_OF_ENV
from infra.rollback import RollbackError, plan_rollback, release_sequence, rollback_steps
from infra.rollback_commit import (
    branch_name,
    check_committable,
    commit_on_new_branch,
    file_pins,
    reminder,
)
from infra.rollback_run import rollback
from infra.rollback_steps import print_steps, release_order, run_steps


def svc(tag: str) -> dict[str, Any]:
    return {"tag": tag, "digest": f"sha256:{tag}",
            "gate": {"served_version": tag, "elapsed_seconds": 3}}  # fmt: skip


def release(rid: str, migrations: str = "m1", **tags: str) -> dict[str, Any]:
    return {"id": rid, "recorded_at": "2026-11-29T10:00:00Z",
            "services": {name: svc(tag) for name, tag in tags.items()},
            "migrations": {"tag": migrations, "digest": f"sha256:{migrations}"}}  # fmt: skip


def test_a_chain_rolls_back_in_reverse_release_order() -> None:
    """c ships after b, b after a (declared in any order): the release goes a, b, c; the
    rollback re-pins c, then b, then a."""
    chain = [("c", ["b"]), ("a", []), ("b", ["a"])]
    assert release_sequence(chain) == ["a", "b", "c"]
    steps = rollback_steps({"a": "v1", "b": "v1", "c": "v1"}, release_sequence(chain))
    assert steps == [("c", "v1"), ("b", "v1"), ("a", "v1")]
    # Only the services re-pinned get a step; a single service is one step.
    assert rollback_steps({"b": "v1"}, release_sequence(chain)) == [("b", "v1")]


def test_services_the_migration_waits_for_shipped_first_and_roll_back_last() -> None:
    services = [("api", []), ("web", ["api"]), ("worker", [])]
    assert release_sequence(services, ["worker"]) == ["worker", "api", "web"]
    steps = rollback_steps({"api": "v1", "web": "v1", "worker": "v1"},
                           release_sequence(services, ["worker"]))  # fmt: skip
    assert [name for name, _ in steps] == ["web", "api", "worker"]


def test_a_service_no_longer_configured_goes_first() -> None:
    assert rollback_steps({"api": "v1", "old": "v1"}, ["api"]) == [("old", "v1"), ("api", "v1")]


def test_the_project_order_comes_from_after_in_the_stack_file(tmp_path: Path) -> None:
    """releasegate's own program: the order the validated Settings give (web after api, and
    worker declared first but after web)."""
    (tmp_path / "Pulumi.yaml").write_text((Path(__file__).parents[2] / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  releasegate:cloud: local\n"
        "  releasegate:release: {api: v2, web: v2, worker: v2, migrations: m1}\n"
        "  releasegate:services:\n"
        "    worker: {after: [web]}\n"
        "    web: {port: 3000, healthPath: /health, after: [api]}\n"
        "    api: {port: 8000, healthPath: /health}\n"
    )
    assert release_order(None, "dev", tmp_path, "releasegate") == ["api", "web", "worker"]


class FakeAutomationStack:
    """The Automation API stack as the steps use it: config, `up` (records a ledger entry of
    the pins, or fails for a pin in `failing`) and the workspace's env_vars."""

    def __init__(self, ledger: dict[str, Any], pins: dict[str, str], failing: set[str]) -> None:
        self.ledger = ledger
        self.pins = dict(pins)
        self.failing = failing
        self.workspace = type("Workspace", (), {"env_vars": {"KEEP": "1"}})()
        self.ups: list[tuple[dict[str, str], dict[str, str]]] = []

    def set_config(self, key: str, value: auto.ConfigValue, path: bool = False) -> None:
        assert path and ":release." in key
        self.pins[key.rsplit(".", 1)[1]] = value.value

    def up(self, on_output: Any = None) -> None:
        self.ups.append((dict(self.pins), dict(self.workspace.env_vars)))
        if any(self.pins.get(name) == pin for name, pin in self.failing_pins()):
            raise auto.errors.CommandError(auto.CommandResult(
                "", "error: health gate for 'api' failed: serves v2", 255))  # fmt: skip
        services = {k: svc(v) for k, v in self.pins.items() if k != "migrations"}
        entry = {"id": "-".join(f"{k}{v}" for k, v in sorted(self.pins.items())),
                 "services": services, "migrations": {"tag": "m1"}}  # fmt: skip
        self.ledger = {"current": entry, "history": [entry, *self.ledger["history"]]}

    def failing_pins(self) -> list[tuple[str, str]]:
        return [tuple(f.split("=")) for f in self.failing]  # type: ignore[misc]

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {"ledger": auto.OutputValue(value=self.ledger, secret=False)}

    def export_stack(self) -> auto.Deployment:
        """The checkpoint the refused digests are read from: the ledger resource's outputs."""
        resource = {"type": "pulumi-python:dynamic/gates:ReleaseLedger", "outputs": self.ledger}
        return auto.Deployment(version=3, deployment={"resources": [resource]})

    def get_config(self, key: str, path: bool = False) -> auto.ConfigValue:
        if path:  # other:release.<service>
            return auto.ConfigValue(self.pins[key.rsplit(".", 1)[1]])
        assert key == "other:release"
        return auto.ConfigValue(json.dumps(self.pins))

    def preview(self, diff: bool = False) -> Any:
        """`show_changes` previews another project's re-pins (and sets them back after)."""
        return type("Preview", (), {"stdout": f"preview of {sorted(self.pins.items())}"})()

    def get_all_config(self) -> dict[str, auto.ConfigValue]:
        services = {"api": {}, "web": {"after": ["api"]}}
        return {"other:services": auto.ConfigValue(json.dumps(services))}


R2 = release("r2", api="v2", web="v2")
R1 = release("r1", api="v1", web="v1")
LEDGER = {"current": R2, "history": [R2, R1]}
PINS = {"api": "v2", "web": "v2", "migrations": "m1"}


def _run(stack: FakeAutomationStack, cwd: Path, *, service: str = "all",
         wanted: str | None = None) -> tuple[int, str]:  # fmt: skip
    plan = plan_rollback(stack.ledger, stack.pins, service, wanted)
    steps = rollback_steps(plan.repins, ["api", "web"])
    out = io.StringIO()
    print_steps(steps, stack.pins, plan, out)
    code = run_steps(stack, "dev", cwd, "releasegate", plan, dict(stack.pins), steps,
                     "python -m infra rollback --stack dev --to r1", None, out, 0.0)  # fmt: skip
    return code, out.getvalue()


def test_each_step_is_its_own_up_with_the_left_release_in_its_environment(
    tmp_path: Path,
) -> None:
    stack = FakeAutomationStack(LEDGER, PINS, failing=set())
    code, text = _run(stack, tmp_path)
    assert code == 0, text
    assert [pins for pins, _ in stack.ups] == [
        {"api": "v2", "web": "v1", "migrations": "m1"},  # web first
        {"api": "v1", "web": "v1", "migrations": "m1"},  # then the api it calls
    ]
    assert all(env == {"KEEP": "1", ROLLBACK_OF_ENV: "r2"} for _, env in stack.ups)
    assert stack.workspace.env_vars == {"KEEP": "1"}, "the variable outlived the steps"
    plan_lines = text[: text.index("step 1/2")]
    assert "1. web: v2 -> v1" in plan_lines and "2. api: v2 -> v1" in plan_lines
    assert text.index("step 1/2 done: web serves v1") < text.index("step 2/2: api v2 -> v1")


def test_a_failed_step_stops_and_says_what_is_done_left_and_how_to_go_on(tmp_path: Path) -> None:
    stack = FakeAutomationStack(LEDGER, PINS, failing={"api=v1"})
    code, text = _run(stack, tmp_path)
    assert code == 1
    assert len(stack.ups) == 2
    assert "rollback FAILED at step 2/2 (api -> v1)" in text
    assert "health gate for 'api' failed" in text
    assert "Re-pinned and through their gates: web v1." in text
    assert "Failed: api is pinned at v1 in the stack file but did not pass its gate" in text
    assert "Not started: nothing." in text
    assert "run `python -m infra rollback --stack dev --to r1`: it retries api first" in text
    # Going on: the same command with --to plans the failed step again (a retry) and nothing
    # else, as web already runs the target.
    plan = plan_rollback(stack.ledger, stack.pins, "all", "r1")
    assert plan.repins == {"api": "v1"} and plan.retry == ("api",)
    assert plan.unchanged == ("web",)


def test_the_default_target_never_brings_back_a_rolled_back_pin() -> None:
    """After a rollback from r2 to r1 (through a step with web back and the api not yet), a
    second rollback does not pick that step or r2: both bring a digest r2 brought."""
    final = release("f", api="v1", web="v1")
    final["id"] = "r1"
    between = release("i", api="v2", web="v1")
    ledger = {"current": final, "history": [final, between, R2, R1]}
    pins = {"api": "v1", "web": "v1", "migrations": "m1"}
    rolled_back = {"api": {"sha256:v2"}, "web": {"sha256:v2"}}
    assert plan_rollback(ledger, pins, "all").target["id"] == "i"  # without the record
    with pytest.raises(RollbackError, match="no older release to roll back to: the stack runs r1"):
        plan_rollback(ledger, pins, "all", refused=rolled_back)
    r3 = release("r3", api="v3", web="v3")
    newer = {"current": r3, "history": [r3, R2, R1]}
    pinned = {"api": "v3", "web": "v3", "migrations": "m1"}
    assert plan_rollback(newer, pinned, "all", refused=rolled_back).target["id"] == "r1"
    # Only the images rolled back count: web alone may go to r2's web if only the api was bad.
    assert plan_rollback(newer, pinned, "web", refused={"api": {"sha256:v2"}}).repins == {
        "web": "v2"
    }
    # --to names a release explicitly: it is taken as asked.
    assert plan_rollback(newer, pinned, "all", "r2", refused=rolled_back).target["id"] == "r2"


def test_a_first_step_that_fails_leaves_the_rest_not_started(tmp_path: Path) -> None:
    stack = FakeAutomationStack(LEDGER, PINS, failing={"web=v1"})
    code, text = _run(stack, tmp_path)
    assert code == 1 and len(stack.ups) == 1
    assert "rollback FAILED at step 1/2 (web -> v1)" in text
    assert "Re-pinned and through their gates: nothing." in text
    assert "Not started: api: v2 -> v1." in text
    assert "the stack still runs release r2" in text


def test_the_closing_report_names_the_file_its_pins_and_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  releasegate:release:\n    api: v1\n    web: v1\n"
                    "    migrations: m1\n  releasegate:cloud: local\n")  # fmt: skip
    assert file_pins(path, "releasegate") == {"api": "v1", "web": "v1", "migrations": "m1"}
    text = reminder(path, "releasegate", [("web", "v2"), ("api", "v2")], "Roll back dev to r1")
    assert f"The stack file {path} changed; it now pins: api=v1, web=v1, migrations=m1." in text
    assert f"Commit it: git commit -m 'Roll back dev to r1' -- {path}" in text
    assert "otherwise the next deploy from the repository ships web v2, api v2 again" in text


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "--quiet", "--initial-branch", "main")
    _git(root, "config", "user.name", "Test")
    _git(root, "config", "user.email", "test@example.com")
    (root / "Pulumi.dev.yaml").write_text("config:\n  releasegate:release: {api: v2}\n")
    (root / "README.md").write_text("readme\n")
    _git(root, "add", ".")
    _git(root, "commit", "--quiet", "-m", "initial")
    return root


def test_the_branch_name_is_stack_release_and_utc_time() -> None:
    name = branch_name("production", "3f2a9c1e4b5d",
                       datetime(2026, 11, 29, 13, 5, 9, tzinfo=UTC))  # fmt: skip
    assert name == "rollback/production-3f2a9c1e4b5d-20261129T130509Z"
    assert re.fullmatch(r"rollback/dev-r1-\d{8}T\d{6}Z", branch_name("dev", "r1"))


def test_commit_goes_on_a_new_branch_with_only_the_stack_file(repo: Path) -> None:
    target = check_committable(repo / "Pulumi.dev.yaml")
    assert target.branch == "main"
    (repo / "Pulumi.dev.yaml").write_text("config:\n  releasegate:release: {api: v1}\n")
    (repo / "README.md").write_text("an unrelated change\n")  # staged, not committed with it
    _git(repo, "add", "README.md")
    commit_on_new_branch(target, "rollback/dev-r1-20261129T130509Z", "Roll back dev to r1")
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "rollback/dev-r1-20261129T130509Z"
    assert _git(repo, "show", "--name-only", "--format=%s", "HEAD").splitlines() == [
        "Roll back dev to r1", "", "Pulumi.dev.yaml",
    ]
    assert _git(repo, "log", "--format=%s", "main") == "initial", "main changed"
    assert _git(repo, "status", "--porcelain") == "M  README.md"


def test_commit_is_refused_before_anything_changes(repo: Path, tmp_path: Path) -> None:
    (repo / "Pulumi.dev.yaml").write_text("config:\n  releasegate:release: {api: v3}\n")
    with pytest.raises(RollbackError, match=r"Pulumi.dev.yaml has changes that are not committed"):
        check_committable(repo / "Pulumi.dev.yaml")
    (repo / "Pulumi.new.yaml").write_text("config: {}\n")
    with pytest.raises(RollbackError, match=r"Pulumi.new.yaml is not tracked"):
        check_committable(repo / "Pulumi.new.yaml")
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "Pulumi.dev.yaml").write_text("config: {}\n")
    with pytest.raises(RollbackError, match="--commit needs a git repository"):
        check_committable(outside / "Pulumi.dev.yaml")


def test_an_existing_branch_is_refused_naming_it(repo: Path) -> None:
    target = check_committable(repo / "Pulumi.dev.yaml")
    _git(repo, "branch", "rollback/dev-r1-x")
    with pytest.raises(RollbackError, match="could not create branch rollback/dev-r1-x"):
        commit_on_new_branch(target, "rollback/dev-r1-x", "Roll back")
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_the_command_takes_commit() -> None:
    args = build_parser().parse_args(["rollback", "--stack", "dev", "--yes", "--commit"])
    assert args.commit is True
    assert build_parser().parse_args(["rollback", "--stack", "dev"]).commit is False


def _project(folder: Path) -> Path:
    """Another Pulumi project (not releasegate's program): its order comes from its config."""
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (folder / "Pulumi.dev.yaml").write_text("config:\n  other:release: {api: v2, web: v2}\n")
    return folder


def test_commit_outside_a_repository_is_refused_before_anything_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = FakeAutomationStack(LEDGER, PINS, failing=set())
    monkeypatch.setattr("infra.rollback_run.open_stack", lambda *_: stack)
    project = _project(tmp_path / "project")
    with pytest.raises(RollbackError, match="--commit needs a git repository"):
        rollback("dev", project, "all", None, True, io.StringIO(), io.StringIO(""), commit=True)
    assert stack.ups == [] and stack.pins == PINS


def test_the_command_runs_the_steps_and_commits_on_a_new_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `rollback()`: another project's `after` order, a step per service, and the
    stack file committed alone on rollback/dev-r1-<time> (here the fake writes the file as
    `pulumi config set` would)."""
    project = _project(tmp_path / "project")
    _git(project, "init", "--quiet", "--initial-branch", "main")
    _git(project, "config", "user.name", "Test")
    _git(project, "config", "user.email", "test@example.com")
    _git(project, "add", ".")
    _git(project, "commit", "--quiet", "-m", "initial")
    stack = FakeAutomationStack(LEDGER, PINS, failing=set())
    file = project / "Pulumi.dev.yaml"
    written = stack.set_config

    def set_config(key: str, value: auto.ConfigValue, path: bool = False) -> None:
        written(key, value, path)
        pins = {k: v for k, v in stack.pins.items() if k != "migrations"}
        file.write_text("config:\n  other:release: " + json.dumps(pins) + "\n")

    stack.set_config = set_config  # type: ignore[method-assign]
    monkeypatch.setattr("infra.rollback_run.open_stack", lambda *_: stack)
    out = io.StringIO()
    code = rollback("dev", project, "all", None, True, out, io.StringIO(""), commit=True)
    text = out.getvalue()
    assert code == 0, text
    assert [pins["web"] + pins["api"] for pins, _ in stack.ups] == ["v1v2", "v1v1"]
    assert "1. web: v2 -> v1" in text and "2. api: v2 -> v1" in text
    branch = _git(project, "branch", "--show-current")
    assert re.fullmatch(r"rollback/dev-r1-\d{8}T\d{6}Z", branch), branch
    assert f"Committed Pulumi.dev.yaml on the new branch {branch}" in text
    assert f"git push --set-upstream origin {branch}" in text
    assert f"gh pr create --base main --head {branch} --fill" in text
    assert _git(project, "log", "--format=%s", "main") == "initial"
    assert _git(project, "show", "--name-only", "--format=%s", "HEAD").splitlines() == [
        "Roll back dev to release r1", "", "Pulumi.dev.yaml",
    ]
    assert _git(project, "status", "--porcelain") == ""
