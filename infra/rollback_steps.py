"""The rollback's steps on Pulumi's Automation API: one gated `pulumi up` per service, in
reverse release order, then the stack file's report (see `infra.rollback` for the decisions and
`infra.rollback_commit` for the file).

Each step re-pins one service in the stack's config and runs `up` with RELEASEGATE_ROLLBACK_OF
set to the release being left (infra/release_env.py): the program gives it to the
ReleaseAttempt, so the ledger marks that release rolled back and `check-pins` refuses its pins
afterwards. The variable goes through the workspace's `env_vars`, which the Automation API
merges over os.environ for every CLI run (pulumi/automation/_stack.py `_run_pulumi_cmd_sync`:
`envs = {**envs, **self.workspace.env_vars}`; _cmd.py runs with `{**os.environ, **env}`), and
is taken away again after the step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from infra.release_env import ROLLBACK_OF_ENV
from infra.rollback import RollbackError, RollbackPlan, release_sequence
from infra.rollback_commit import (
    Committable,
    branch_name,
    commit_on_new_branch,
    push_hint,
    reminder,
)

RELEASEGATE = "releasegate"


def stack_file(cwd: Path, stack_name: str) -> Path:
    """Where `pulumi config set` keeps the stack's config: Pulumi.<stack>.yaml beside
    Pulumi.yaml (the CLI's default; a project with `stackConfigDir` is not supported here)."""
    return cwd / f"Pulumi.{stack_name}.yaml"


def release_order(stack: Any, stack_name: str, cwd: Path, namespace: str) -> list[str]:
    """The services in the order a release ships them. releasegate's own program: its Settings
    (validated as `pulumi up` would: `services.*.after`, `migration.after`); any other project:
    the same rule over its `services` and `migration` config, when it has them."""
    if namespace == RELEASEGATE:
        from infra.images import settings_of  # noqa: PLC0415 - the config loader, on use
        from infra.plan import load_stack_config  # noqa: PLC0415

        settings = settings_of(load_stack_config(stack_name, stack_file(cwd, stack_name), cwd))
        return release_sequence([(s.name, s.after) for s in settings.services],
                                settings.migration.after)  # fmt: skip
    config = stack.get_all_config()
    services = _json_config(config, f"{namespace}:services")
    migration = _json_config(config, f"{namespace}:migration")
    if not isinstance(services, Mapping):
        return []
    declared = [(str(name), _names((spec or {}).get("after")) if isinstance(spec, Mapping) else [])
                for name, spec in services.items()]  # fmt: skip
    after = _names(migration.get("after")) if isinstance(migration, Mapping) else []
    return release_sequence(declared, after)


def refused_digests(stack: Any) -> dict[str, set[str]]:
    """image -> the digests of failed and rolled-back releases, from the stack's checkpoint
    (infra/ledger_read.py; the ledger's `marked` is not a stack output): the default target
    never brings one back."""
    from infra.ledger_read import read_history  # noqa: PLC0415

    return read_history(stack).failed_digests()


def _json_config(config: Mapping[str, Any], key: str) -> Any:
    value = getattr(config.get(key), "value", None)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _names(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def print_steps(steps: Sequence[tuple[str, str]], pins: Mapping[str, str], plan: RollbackPlan,
                out: TextIO) -> None:  # fmt: skip
    """The step plan, before the question."""
    print(f"steps ({len(steps)}), in reverse release order, each its own gated `pulumi up`:",
          file=out)  # fmt: skip
    for number, (name, pin) in enumerate(steps, 1):
        again = " (pinned already; its gate failed: retried)" if name in plan.retry else ""
        print(f"  {number}. {name}: {pins.get(name)} -> {pin}{again}", file=out)


@contextmanager
def rolling_back(stack: Any, left: str | None) -> Iterator[None]:
    """RELEASEGATE_ROLLBACK_OF=<left> for the CLI runs inside (the workspace's env_vars)."""
    before = dict(stack.workspace.env_vars or {})
    if left:
        stack.workspace.env_vars = {**before, ROLLBACK_OF_ENV: left}
    try:
        yield
    finally:
        stack.workspace.env_vars = before


def run_steps(
    stack: Any, stack_name: str, cwd: Path, namespace: str, plan: RollbackPlan,
    pins: Mapping[str, str], steps: Sequence[tuple[str, str]], resume: str,
    committable: Committable | None, out: TextIO, began: float,
) -> int:  # fmt: skip
    """Run the steps; stop at the first that fails, saying what is done, what is left and how
    to go on (`resume`: the command that goes on). Then report the stack file (or commit it)."""
    from pulumi import automation as auto  # noqa: PLC0415

    from infra.rollback_run import _set_pins, _tail, read_ledger  # noqa: PLC0415 - cycle

    path = stack_file(cwd, stack_name)
    done: list[tuple[str, str]] = []
    for number, (name, pin) in enumerate(steps, 1):
        print(f"\nstep {number}/{len(steps)}: {name} {pins.get(name)} -> {pin}: re-pin, "
              "`pulumi up` (gated)", file=out)  # fmt: skip
        _set_pins(stack, namespace, {name: pin})
        try:
            with rolling_back(stack, plan.leaving):
                stack.up(on_output=lambda line: print(line, end="", file=out))
        except auto.errors.CommandError as exc:
            running = (read_ledger(stack).get("current") or {}).get("id")
            left = [f"{n}: {pins.get(n)} -> {p}" for n, p in steps[number:]]
            print(f"\nrollback FAILED at step {number}/{len(steps)} ({name} -> {pin}) after "
                  f"{time.monotonic() - began:.1f}s: {_tail(exc)}", file=out)  # fmt: skip
            print("Re-pinned and through their gates: "
                  + (", ".join(f"{n} {p}" for n, p in done) or "nothing") + ".\n"
                  f"Failed: {name} is pinned at {pin} in the stack file but did not pass its "
                  f"gate; the stack still runs release {running} for it.\n"
                  "Not started: " + ("; ".join(left) or "nothing") + ".\n"
                  f"To go on: fix the cause, then run `{resume}`: it retries {name} first and "
                  "then the steps not started, in the same order. Or roll back to another "
                  "release with --to.", file=out)  # fmt: skip
            print(
                f"The stack file {path} now pins the steps above (finished or not); commit "
                "it once the rollback is complete"
                + ("; --commit did not commit it." if committable else "."),
                file=out,
            )
            return 1
        done.append((name, pin))
        entry = ((read_ledger(stack).get("current") or {}).get("services") or {}).get(name) or {}
        gate = entry.get("gate") or {}
        print(f"step {number}/{len(steps)} done: {name} serves {gate.get('served_version')} "
              f"(gate passed in {gate.get('elapsed_seconds')}s)", file=out)  # fmt: skip
    _evidence(stack, stack_name, out, began)
    return _report(plan, pins, steps, stack_name, namespace, path, committable, out)


def _evidence(stack: Any, stack_name: str, out: TextIO, began: float) -> None:
    from infra.rollback_run import read_ledger  # noqa: PLC0415 - cycle

    current = read_ledger(stack).get("current") or {}
    print(f"\nrolled back {stack_name} to {current.get('id')} in "
          f"{time.monotonic() - began:.1f}s; gate evidence:", file=out)  # fmt: skip
    for name, entry in sorted((current.get("services") or {}).items()):
        gate = entry.get("gate") or {}
        print(f"  {name}: serves {gate.get('served_version')} "
              f"({gate.get('consecutive_successes')} healthy answers in "
              f"{gate.get('elapsed_seconds')}s, checked {gate.get('checked_at')})",
              file=out)  # fmt: skip


def _report(
    plan: RollbackPlan, pins: Mapping[str, str], steps: Sequence[tuple[str, str]],
    stack_name: str, namespace: str, path: Path, committable: Committable | None, out: TextIO,
) -> int:  # fmt: skip
    """The stack file holds the re-pins now: say to commit it, or commit it (--commit). A
    commit git refuses after the rollback is done exits 1 with the reminder (nothing undone)."""
    target = str(plan.target.get("id"))
    replaced = [(name, pins.get(name, "?")) for name, _ in steps]
    message = f"Roll back {stack_name} to release {target}\n\n" + "\n".join(
        f"{name}: {pins.get(name)} -> {pin}" for name, pin in steps
    ) + (f"\n\nLeaves release {plan.leaving} (marked rolled back in the ledger)."
         if plan.leaving else "")  # fmt: skip
    if committable is None:
        print(reminder(path, namespace, replaced, message.splitlines()[0]), file=out)
        return 0
    branch = branch_name(stack_name, target)
    try:
        commit = commit_on_new_branch(committable, branch, message)
    except RollbackError as exc:
        print(f"The rollback is done, but {exc}", file=out)
        print(reminder(path, namespace, replaced, message.splitlines()[0]), file=out)
        return 1
    print(f"Committed {committable.path} on the new branch {branch} ({commit}; you are on it "
          f"now{f', was on {committable.branch}' if committable.branch else ''}); "
          f"{push_hint(committable, branch)}", file=out)  # fmt: skip
    return 0
