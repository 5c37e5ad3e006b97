"""`python -m infra releases` (the deployment log) and `python -m infra check-pins`.

Both read the stack's history from its checkpoint (infra/ledger_read.py) through the Automation
API; a backend that cannot be reached is one sentence (infra/rollback_run.py `backend_error`).

`check-pins` runs before `pulumi up` (.github/workflows/deploy.yml): the committed stack file
must not pin an image that a release recorded as failed (it never passed its gates) or rolled
back brought, or a push from a stale branch would ship the bad release again. It exits 2 naming
each such pin and its release, unless a reason is given (`--override-reason`, or
RELEASEGATE_OVERRIDE_REASON); the `up` then records that reason in the ledger.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from infra import release_env, rollback_run
from infra.ledger_read import History, read_history
from infra.plan import load_stack_config
from infra.releases_view import render_json, render_markdown, render_text
from infra.rollback import RollbackError

EXIT_REFUSED = 2
NOT_PINS = frozenset({"allowMigrationsRollback", "promotedFrom"})
"""Keys of `releasegate:release` that are not pins."""


def _history(stack_name: str, cwd: Path) -> tuple[Any, History]:
    from pulumi import automation as auto  # noqa: PLC0415 - needs the CLI; loaded on use

    stack = rollback_run.open_stack(stack_name, cwd)
    try:
        return stack, read_history(stack)
    except auto.errors.CommandError as exc:
        raise RollbackError(rollback_run.backend_error(exc, stack_name)) from exc


def list_releases(stack_name: str, cwd: Path, fmt: str, out: TextIO | None = None) -> int:
    """Every release, newest first: succeeded, failed, rolled back. A stack with none yet
    (foundation only, or no `up` has started a release) is a state, not an error: one line
    (`[]` as JSON) and exit 0."""
    from pulumi import automation as auto  # noqa: PLC0415

    out = out or sys.stdout
    stack = rollback_run.open_stack(stack_name, cwd)
    try:
        outputs = stack.outputs()
        history = read_history(stack)
    except auto.errors.CommandError as exc:
        raise RollbackError(rollback_run.backend_error(exc, stack_name)) from exc
    if fmt == "json":
        print(render_json(history), file=out)
        return 0
    if not history.releases:
        next_step = getattr(outputs.get("nextStep"), "value", None)
        why = (
            f"it is foundation only. {next_step}"
            if next_step
            else "its ledger is empty (no `pulumi up` of a release has passed its gates)"
        )
        print(f"no release yet on stack {stack_name!r}: {why}", file=out)
        return 0
    print(render_markdown(history) if fmt == "markdown" else render_text(history), file=out)
    return 0


def stack_file_pins(stack_name: str, config_file: Path | None, root: Path) -> dict[str, str]:
    """image -> pin (tag or digest) as the stack file commits them (no engine, no backend)."""
    config = load_stack_config(stack_name, config_file, root=root)
    release = config.values.get(f"{config.project}:release")
    if not isinstance(release, dict):
        return {}
    return {
        str(name): str(pin)
        for name, pin in release.items()
        if name not in NOT_PINS and isinstance(pin, str)
    }


def check_pins(
    stack_name: str,
    config_file: Path | None,
    cwd: Path,
    reason: str | None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """0 when no pin of the stack file was brought by a failed or rolled-back release, or when
    a reason overrides that; 2 (naming pin, digest, release, when and why) otherwise."""
    out, err = out or sys.stdout, err or sys.stderr
    pins = stack_file_pins(stack_name, config_file, cwd)
    reason = (reason or "").strip() or release_env.override_reason()
    _, history = _history(stack_name, cwd)
    if not pins:
        print(
            f"check-pins: stack {stack_name!r} pins no release (foundation only): nothing to check",
            file=out,
        )
        return 0
    refused = history.refused(pins)
    if not refused:
        if history.has_ledger or history.has_attempts:
            shown = ", ".join(f"{k} {v}" for k, v in sorted(pins.items()))
            print(
                f"check-pins: stack {stack_name!r}: no pin of the stack file ({shown}) was "
                "brought by a release recorded as failed or rolled back",
                file=out,
            )
        else:
            print(
                f"check-pins: stack {stack_name!r} has no release record yet: nothing to refuse",
                file=out,
            )
        return 0
    lines = [f"  {r.describe()}" for r in refused]
    if reason:
        print(
            f"check-pins: stack {stack_name!r} pins what the ledger refuses, overridden with "
            f"the reason {reason!r}:",
            file=out,
        )
        print("\n".join(lines), file=out)
        print(
            f"  the `up` records the override when {release_env.OVERRIDE_REASON_ENV} is set "
            "for it too (the deploy workflow sets it for both steps)",
            file=out,
        )
        return 0
    print(
        f"error: refused: the stack file of {stack_name!r} pins an image that the ledger "
        "recorded as failed or rolled back (shipping it again would repeat that release):",
        file=err,
    )
    print("\n".join(lines), file=err)
    print(
        f"Pin another image (`python -m infra rollback` writes the last good one), or ship it "
        f"anyway with a reason: --override-reason TEXT or {release_env.OVERRIDE_REASON_ENV}"
        "=TEXT (the ledger records it).",
        file=err,
    )
    return EXIT_REFUSED
