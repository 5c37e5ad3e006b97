"""RDS PostgreSQL for the product: private, encrypted, backed up, and hard to lose.

- In the private subnets, `publicly_accessible=False`, reachable only from the tasks' group;
  `rds.force_ssl` on, and DATABASE_URL asks for `sslmode=require`.
- Storage encrypted with the stack's KMS key; automated backups kept `backupRetentionDays`;
  `delete_automated_backups=False` and `copy_tags_to_snapshot=True`, so backups and snapshots
  outlive the instance and say where they came from.
- `skip_final_snapshot=False` with a final snapshot name that is unique per instance (a random
  suffix made once), so a delete always leaves a snapshot and never collides with an old one.
- `deletion_protection` from config (always on in production) and Pulumi `protect` on the
  instance everywhere: deleting it takes two deliberate steps.
- Properties that force a replacement (identifier, db_name, username, kms_key_id,
  storage_encrypted, snapshot_identifier, availability_zone, engine, character set) are fixed
  at creation and never derived from a release. Restoring a snapshot is a NEW instance
  (`database.restoreFromSnapshot`): the services cut over to it by config, the original stays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

INSTANCE_CLASSES: Mapping[str, str] = {
    "small": "db.t4g.small",
    "medium": "db.t4g.medium",
    "large": "db.m7g.large",
    "xlarge": "db.m7g.xlarge",
}
"""Size names in `database.size`; any other value is used as the instance class itself."""


def instance_class(size: str) -> str:
    return INSTANCE_CLASSES.get(size, size)


@dataclass(frozen=True)
class AwsDatabaseArgs:
    prefix: str
    engine_version: str
    size: str
    storage_gb: int
    backup_retention_days: int
    multi_az: bool
    deletion_protection: bool
    database: str
    username: str
    password: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    restore_from_snapshot: str | None
    tags: Mapping[str, str]


class AwsDatabase(pulumi.ComponentResource):
    instance: aws.rds.Instance
    """The instance the services use: the restored one when restoring, else the original."""
    url: pulumi.Output[str]
    identifier: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        major = args.engine_version.split(".")[0]
        subnets = aws.rds.SubnetGroup(
            "subnets", subnet_ids=args.subnet_ids, tags=dict(args.tags), opts=child
        )
        parameters = aws.rds.ParameterGroup(
            "parameters",
            family=f"postgres{major}",
            parameters=[{"name": "rds.force_ssl", "value": "1", "apply_method": "pending-reboot"}],
            tags=dict(args.tags),
            opts=child,
        )
        original = self._instance("instance", f"{args.prefix}-db", args, subnets, parameters, None)
        self.instance = original
        if args.restore_from_snapshot is not None:
            # A new instance beside the original, never an in-place restore of the live one.
            self.instance = self._instance(
                "restored",
                f"{args.prefix}-db-{_slug(args.restore_from_snapshot)}"[:63].rstrip("-"),
                args,
                subnets,
                parameters,
                args.restore_from_snapshot,
            )
        self.identifier = self.instance.identifier
        self.url = pulumi.Output.secret(
            pulumi.Output.all(self.instance.address, self.instance.port, args.password).apply(
                lambda v: (
                    f"postgresql://{args.username}:{v[2]}@{v[0]}:{v[1]}/{args.database}"
                    "?sslmode=require"
                )
            )
        )
        self.register_outputs({"identifier": self.identifier, "address": self.instance.address})

    def _instance(
        self,
        name: str,
        identifier: str,
        args: AwsDatabaseArgs,
        subnets: aws.rds.SubnetGroup,
        parameters: aws.rds.ParameterGroup,
        snapshot: str | None,
    ) -> aws.rds.Instance:
        suffix = random.RandomId(f"{name}-final-snapshot", byte_length=4,
                                 opts=pulumi.ResourceOptions(parent=self))  # fmt: skip
        return aws.rds.Instance(
            name,
            identifier=identifier,
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=instance_class(args.size),
            allocated_storage=args.storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_name=None if snapshot else args.database,
            username=None if snapshot else args.username,
            password=args.password,
            snapshot_identifier=snapshot,
            db_subnet_group_name=subnets.name,
            parameter_group_name=parameters.name,
            vpc_security_group_ids=[args.security_group_id],
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=suffix.hex.apply(lambda h: f"{identifier}-final-{h}"),
            delete_automated_backups=False,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            apply_immediately=False,
            tags={**args.tags, "releasegate:database": identifier},
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )


def _slug(text: str) -> str:
    """RDS identifiers: letters, digits and single hyphens, starting with a letter."""
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-") or "restore"
