"""`python -m infra rollback` during a deploy freeze: an incident rollback must not be blocked
by surprise, and must not slip through unrecorded either.

A rollback changes pins, so the FreezeGuard (components/gates/freeze.py) would refuse its `up`
inside a window. The command checks first, before anything changes: with a window active it
refuses unless `--reason TEXT` is given, saying exactly that; with a reason it runs its
preview and `up` with RELEASEGATE_OVERRIDE_REASON set, so the guard lets the change through
and the ledger records the override ({kind: freeze, reason, window}).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TextIO

from components.freeze_window import FreezeWindow, show_time
from infra.config_freeze import load_freeze
from infra.config_reader import Problems
from infra.release_env import OVERRIDE_REASON_ENV, override_reason
from infra.rollback import RollbackError
from infra.settings import KEY_FREEZE


def stack_windows(stack: Any, namespace: str) -> tuple[FreezeWindow, ...]:
    """The stack's freeze windows from its config (Automation API `get_all_config`: every key
    with its value as the CLI prints it, objects and lists as JSON text)."""
    config = stack.get_all_config()
    entry = config.get(f"{namespace}:{KEY_FREEZE}")
    value = getattr(entry, "value", None)
    if value is None:
        return ()
    problems = Problems()
    windows = load_freeze(problems, value if isinstance(value, str) else json.dumps(value))
    if problems.items:
        raise RollbackError("the stack's freeze config is invalid: " + "; ".join(problems.items))
    return windows


def check_freeze(
    stack: Any, stack_name: str, namespace: str, reason: str | None, out: TextIO,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Refuse (RollbackError, exit 2) inside an active window without a reason (--reason, or
    RELEASEGATE_OVERRIDE_REASON already in the environment); with one, set
    RELEASEGATE_OVERRIDE_REASON for the stack's later CLI runs (the workspace's env_vars are
    merged over os.environ for every command: pulumi/automation/_stack.py `_cli_kwargs`,
    pulumi/automation/_cmd.py)."""
    moment = now or datetime.now(UTC)
    active = [w for w in stack_windows(stack, namespace) if w.active_at(moment)]
    # RELEASEGATE_OVERRIDE_REASON in the environment would reach the `up` anyway: a reason too.
    text = (reason or "").strip() or (override_reason() or "")
    if active and not text:
        named = "; ".join(
            f"{w.describe()} until {show_time(w.active_until(moment) or moment)}" for w in active
        )
        raise RollbackError(
            f"stack {stack_name!r} is in a deploy freeze: {named}. A rollback changes pins, "
            "which the freeze refuses without a reason. For an incident rollback, run the same "
            'command again with --reason "<why>" (the release ledger records it as a freeze '
            "override); nothing was changed"
        )
    if text:
        stack.workspace.env_vars = {**stack.workspace.env_vars, OVERRIDE_REASON_ENV: text}
    if active:
        print(f"freeze override: {active[0].describe()} is active; rolling back anyway for "
              f"{text!r} (recorded in the release ledger)", file=out)  # fmt: skip
