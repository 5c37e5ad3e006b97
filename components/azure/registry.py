"""Azure Container Registry for the product's images: the admin user stays off, and every app
and the migration job pull through its own user-assigned identity, each holding AcrPull on this
registry only (components/azure/identities.py). No registry password exists anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerregistry

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
"""The built-in AcrPull role definition id."""


def role_definition(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/",
        role,
    )  # fmt: skip


@dataclass(frozen=True)
class AzureRegistryArgs:
    name: str
    """Registry name: 5-50 lowercase letters and digits, globally unique."""
    resource_group_name: pulumi.Input[str]
    location: str
    premium: bool
    tags: Mapping[str, str]


class AzureRegistry(pulumi.ComponentResource):
    login_server: pulumi.Output[str]
    registry_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: AzureRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:Registry", name, None, opts)
        registry = containerregistry.Registry(
            "registry",
            registry_name=args.name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=containerregistry.SkuArgs(name="Premium" if args.premium else "Standard"),
            admin_user_enabled=False,
            tags=dict(args.tags),
            # Replacing the registry would drop every image a rollback may need.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.login_server = registry.login_server
        self.registry_id = registry.id
        self.register_outputs({"loginServer": self.login_server})
