"""Deploy freezes under the real Pulumi CLI (file backend): on a stack of its own in the engine
project, with an absolute freeze window around now, `pulumi preview` of a re-pin fails naming
the window; with RELEASEGATE_OVERRIDE_REASON it passes, `up` ships and the ledger records the
override; an unchanged stack (window or not) previews clean."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.engine.conftest import NamedStack, Stack, stack_beside

pytestmark = [pytest.mark.servers]

FREEZE_STACK = "freeze"
WINDOW = "launch-week freeze"


@pytest.fixture(scope="module")
def frozen(stack: Stack) -> Iterator[NamedStack]:
    """A second stack of the engine project: the engine stack's config with its own name
    prefix (its own service container), released once at api v1.0.0."""
    frozen = stack_beside(stack, FREEZE_STACK, "-frz")
    stack.app.healthy("v1.0.0")
    frozen.up()
    yield frozen
    frozen.destroy()
    frozen.pulumi("stack", "rm", "--yes", check=False)


def _freeze_around_now(frozen: NamedStack) -> tuple[str, str]:
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    end = (now + timedelta(hours=2)).isoformat(timespec="seconds").replace("+00:00", "Z")
    frozen.set("freeze[0].start", start)
    frozen.set("freeze[0].end", end)
    frozen.set("freeze[0].reason", WINDOW)
    return start, end


@pytest.mark.timeout(600)
def test_a_repin_inside_a_freeze_window_is_refused_at_preview_and_passes_with_a_reason(
    frozen: NamedStack,
    stack: Stack,
) -> None:
    start, end = _freeze_around_now(frozen)
    # The window alone changes nothing: the guard diffs pins only, and time is no input.
    frozen.pulumi("preview", "--expect-no-changes")
    frozen.set("release.api", "v1.1.0")
    refused = frozen.pulumi("preview", check=False)
    output = refused.output
    assert refused.returncode != 0, output[-4000:]
    assert f"freeze window '{WINDOW}' ({start} to {end}) is active until {end}" in output, output
    assert "api v1.0.0 -> v1.1.0" in output, output
    assert 'RELEASEGATE_OVERRIDE_REASON="<why>"' in output, output
    assert "Traceback" not in output
    # `up` refuses too, before anything changes.
    before = frozen.ledger()
    blocked = frozen.up(check=False)
    assert blocked.returncode != 0 and f"'{WINDOW}'" in blocked.output, blocked.output[-4000:]
    assert frozen.ledger() == before

    reason = {"RELEASEGATE_OVERRIDE_REASON": "incident 4711: api leaks connections"}
    frozen.pulumi("preview", env=reason)
    stack.app.healthy("v1.1.0")
    frozen.up(env=reason)
    current = frozen.ledger()["current"]
    assert current["services"]["api"]["tag"] == "v1.1.0"
    freeze = [o for o in current.get("overrides") or [] if o.get("kind") == "freeze"]
    assert freeze == [{"kind": "freeze", "reason": "incident 4711: api leaks connections",
                       "window": f"'{WINDOW}' ({start} to {end})"}], current  # fmt: skip
    # Unchanged since: clean, with or without the reason left set.
    frozen.pulumi("preview", "--expect-no-changes")
    frozen.pulumi("preview", "--expect-no-changes", env=reason)


@pytest.mark.timeout(600)
def test_rollback_inside_a_freeze_window_needs_a_reason(frozen: NamedStack, stack: Stack) -> None:
    """`python -m infra rollback` refuses during the window, saying how (exit 2, nothing
    changed); with --reason it rolls back and the ledger records the override."""
    if not any(k.startswith("releasegate:freeze") for k in _config_keys(frozen)):
        _freeze_around_now(frozen)
    pinned = frozen.pulumi("config", "get", "release", "--json").stdout
    pins = json.loads(json.loads(pinned)["value"])
    if pins["api"] != "v1.1.0":  # this test alone: ship v1.1.0 first (with a reason)
        frozen.set("release.api", "v1.1.0")
        stack.app.healthy("v1.1.0")
        frozen.up(env={"RELEASEGATE_OVERRIDE_REASON": "setup"})

    def rollback(*extra: str) -> subprocess.CompletedProcess[str]:
        return frozen.infra("rollback", "--yes", *extra)

    refused = rollback()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"'{WINDOW}'" in refused.stderr and '--reason "<why>"' in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert frozen.ledger()["current"]["services"]["api"]["tag"] == "v1.1.0"
    stack.app.healthy("v1.0.0")
    done = rollback("--reason", "incident 4712: v1.1.0 errors")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "freeze override:" in done.stdout
    current = frozen.ledger()["current"]
    assert current["services"]["api"]["tag"] == "v1.0.0"
    assert {"kind": "freeze", "reason": "incident 4712: v1.1.0 errors"}.items() <= next(
        o for o in current["overrides"] if o["kind"] == "freeze"
    ).items()
    frozen.pulumi("config", "rm", "freeze")
    frozen.pulumi("preview", "--expect-no-changes")


def _config_keys(frozen: NamedStack) -> list[str]:
    return list(json.loads(frozen.pulumi("config", "--json").stdout))
