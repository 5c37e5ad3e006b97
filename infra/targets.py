"""Picks the deployment target for a stack's `releasegate:cloud`."""

from __future__ import annotations

import pulumi

from components.target import Target
from infra.settings import Cloud, Settings


class TargetUnavailable(pulumi.RunError):
    """The stack names a cloud whose target is not part of this version of releasegate."""


def make_target(settings: Settings) -> Target:
    """Each target's package is imported only for the cloud the stack names, so a local stack
    never loads pulumi_aws or pulumi_azure_native."""
    if settings.cloud is Cloud.LOCAL:
        from components.local.target import LocalTarget  # noqa: PLC0415

        return LocalTarget(settings)
    if settings.cloud is Cloud.AWS:
        from components.aws.target import AwsTarget  # noqa: PLC0415

        return AwsTarget(settings)
    if settings.cloud is Cloud.AZURE:
        from components.azure.target import AzureTarget  # noqa: PLC0415

        return AzureTarget(settings)
    raise TargetUnavailable(
        f"releasegate:cloud: {settings.cloud.value!r} has no target in this version of releasegate"
    )
