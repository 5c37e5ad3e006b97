"""The `notify` input every step of the release gets: where to announce, and which stack
(components/gates/notify.py sends; each provider decides when).

It is a Pulumi secret (webhook URLs and the GitHub token are credentials) and no provider diffs
it, so changing a target, or the commit a GitHub deployment is created for, re-runs nothing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any

import pulumi

from infra.settings import Settings

GIT_SECONDS = 5


def deploy_ref(environ: Mapping[str, str] | None = None) -> str | None:
    """The commit a GitHub deployment is created for: `GITHUB_SHA` in GitHub Actions ("The
    commit SHA that triggered the workflow": docs.github.com, Store information in variables,
    default environment variables), else the checkout's HEAD, else None (the GitHub target
    then warns and sends nothing)."""
    env = os.environ if environ is None else environ
    if sha := env.get("GITHUB_SHA", "").strip():
        return sha
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=GIT_SECONDS, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and sha else None


def run_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The CI run's page, for the deployment status' `log_url`:
    `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID` (the same default
    variables); None outside GitHub Actions."""
    env = os.environ if environ is None else environ
    parts = [env.get(name, "").strip() for name in
             ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]  # fmt: skip
    if not all(parts):
        return None
    server, repository, run = parts
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run}"


def notify_input(settings: Settings) -> pulumi.Output[dict[str, Any]] | None:
    """`{targets, stack}` as a Pulumi secret; None when the stack notifies no one.

    The same for every release of the stack (no release id in it): the offline plan's diff
    (`plan --diff`) compares secret inputs by fingerprint, so an input that changed with the
    pins would list every step as touched by a one-service re-pin. The attempt and the ledger
    compute the release id themselves; a failing step names its own image."""
    spec = settings.notifications
    if spec is None:
        return None
    targets = spec.targets(ref=deploy_ref(), log_url=run_url())
    return pulumi.Output.secret({"targets": targets, "stack": settings.stack})
