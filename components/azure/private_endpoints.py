"""A private endpoint for one Azure service (Key Vault or ACR) in the stack's network, with the
service's `privatelink.*` private DNS zone linked to the network and filled by a DNS zone group,
so that the app environment resolves the service's public name (`<vault>.vault.azure.net`,
`<registry>.azurecr.io` and the registry's `<registry>.<region>.data.azurecr.io`) to the
endpoint's private address.

Group ids and zones are Microsoft's table "Azure Private Endpoint private DNS zone values"
(https://learn.microsoft.com/azure/private-link/private-endpoint-dns): Microsoft.KeyVault/vaults,
sub-resource `vault`, zone `privatelink.vaultcore.azure.net`; Microsoft.ContainerRegistry/
registries, sub-resource `registry`, zone `privatelink.azurecr.io` (the zone group writes both the
login server's and the regional data endpoint's records there). ACR private endpoints need the
Premium tier (https://learn.microsoft.com/azure/container-registry/container-registry-private-link).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns


@dataclass(frozen=True)
class PrivateService:
    """What a private endpoint connects to: the sub-resource (group id) and its DNS zone."""

    group_id: str
    zone: str


KEY_VAULT = PrivateService(group_id="vault", zone="privatelink.vaultcore.azure.net")
REGISTRY = PrivateService(group_id="registry", zone="privatelink.azurecr.io")
MANAGED_REDIS = PrivateService(group_id="redisEnterprise", zone="privatelink.redis.azure.net")
"""Azure Managed Redis (Microsoft.Cache/redisEnterprise), same table: sub-resource
`redisEnterprise`, zone `privatelink.redis.azure.net` (not Azure Cache for Redis'
`privatelink.redis.cache.windows.net`, nor the retiring Enterprise tier's
`privatelink.redisenterprise.cache.azure.net`); components/azure/cache.py."""


@dataclass(frozen=True)
class PrivateEndpointArgs:
    service: PrivateService
    resource_id: pulumi.Input[str]
    """The vault's or registry's resource id."""
    resource_group_name: pulumi.Input[str]
    location: str
    subnet_id: pulumi.Input[str]
    """A subnet without delegation (the platform's `endpoints` subnet)."""
    vnet_id: pulumi.Input[str]
    tags: Mapping[str, str]


class PrivateEndpoint(pulumi.ComponentResource):
    """Apps and jobs that use the service wait for `ready` (endpoint, zone link and records):
    with public network access disabled, nothing else reaches it."""

    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: PrivateEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:PrivateEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        zone = privatedns.PrivateZone(
            f"{name}-zone",
            resource_group_name=args.resource_group_name,
            private_zone_name=args.service.zone,
            location="global",
            tags=tags,
            opts=child,
        )
        link = privatedns.VirtualNetworkLink(
            f"{name}-zone-link",
            resource_group_name=args.resource_group_name,
            private_zone_name=zone.name,
            virtual_network=privatedns.SubResourceArgs(id=args.vnet_id),
            registration_enabled=False,
            location="global",
            tags=tags,
            opts=child,
        )
        endpoint = network.PrivateEndpoint(
            name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            subnet=network.SubnetArgs(id=args.subnet_id),
            private_link_service_connections=[network.PrivateLinkServiceConnectionArgs(
                name=args.service.group_id,
                private_link_service_id=args.resource_id,
                group_ids=[args.service.group_id],
            )],
            tags=tags,
            opts=child,
        )  # fmt: skip
        records = network.PrivateDnsZoneGroup(
            f"{name}-dns",
            resource_group_name=args.resource_group_name,
            private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[network.PrivateDnsZoneConfigArgs(
                name=args.service.zone.replace(".", "-"), private_dns_zone_id=zone.id)],
            opts=child,
        )  # fmt: skip
        self.ready = [endpoint, link, records]
        self.register_outputs({"privateEndpointId": endpoint.id})
