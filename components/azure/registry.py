"""Azure Container Registry for the product's images: the admin user stays off, and apps and
the migration job pull through the stack's user-assigned identity, which holds AcrPull on this
registry only. No registry password exists anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, containerregistry

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
    subscription_id: pulumi.Input[str]
    pull_principal_id: pulumi.Input[str]
    premium: bool
    tags: Mapping[str, str]


class AzureRegistry(pulumi.ComponentResource):
    login_server: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    pull_access: pulumi.Resource
    """Apps must wait for the role assignment, or their first revision fails to pull."""

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
        self.pull_access = authorization.RoleAssignment(
            "acr-pull",
            scope=registry.id,
            principal_id=args.pull_principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(args.subscription_id, ACR_PULL),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"loginServer": self.login_server})
