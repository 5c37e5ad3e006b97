"""The ground an Azure stack stands on: resource group, Log Analytics, a virtual network with
one subnet delegated to the Container Apps environment and one to PostgreSQL Flexible Server
(private access), the server's private DNS zone linked to the network, and the Container Apps
environment. With `private_endpoints`, a third subnet (the /24 after the database's) holds the
private endpoints of Key Vault and ACR (components/azure/private_endpoints.py): each delegated
subnet belongs to its service (Container Apps: the environment's subnet "must be dedicated
exclusively to the Container App environment", learn.microsoft.com/azure/container-apps/
custom-virtual-networks; Flexible Server's delegated subnet holds only flexible servers).
Identities are per workload (components/azure/identities.py), not shared.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import (
    app,
    network,
    operationalinsights,
    privatedns,
    resources,
)


@dataclass(frozen=True)
class AzurePlatformArgs:
    prefix: str
    location: str
    resource_group_name: str
    vnet_cidr: str
    log_retention_days: int
    tags: Mapping[str, str]
    private_endpoints: bool = False


class AzurePlatform(pulumi.ComponentResource):
    resource_group_name: pulumi.Output[str]
    environment_id: pulumi.Output[str]
    default_domain: pulumi.Output[str]
    database_subnet_id: pulumi.Output[str]
    database_dns_zone_id: pulumi.Output[str]
    vnet_id: pulumi.Output[str]
    endpoints_subnet_id: pulumi.Output[str] | None
    """The subnet private endpoints take their addresses from (None without private endpoints)."""

    def __init__(
        self, name: str, args: AzurePlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        group = resources.ResourceGroup(
            "group", resource_group_name=args.resource_group_name, location=args.location,
            tags=tags, opts=child,
        )  # fmt: skip
        self.resource_group_name = group.name
        workspace = operationalinsights.Workspace(
            "logs",
            resource_group_name=group.name,
            location=args.location,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        keys = operationalinsights.get_shared_keys_output(
            resource_group_name=group.name, workspace_name=workspace.name
        )
        apps_block, database_block, endpoints_block = _subnets(args.vnet_cidr)
        vnet = network.VirtualNetwork(
            "vnet",
            resource_group_name=group.name,
            location=args.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[args.vnet_cidr]),
            tags=tags,
            # Subnets are their own resources below; never let the vnet remove them.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        apps_subnet = network.Subnet(
            "apps",
            resource_group_name=group.name,
            virtual_network_name=vnet.name,
            address_prefix=apps_block,
            delegations=[network.DelegationArgs(name="apps",
                                                service_name="Microsoft.App/environments")],
            opts=child,
        )  # fmt: skip
        database_subnet = network.Subnet(
            "database",
            resource_group_name=group.name,
            virtual_network_name=vnet.name,
            address_prefix=database_block,
            delegations=[network.DelegationArgs(
                name="postgres", service_name="Microsoft.DBforPostgreSQL/flexibleServers")],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[apps_subnet]),
        )  # fmt: skip
        self.database_subnet_id = database_subnet.id
        self.vnet_id = vnet.id
        self.endpoints_subnet_id = None
        if args.private_endpoints:
            # Azure refuses concurrent changes to one network's subnets: one after the other.
            # Existing subnets keep their prefixes (a changed prefix would replace them).
            endpoints_subnet = network.Subnet(
                "endpoints",
                resource_group_name=group.name,
                virtual_network_name=vnet.name,
                address_prefix=endpoints_block,
                # Network policies (NSG/UDR) apply to private endpoints when Enabled; no NSG
                # is attached here, so Disabled (the default) keeps Azure's behaviour explicit.
                private_endpoint_network_policies="Disabled",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[database_subnet]),
            )
            self.endpoints_subnet_id = endpoints_subnet.id
        zone = privatedns.PrivateZone(
            "postgres-zone",
            resource_group_name=group.name,
            private_zone_name=f"{args.prefix}.private.postgres.database.azure.com",
            location="global",
            tags=tags,
            opts=child,
        )
        link = privatedns.VirtualNetworkLink(
            "postgres-zone-link",
            resource_group_name=group.name,
            private_zone_name=zone.name,
            virtual_network=privatedns.SubResourceArgs(id=vnet.id),
            registration_enabled=False,
            location="global",
            opts=child,
        )
        self.database_dns_zone_id = pulumi.Output.all(zone.id, link.id).apply(lambda v: v[0])
        environment = app.ManagedEnvironment(
            "environment",
            resource_group_name=group.name,
            location=args.location,
            app_logs_configuration=app.AppLogsConfigurationArgs(
                destination="log-analytics",
                log_analytics_configuration=app.LogAnalyticsConfigurationArgs(
                    customer_id=workspace.customer_id,
                    shared_key=pulumi.Output.secret(keys.primary_shared_key.apply(str)),
                ),
            ),
            vnet_configuration=app.VnetConfigurationArgs(
                infrastructure_subnet_id=apps_subnet.id, internal=False
            ),
            workload_profiles=[app.WorkloadProfileArgs(
                name="Consumption", workload_profile_type="Consumption")],
            zone_redundant=False,
            tags=tags,
            opts=child,
        )  # fmt: skip
        self.environment_id = environment.id
        self.default_domain = environment.default_domain
        self.register_outputs(
            {"resourceGroupName": self.resource_group_name, "defaultDomain": self.default_domain}
        )


def _subnets(cidr: str) -> tuple[str, str, str]:
    """A /23 for the apps environment (its minimum), a /24 after it for the database, and the
    /24 after that for private endpoints: all three fit the smallest allowed network (/22)."""
    whole = ipaddress.IPv4Network(cidr)
    apps, following = list(whole.subnets(new_prefix=23))[:2]
    database, endpoints = list(following.subnets(new_prefix=24))[:2]
    return str(apps), str(database), str(endpoints)
