"""The checked-in stack files, by the cloud they deploy to.

Each target's unit tests evaluate every stack file of their cloud, so a new stack file is
tested by the module of its cloud as soon as it is checked in (see test_program.py, which also
checks that every stack file names a cloud some module covers)."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.plan import PROJECT_ROOT


def stack_files() -> dict[str, Path]:
    paths = sorted(PROJECT_ROOT.glob("Pulumi.*.yaml"))
    return {p.name[len("Pulumi.") : -len(".yaml")]: p for p in paths}


def stack_cloud(path: Path) -> str | None:
    document = yaml.safe_load(path.read_text()) or {}
    cloud = (document.get("config") or {}).get("releasegate:cloud")
    return cloud if isinstance(cloud, str) else None


def stacks_for(cloud: str) -> list[str]:
    """Names of the checked-in stacks whose `releasegate:cloud` is `cloud`."""
    return [name for name, path in stack_files().items() if stack_cloud(path) == cloud]
