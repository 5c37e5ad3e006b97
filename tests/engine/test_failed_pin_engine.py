"""Failed pins are refused, under the real Pulumi CLI (file backend), on a stack of its own in
the engine project: a release whose gate fails leaves its ReleaseAttempt in the checkpoint
(the ledger and the stack outputs stay on the last good release); `python -m infra check-pins`
then refuses the stack file's pin naming that release, passes with a reason (flag or
environment); the next `up` with the reason ships and the ledger records the override, the
actor and the duration; an unchanged stack previews clean whoever runs it; and
`python -m infra releases --format markdown|json` shows the failed and the succeeded releases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.engine.conftest import NamedStack, Stack, stack_beside

pytestmark = [pytest.mark.servers]

PINS_STACK = "pins"
ACTOR = "engine-tester"
REASON = "the v1.2.0 gate failed on a stale canary; verified by hand"


@pytest.fixture(scope="module")
def pinned(stack: Stack) -> Iterator[NamedStack]:
    """A second stack of the engine project (its own service container), released once at
    api v1.0.0; its `pulumi` calls run as the deploy's actor."""
    pinned = stack_beside(stack, PINS_STACK, "-pin", env={"GITHUB_ACTOR": ACTOR})
    stack.app.healthy("v1.0.0")
    pinned.up()
    yield pinned
    pinned.destroy()


@pytest.mark.timeout(900)
def test_a_pin_that_failed_its_gate_is_refused_until_a_reason_is_given(
    pinned: NamedStack,
    stack: Stack,
) -> None:
    good = pinned.ledger()["current"]
    assert good["outcome"] == "succeeded" and good["actor"] == ACTOR

    # A release whose gate fails: the app keeps serving v1.0.0.
    pinned.set("release.api", "v1.2.0")
    failed_up = pinned.up(check=False)
    assert failed_up.returncode != 0 and "health gate for 'api' failed" in failed_up.output
    assert pinned.ledger()["current"]["id"] == good["id"], "a failed gate changed the ledger"
    attempt = pinned.resources()["release-attempt"]["outputs"]["attempts"][0]
    failed_id, failed_at = attempt["id"], attempt["started_at"]
    digest = stack.registry.digests["v1.2.0"]
    assert attempt["pins"]["services"]["api"]["digest"] == digest and failed_id != good["id"]

    # The committed stack file still pins v1.2.0: refused, naming pin, release, when and why.
    refused = pinned.infra("check-pins", env={"RELEASEGATE_OVERRIDE_REASON": ""})
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"api v1.2.0 ({digest}) was in release {failed_id}, failed at {failed_at}" in (
        refused.stderr), refused.stderr  # fmt: skip
    assert "never passed its gates" in refused.stderr and "--override-reason" in refused.stderr
    assert "migrations" not in refused.stderr.split("\n", 1)[1], "m1 ran before: not refused"

    with_flag = pinned.infra("check-pins", "--override-reason", REASON)
    assert with_flag.returncode == 0, with_flag.stderr
    assert REASON in with_flag.stdout and failed_id in with_flag.stdout
    with_env = pinned.infra("check-pins", env={"RELEASEGATE_OVERRIDE_REASON": REASON})
    assert with_env.returncode == 0, with_env.stderr

    # The next up with the reason ships (v1.2.0 is served now) and records the override.
    stack.app.healthy("v1.2.0")
    pinned.up(env={"RELEASEGATE_OVERRIDE_REASON": REASON})
    current = pinned.ledger()["current"]
    assert (current["id"], current["outcome"], current["actor"]) == (failed_id, "succeeded", ACTOR)
    [override] = current["overrides"]
    assert (override["kind"], override["reason"]) == ("failed-pin", REASON)
    assert any(f"api v1.2.0 ({digest})" in line for line in override["refused"])
    assert isinstance(current["duration_seconds"], int | float) and current["duration_seconds"] >= 0
    assert current["started_at"] <= current["recorded_at"]

    # Another person previewing the unchanged stack, without a reason: nothing changes.
    pinned.pulumi("preview", "--expect-no-changes", env={"GITHUB_ACTOR": "someone-else"})
    after = pinned.infra("check-pins", env={"RELEASEGATE_OVERRIDE_REASON": ""})
    assert after.returncode == 0, after.stderr  # it passed its gates since

    # The deployment log: the failed release, then the same pins succeeding with the override.
    markdown = pinned.infra("releases", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    text = markdown.stdout
    assert f"## {failed_id}: failed" in text and f"## {failed_id}: succeeded" in text
    assert f"## {good['id']}: succeeded" in text
    assert text.index(f"## {failed_id}: succeeded") < text.index(f"## {failed_id}: failed")
    assert f"- Who: {ACTOR}" in text and f"- Override (failed-pin): {REASON}" in text
    assert f"| api | v1.2.0 | {digest} | served v1.2.0 in " in text
    rows = json.loads(pinned.infra("releases", "--format", "json").stdout)
    assert [(r["release"], r["outcome"]) for r in rows] == [
        (failed_id, "succeeded"), (failed_id, "failed"), (good["id"], "succeeded"),
    ]  # fmt: skip
    assert rows[1]["started_at"] == failed_at and rows[1]["services"]["api"]["pin"] == "v1.2.0"
