"""Deploy freezes under the real Pulumi CLI (file backend): on a stack of its own in the engine
project, with an absolute freeze window around now, `pulumi preview` of a re-pin fails naming
the window; with RELEASEGATE_OVERRIDE_REASON it passes, `up` ships and the ledger records the
override; an unchanged stack (window or not) previews clean."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from tests.engine.conftest import REPO, STACK, PulumiResult, Stack

pytestmark = [pytest.mark.servers]

FREEZE_STACK = "freeze"
WINDOW = "launch-week freeze"


def run(stack: Stack, *args: str, env: dict[str, str] | None = None,
        check: bool = True) -> PulumiResult:  # fmt: skip
    """`pulumi <args> --stack freeze`, optionally with extra environment."""
    project = stack.project
    saved = project.env
    project.env = {**saved, **(env or {})}
    try:
        return project.pulumi(*args, "--non-interactive", "--stack", FREEZE_STACK, check=check)
    finally:
        project.env = saved


def set_config(stack: Stack, key: str, value: str) -> None:
    run(stack, "config", "set", "--path", key, value)


def ledger(stack: Stack) -> dict[str, Any]:
    outputs = json.loads(run(stack, "stack", "output", "--json").stdout)
    value: dict[str, Any] = outputs["ledger"]
    return value


@pytest.fixture(scope="module")
def frozen(stack: Stack) -> Iterator[Stack]:
    """A second stack of the engine project: the engine stack's config with its own name
    prefix (its own service container), released once at api v1.0.0."""
    root = stack.project.root
    document = yaml.safe_load((root / f"Pulumi.{STACK}.yaml").read_text())
    config = {k: v for k, v in document["config"].items() if not isinstance(v, dict)
              or "secure" not in v}  # fmt: skip
    config["engine:namePrefix"] = f"{stack.name_prefix}-frz"
    config["releasegate:release"] = {"api": "v1.0.0", "migrations": "m1"}
    (root / f"Pulumi.{FREEZE_STACK}.yaml").write_text(json.dumps({"config": config}, indent=2))
    stack.project.pulumi("stack", "init", FREEZE_STACK, "--non-interactive")
    stack.app.healthy("v1.0.0")
    run(stack, "up", "--yes", "--skip-preview")
    yield stack
    run(stack, "destroy", "--yes", check=False)
    run(stack, "stack", "rm", "--yes", check=False)


def _freeze_around_now(stack: Stack) -> tuple[str, str]:
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    end = (now + timedelta(hours=2)).isoformat(timespec="seconds").replace("+00:00", "Z")
    set_config(stack, "freeze[0].start", start)
    set_config(stack, "freeze[0].end", end)
    set_config(stack, "freeze[0].reason", WINDOW)
    return start, end


@pytest.mark.timeout(600)
def test_a_repin_inside_a_freeze_window_is_refused_at_preview_and_passes_with_a_reason(
    frozen: Stack,
) -> None:
    stack = frozen
    start, end = _freeze_around_now(stack)
    # The window alone changes nothing: the guard diffs pins only, and time is no input.
    run(stack, "preview", "--expect-no-changes")
    set_config(stack, "release.api", "v1.1.0")
    refused = run(stack, "preview", check=False)
    output = refused.output
    assert refused.returncode != 0, output[-4000:]
    assert f"freeze window '{WINDOW}' ({start} to {end}) is active until {end}" in output, output
    assert "api v1.0.0 -> v1.1.0" in output, output
    assert 'RELEASEGATE_OVERRIDE_REASON="<why>"' in output, output
    assert "Traceback" not in output
    # `up` refuses too, before anything changes.
    before = ledger(stack)
    blocked = run(stack, "up", "--yes", "--skip-preview", check=False)
    assert blocked.returncode != 0 and f"'{WINDOW}'" in blocked.output, blocked.output[-4000:]
    assert ledger(stack) == before

    reason = {"RELEASEGATE_OVERRIDE_REASON": "incident 4711: api leaks connections"}
    run(stack, "preview", env=reason)
    stack.app.healthy("v1.1.0")
    run(stack, "up", "--yes", "--skip-preview", env=reason)
    current = ledger(stack)["current"]
    assert current["services"]["api"]["tag"] == "v1.1.0"
    freeze = [o for o in current.get("overrides") or [] if o.get("kind") == "freeze"]
    assert freeze == [{"kind": "freeze", "reason": "incident 4711: api leaks connections",
                       "window": f"'{WINDOW}' ({start} to {end})"}], current  # fmt: skip
    # Unchanged since: clean, with or without the reason left set.
    run(stack, "preview", "--expect-no-changes")
    run(stack, "preview", "--expect-no-changes", env=reason)


@pytest.mark.timeout(600)
def test_rollback_inside_a_freeze_window_needs_a_reason(frozen: Stack) -> None:
    """`python -m infra rollback` refuses during the window, saying how (exit 2, nothing
    changed); with --reason it rolls back and the ledger records the override."""
    stack = frozen
    if not any(k.startswith("releasegate:freeze") for k in _config_keys(stack)):
        _freeze_around_now(stack)
    pins = json.loads(json.loads(run(stack, "config", "get", "release", "--json").stdout)["value"])
    if pins["api"] != "v1.1.0":  # this test alone: ship v1.1.0 first (with a reason)
        set_config(stack, "release.api", "v1.1.0")
        stack.app.healthy("v1.1.0")
        run(stack, "up", "--yes", "--skip-preview",
            env={"RELEASEGATE_OVERRIDE_REASON": "setup"})  # fmt: skip
    command = [sys.executable, "-m", "infra", "rollback", "--stack", FREEZE_STACK, "--cwd",
               str(stack.project.root), "--yes"]  # fmt: skip

    def rollback(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *extra], cwd=REPO, env=stack.project.env, capture_output=True, text=True,
            timeout=300, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    refused = rollback()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"'{WINDOW}'" in refused.stderr and '--reason "<why>"' in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert ledger(stack)["current"]["services"]["api"]["tag"] == "v1.1.0"
    stack.app.healthy("v1.0.0")
    done = rollback("--reason", "incident 4712: v1.1.0 errors")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "freeze override:" in done.stdout
    current = ledger(stack)["current"]
    assert current["services"]["api"]["tag"] == "v1.0.0"
    assert {"kind": "freeze", "reason": "incident 4712: v1.1.0 errors"}.items() <= next(
        o for o in current["overrides"] if o["kind"] == "freeze"
    ).items()
    run(stack, "config", "rm", "freeze")
    run(stack, "preview", "--expect-no-changes")


def _config_keys(stack: Stack) -> list[str]:
    return list(json.loads(run(stack, "config", "--json").stdout))
