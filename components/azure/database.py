"""PostgreSQL Flexible Server for the product: private access only (a delegated subnet and a
private DNS zone; public network access disabled), TLS enforced (`require_secure_transport`),
backups kept `backupRetentionDays`, geo-redundant backups and zone-redundant HA where config
asks (always in production), and Pulumi `protect` on every stack.

Restoring is a point-in-time restore into a NEW server (`createMode: PointInTimeRestore` from
the original), selected by config; the original stays, protected. Properties that force a
replacement of the server (its name, the resource group, the location, `createMode` and the
restore source, the administrator login) are fixed at creation and never follow a release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import dbforpostgresql

from components.naming import NOT_ALNUM, slug

SKUS: Mapping[str, tuple[str, str]] = {
    "small": ("Standard_B2s", "Burstable"),
    "medium": ("Standard_D2ds_v5", "GeneralPurpose"),
    "large": ("Standard_D4ds_v5", "GeneralPurpose"),
    "xlarge": ("Standard_D8ds_v5", "GeneralPurpose"),
}
"""Size names in `database.size`; any other value is used as a GeneralPurpose SKU name."""


def sku(size: str) -> tuple[str, str]:
    return SKUS.get(size, (size, "GeneralPurpose"))


@dataclass(frozen=True)
class AzureDatabaseArgs:
    prefix: str
    resource_group_name: pulumi.Input[str]
    location: str
    engine_version: str
    size: str
    storage_gb: int
    backup_retention_days: int
    geo_redundant_backup: bool
    zone_redundant_ha: bool
    database: str
    username: str
    password: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    dns_zone_id: pulumi.Input[str]
    restore_from_snapshot: str | None
    restore_point_in_time: str | None
    tags: Mapping[str, str]


class AzureDatabase(pulumi.ComponentResource):
    server: dbforpostgresql.Server
    """The server the apps use: the restored one when restoring, else the original."""
    url: pulumi.Output[str]
    server_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AzureDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:Database", name, None, opts)
        original = self._server("server", f"{args.prefix}-db", args, None)
        self.server = original
        if args.restore_from_snapshot is not None:
            self.server = self._server(
                "restored",
                restored_server_name(args.prefix, args.restore_from_snapshot),
                args,
                original,
            )
        servers = {"server": original}
        if self.server is not original:
            servers["restored"] = self.server  # a restore brings its databases with it
        for label, server in servers.items():
            dbforpostgresql.Configuration(
                f"{label}-require-tls",
                configuration_name="require_secure_transport",
                server_name=server.name,
                resource_group_name=args.resource_group_name,
                value="on",
                source="user-override",
                opts=pulumi.ResourceOptions(parent=self),
            )
        dbforpostgresql.Database(
            "database",
            database_name=args.database,
            server_name=original.name,
            resource_group_name=args.resource_group_name,
            charset="UTF8",
            collation="en_US.utf8",
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.server_name = self.server.name
        self.url = pulumi.Output.secret(
            pulumi.Output.all(self.server.fully_qualified_domain_name, args.password).apply(
                lambda v: (
                    f"postgresql://{args.username}:{v[1]}@{v[0]}:5432/{args.database}"
                    "?sslmode=require"
                )
            )
        )
        self.register_outputs({"serverName": self.server_name})

    def _server(
        self,
        name: str,
        server_name: str,
        args: AzureDatabaseArgs,
        source: dbforpostgresql.Server | None,
    ) -> dbforpostgresql.Server:
        sku_name, tier = sku(args.size)
        restoring = source is not None
        return dbforpostgresql.Server(
            name,
            server_name=server_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            version=args.engine_version.split(".")[0],
            sku=dbforpostgresql.SkuArgs(name=sku_name, tier=tier),
            storage=dbforpostgresql.StorageArgs(storage_size_gb=args.storage_gb),
            administrator_login=None if restoring else args.username,
            administrator_login_password=args.password,
            backup=dbforpostgresql.BackupArgs(
                backup_retention_days=args.backup_retention_days,
                geo_redundant_backup="Enabled" if args.geo_redundant_backup else "Disabled",
            ),
            high_availability=dbforpostgresql.HighAvailabilityArgs(
                mode="ZoneRedundant" if args.zone_redundant_ha else "Disabled"
            ),
            network=dbforpostgresql.NetworkArgs(
                delegated_subnet_resource_id=args.subnet_id,
                private_dns_zone_arm_resource_id=args.dns_zone_id,
                public_network_access="Disabled",
            ),
            create_mode="PointInTimeRestore" if restoring else "Create",
            source_server_resource_id=source.id if source is not None else None,
            point_in_time_utc=args.restore_point_in_time if restoring else None,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )


def restored_server_name(prefix: str, snapshot: str) -> str:
    """The restored server's name, at most 63 characters (every character `str.isalnum`
    refuses becomes '-')."""
    return f"{prefix}-db-{slug(snapshot, drop=NOT_ALNUM, runs=False, strip='')}"[:63].strip("-")
