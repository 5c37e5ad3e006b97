"""Picks the deployment target for a stack's `releasegate:cloud`."""

from __future__ import annotations

import pulumi

from components.target import Target
from infra.settings import Cloud, Settings


class TargetUnavailable(pulumi.RunError):
    """The stack names a cloud whose target is not part of this version of releasegate."""


def make_target(settings: Settings) -> Target:
    if settings.cloud is Cloud.LOCAL:
        from components.local.target import LocalTarget  # noqa: PLC0415 - pulumi_docker on demand

        return LocalTarget(settings)
    raise TargetUnavailable(
        f"releasegate:cloud: {settings.cloud.value!r} is not available in this version of "
        "releasegate (only 'local' is); the stack's config is valid, but nothing was changed. "
        "Use `python -m infra plan --stack <name> --set cloud=local` to inspect the graph."
    )
