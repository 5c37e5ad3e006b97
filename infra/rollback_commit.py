"""After a rollback: the stack file holds the re-pins, and the repository must say so too.

`pulumi config set` (the Automation API's `set_config`) writes the re-pins into the stack file,
`Pulumi.<stack>.yaml` next to Pulumi.yaml. The deploy workflow ships what the repository's file
pins, so an uncommitted rollback is undone by the next deploy from the repository: the command
ends by naming the file, the pins in it and the commit to make (`reminder`), or, with
`--commit`, commits the file itself on a new branch (`commit_on_new_branch`), never on the
branch checked out: a rollback is reviewed and merged like any change to the stack file.

Plain `git` through subprocess (no library): `check_committable` runs before anything
changes, so a refused `--commit` leaves the stack untouched.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from infra.rollback import RollbackError

BRANCH_PREFIX = "rollback/"


@dataclass(frozen=True)
class Committable:
    """A stack file `--commit` may commit: tracked, unchanged, in this repository."""

    repo: Path
    path: Path
    """The stack file, relative to `repo`."""
    branch: str | None
    """The branch checked out before the rollback (None on a detached HEAD)."""


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=False, timeout=60)  # fmt: skip
    except FileNotFoundError as exc:
        raise RollbackError("--commit needs git, and git is not on PATH") from exc


def check_committable(stack_file: Path) -> Committable:
    """Refuse `--commit` (before anything changes) when the stack file is not a tracked,
    unmodified file of a git repository: the commit must hold the re-pins and nothing else."""
    folder = stack_file.parent
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise RollbackError(
            f"--commit needs a git repository, and {folder} is not in one: run without "
            f"--commit and commit {stack_file.name} where the stack's configuration is kept"
        )
    repo = Path(top.stdout.strip())
    path = stack_file.resolve().relative_to(repo.resolve())
    if _git(repo, "ls-files", "--error-unmatch", "--", str(path)).returncode != 0:
        raise RollbackError(
            f"--commit: {path} is not tracked in {repo}; add and commit it first, or run "
            "without --commit"
        )
    status = _git(repo, "status", "--porcelain", "--", str(path)).stdout.strip()
    if status:
        raise RollbackError(
            f"--commit: {path} has changes that are not committed ({status.split()[0]}); "
            "commit them or set them aside first, so the rollback's commit holds only the "
            "re-pins, or run without --commit. Nothing was changed."
        )
    head = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    return Committable(repo, path, head.stdout.strip() if head.returncode == 0 else None)


def branch_name(stack: str, release_id: str, now: datetime | None = None) -> str:
    """`rollback/<stack>-<release id>-<UTC time>`: the stack, the release rolled back to and
    when (no `:` in it: git refuses that in a branch name)."""
    at = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{BRANCH_PREFIX}{stack}-{release_id}-{at}"


def commit_on_new_branch(target: Committable, branch: str, message: str) -> str:
    """Create `branch` from HEAD, switch to it and commit the stack file alone on it (`git
    commit -- <path>` commits only that path, whatever else is staged). Returns the commit id."""
    created = _git(target.repo, "switch", "--create", branch)
    if created.returncode != 0:
        raise RollbackError(f"--commit: git could not create branch {branch}: "
                            f"{created.stderr.strip()}")  # fmt: skip
    committed = _git(target.repo, "commit", "--message", message, "--", str(target.path))
    if committed.returncode != 0:
        raise RollbackError(
            f"--commit: git could not commit {target.path} on {branch} (you are on that branch "
            f"now): {(committed.stderr or committed.stdout).strip()}"
        )
    return _git(target.repo, "rev-parse", "--short", "HEAD").stdout.strip()


def push_hint(target: Committable, branch: str) -> str:
    """How to publish the branch and ask for the review."""
    base = f" --base {target.branch}" if target.branch else ""
    return (
        f"push it and open a pull request:\n  git push --set-upstream origin {branch}\n"
        f"  gh pr create{base} --head {branch} --fill"
    )


def file_pins(stack_file: Path, namespace: str) -> dict[str, str]:
    """The pins the stack file holds now (`<namespace>:release`), for the closing report."""
    try:
        document: Any = yaml.safe_load(stack_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    config = document.get("config") if isinstance(document, Mapping) else None
    release = (config or {}).get(f"{namespace}:release") if isinstance(config, Mapping) else None
    if not isinstance(release, Mapping):
        return {}
    return {str(k): str(v) for k, v in release.items() if isinstance(v, str | int | float)}


def reminder(
    stack_file: Path, namespace: str, left: Sequence[tuple[str, str]], message: str
) -> str:
    """The closing lines without `--commit`: the file changed, the pins now in it, the commit
    to make, and what the next deploy ships otherwise (`left`: service, the pin replaced)."""
    pins = file_pins(stack_file, namespace)
    shown = ", ".join(f"{name}={pin}" for name, pin in pins.items()) or "(none found)"
    bad = ", ".join(f"{name} {pin}" for name, pin in left)
    return (
        f"The stack file {stack_file} changed; it now pins: {shown}.\n"
        f"Commit it: git commit -m {shlex.quote(message)} -- {shlex.quote(str(stack_file))}\n"
        f"  (or run the rollback with --commit); otherwise the next deploy from the repository "
        f"ships {bad} again."
    )
