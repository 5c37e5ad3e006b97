"""Picks the deployment target for a stack's `releasegate:cloud`."""

from __future__ import annotations

import importlib

import pulumi

from components.target import Target
from infra.settings import Cloud, Settings

TARGETS: dict[Cloud, str] = {
    Cloud.LOCAL: "components.local.target:LocalTarget",
    Cloud.AWS: "components.aws.target:AwsTarget",
    Cloud.AZURE: "components.azure.target:AzureTarget",
}
"""Cloud -> `module:class`. Imported only for the cloud the stack names, so a local stack never
loads pulumi_aws or pulumi_azure_native."""


class TargetUnavailable(pulumi.RunError):
    """The stack names a cloud whose target is not part of this version of releasegate."""


def make_target(settings: Settings) -> Target:
    module_name, _, class_name = TARGETS[settings.cloud].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # a missing dependency inside the target is a real error, not "unavailable"
        raise TargetUnavailable(
            f"releasegate:cloud: {settings.cloud.value!r} is not available in this version of "
            "releasegate; the stack's config is valid, but nothing was changed."
        ) from None
    target: Target = getattr(module, class_name)(settings)
    return target
