"""Azure Container Registry for the product's images: the admin user stays off, and every app
and the migration job pull through its own user-assigned identity, each holding AcrPull on this
registry only (components/azure/identities.py). No registry password exists anywhere.

Private (production): public network access is disabled and the default network action is Deny
(what `az acr update --public-network-enabled false` also sets, Azure/azure-cli#23247); the
registry answers only through its private endpoint (components/azure/private_endpoints.py), so
pushes and digest look-ups run inside the stack's network (docs/azure.md, "Private network
access"). Premium, which private endpoints need.

Zone redundancy is asked for in production, but only a new registry gets it: `zoneRedundancy` is
not among the properties a registry update takes (ACR REST spec, RegistryPropertiesUpdateParameters
has no zoneRedundancy), so the program ignores later changes of it rather than letting a changed
value replace the protected registry and the images a rollback needs. Microsoft has since made
every registry in a region with availability zones zone-redundant, new and existing, whatever the
property says (https://learn.microsoft.com/azure/container-registry/zone-redundancy).
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
    private: bool = False
    """Public network access disabled (the private endpoint is the only way in)."""
    zone_redundant: bool = False
    """Asked for at creation only (see the module docstring)."""


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
            # A tier change is an update in place, never a new registry.
            sku=containerregistry.SkuArgs(
                name="Premium" if args.premium or args.private else "Standard"
            ),
            admin_user_enabled=False,
            public_network_access="Disabled" if args.private else "Enabled",
            network_rule_set=containerregistry.NetworkRuleSetArgs(default_action="Deny")
            if args.private else None,
            # Trusted Azure services (e.g. Defender scans) keep access; ACR's default.
            network_rule_bypass_options="AzureServices",
            zone_redundancy="Enabled" if args.zone_redundant else "Disabled",
            tags=dict(args.tags),
            # Replacing the registry would drop every image a rollback may need.
            opts=pulumi.ResourceOptions(parent=self, protect=True,
                                        ignore_changes=["zoneRedundancy"]),
        )  # fmt: skip
        self.login_server = registry.login_server
        self.registry_id = registry.id
        self.register_outputs({"loginServer": self.login_server})
