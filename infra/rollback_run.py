"""The rollback and release-list commands on Pulumi's Automation API (see `infra.rollback` for
the decisions). Reads the ledger from the stack's outputs and the pins from its config, shows
what will change, asks, re-pins, runs `pulumi up` (gated like any release), then prints the gate
evidence and the elapsed time. Several services roll back one gated `up` each, in reverse
release order (infra/rollback_steps.py); the stack file then holds the re-pins, and the command
says to commit it, or commits it on a new branch with --commit (infra/rollback_commit.py)."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import yaml

from infra.rollback import MIGRATIONS, RollbackError, RollbackPlan, plan_rollback, rollback_steps
from infra.rollback_freeze import check_freeze

RELEASEGATE = "releasegate"


def open_stack(stack_name: str, cwd: Path) -> Any:
    from pulumi import automation as auto  # noqa: PLC0415 - needs the CLI; loaded on use

    if not (cwd / "Pulumi.yaml").is_file():
        raise RollbackError(f"{cwd} holds no Pulumi.yaml: pass the project folder with --cwd")
    try:
        return auto.select_stack(stack_name=stack_name, work_dir=str(cwd))
    except FileNotFoundError as exc:
        raise RollbackError(
            "the Pulumi CLI is not on PATH: install it, or build it with "
            '`export PATH="$(bash scripts/pulumi-cli.sh):$PATH"`'
        ) from exc
    except auto.errors.CommandError as exc:
        raise RollbackError(backend_error(exc, stack_name)) from exc


# Exit codes of the Pulumi CLI (pkg/cmd/pulumi/cmd/exit_codes.go in pulumi/pulumi v3.259.0, "part
# of the contract for automation"): 3 authentication, 6 stack not found.
EXIT_AUTHENTICATION, EXIT_STACK_NOT_FOUND = 3, 6


def backend_error(exc: Exception, stack_name: str) -> str:
    """One sentence for a failed Automation API call instead of its raw text
    (`code: 6 / stdout: / stderr: ...`): what is wrong and the command that fixes it."""
    from pulumi import automation as auto  # noqa: PLC0415

    text = str(exc)  # CommandResult's str: "\n code: N\n stdout: ...\n stderr: ..."
    code_match = re.search(r"^\s*code: (-?\d+)$", text, re.MULTILINE)
    code = int(code_match.group(1)) if code_match else None
    stderr = text.partition("\n stderr: ")[2]
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    detail = (errors or lines or [""])[-1]
    if isinstance(exc, auto.errors.StackNotFoundError) or code == EXIT_STACK_NOT_FOUND:
        return (f"stack {stack_name!r} does not exist in the current backend (`pulumi stack ls` "
                "lists those that do, `pulumi whoami -v` names the backend); select or create "
                f"it with `pulumi stack select --create {stack_name}`")  # fmt: skip
    if "PULUMI_CONFIG_PASSPHRASE" in text or "incorrect passphrase" in text:
        # pkg/secrets/passphrase/manager.go: "passphrase must be set with PULUMI_CONFIG_PASSPHRASE
        # or PULUMI_CONFIG_PASSPHRASE_FILE environment variables", "incorrect passphrase".
        return (f"stack {stack_name!r} encrypts its secrets with a passphrase ({detail}): export "
                "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) with the stack's "
                "passphrase and run again")  # fmt: skip
    if code == EXIT_AUTHENTICATION:
        return (f"the Pulumi backend refused the login ({detail}): run `pulumi login` (or "
                "`pulumi login --local` for a local backend) and run again")  # fmt: skip
    return f"the Pulumi CLI failed on stack {stack_name!r}: {detail or f'exit code {code}'}"


def project_name(cwd: Path) -> str:
    document = yaml.safe_load((cwd / "Pulumi.yaml").read_text()) or {}
    return str(document.get("name") or "")


def read_ledger(stack: Any) -> Mapping[str, Any]:
    outputs = stack.outputs()
    ledger = outputs.get("ledger")
    if ledger is None or not isinstance(ledger.value, Mapping):
        if "nextStep" in outputs:  # infra/program.py exports it instead of a ledger
            raise RollbackError(
                "the stack is foundation only (its release names no pins): there is no release "
                f"to roll back to or list yet. {outputs['nextStep'].value}"
            )
        raise RollbackError("the stack has no `ledger` output: it never completed a release")
    return ledger.value


def read_pins(stack: Any, namespace: str) -> dict[str, str]:
    value = stack.get_config(f"{namespace}:release").value
    release = json.loads(value) if isinstance(value, str) else value
    if not isinstance(release, Mapping):
        raise RollbackError(f"{namespace}:release is not an object in the stack's config")
    return {name: str(pin) for name, pin in release.items() if isinstance(pin, str | int)}


def show_changes(plan: RollbackPlan, stack_name: str, cwd: Path, out: TextIO, stack: Any) -> None:
    """The offline diff for releasegate's own program; a `pulumi preview --diff` otherwise."""
    sets = [f"release.{name}={pin}" for name, pin in sorted(plan.repins.items())]
    if project_name(cwd) == RELEASEGATE:
        from infra.plan import apply_sets, diff_plans, evaluate, load_stack_config  # noqa: PLC0415
        from infra.render import diff_text  # noqa: PLC0415

        base = load_stack_config(stack_name, cwd / f"Pulumi.{stack_name}.yaml")
        after = evaluate(apply_sets(base, sets))
        print(diff_text(after, diff_plans(evaluate(base), after), sets), file=out)
        return
    print(f"(preview of {', '.join(sets)}; config unchanged until confirmed)", file=out)
    namespace = project_name(cwd)
    before = {name: stack.get_config(f"{namespace}:release.{name}", path=True).value
              for name in plan.repins}  # fmt: skip
    _set_pins(stack, namespace, plan.repins)
    try:
        result = stack.preview(diff=True)
        print(result.stdout[-8000:], file=out)
    finally:
        _set_pins(stack, namespace, before)


def _set_pins(stack: Any, namespace: str, pins: Mapping[str, str]) -> None:
    from pulumi import automation as auto  # noqa: PLC0415

    for name, pin in pins.items():
        stack.set_config(f"{namespace}:release.{name}", auto.ConfigValue(pin), path=True)


def confirm(question: str, assume_yes: bool, stdin: TextIO, out: TextIO) -> bool:
    if assume_yes:
        return True
    if not stdin.isatty():
        raise RollbackError("no terminal to confirm on: run again with --yes to roll back")
    print(question, end=" ", file=out, flush=True)
    return stdin.readline().strip().lower() in ("y", "yes")


def rollback(
    stack_name: str, cwd: Path, service: str, wanted: str | None, assume_yes: bool,
    out: TextIO | None = None, stdin: TextIO | None = None, reason: str | None = None,
    commit: bool = False,
) -> int:  # fmt: skip
    """A failed `pulumi up` reports itself; any other failure of the CLI (no such stack, no
    login, no passphrase) is one sentence (RollbackError). `out`/`stdin` default to the
    process's streams at call time."""
    from pulumi import automation as auto  # noqa: PLC0415

    try:
        return _rollback(commit, stack_name, cwd, service, wanted, assume_yes,
                         out or sys.stdout, stdin or sys.stdin, reason)  # fmt: skip
    except auto.errors.CommandError as exc:
        raise RollbackError(backend_error(exc, stack_name)) from exc


def _rollback(
    commit: bool, stack_name: str, cwd: Path, service: str, wanted: str | None, assume_yes: bool,
    out: TextIO, stdin: TextIO, reason: str | None = None,
) -> int:  # fmt: skip
    from infra.rollback_commit import check_committable  # noqa: PLC0415 - cycle
    from infra.rollback_steps import (  # noqa: PLC0415 - cycle
        print_steps,
        refused_digests,
        release_order,
        run_steps,
        stack_file,
    )

    began = time.monotonic()
    stack = open_stack(stack_name, cwd)
    namespace = project_name(cwd)
    ledger = read_ledger(stack)  # first: a foundation-only stack has no pins to read either
    pins = read_pins(stack, namespace)
    plan = plan_rollback(ledger, pins, service, wanted, refused_digests(stack))
    # Inside a freeze window: refused without --reason, before anything changes.
    check_freeze(stack, stack_name, namespace, reason, out)
    target = plan.target
    print(f"rollback of {stack_name} to release {target.get('id')} "
          f"(recorded {target.get('recorded_at')}):", file=out)  # fmt: skip
    for name, pin in sorted(plan.repins.items()):
        print(f"  {name}: {pins.get(name)} -> {pin}", file=out)
    if plan.unchanged:
        print(f"  unchanged: {', '.join(plan.unchanged)}", file=out)
    print(f"  {MIGRATIONS}: stays {pins.get(MIGRATIONS)} (forward-only; not re-run)", file=out)
    steps = rollback_steps(plan.repins, release_order(stack, stack_name, cwd, namespace))
    # --commit is refused (no repository, a stack file with other changes) before anything
    # changes, like every other refusal.
    committable = check_committable(stack_file(cwd, stack_name)) if commit else None
    print_steps(steps, pins, plan, out)
    show_changes(plan, stack_name, cwd, out, stack)
    if not confirm(f"Re-pin and run {len(steps)} gated `pulumi up` step(s)? [y/N]",
                   assume_yes, stdin, out):  # fmt: skip
        print("not rolled back; nothing changed", file=out)
        return 1
    resume = f"python -m infra rollback --stack {stack_name} --to {target.get('id')}" + (
        f" --service {service}" if service != "all" else ""
    )
    return run_steps(stack, stack_name, cwd, namespace, plan, pins, steps, resume, committable,
                     out, began)  # fmt: skip


def list_releases(stack_name: str, cwd: Path, fmt: str, out: TextIO | None = None) -> int:
    """The deployment log (infra/releases_cmd.py): every release from the stack's checkpoint,
    failed and rolled-back ones included."""
    from infra.releases_cmd import list_releases as deployment_log  # noqa: PLC0415 - cycle

    return deployment_log(stack_name, cwd, fmt, out)


def _tail(exc: Exception) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip().splitlines()
    return "\n".join(text[-12:])
