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
- Audit trail: the `postgresql` and `upgrade` logs go to CloudWatch Logs (the values RDS for
  PostgreSQL accepts: postgresql | upgrade | iam-db-auth-error, botocore rds 2014-10-31,
  CreateDBInstanceMessage.EnableCloudwatchLogsExports), into log groups the stack creates first
  (`/aws/rds/instance/<identifier>/<log>`, the names RDS publishes to), encrypted with the stack
  key and kept `logRetentionDays`. The parameter group logs every connection and disconnection
  and every statement running `database.slowStatementMs` or longer.
- Performance Insights (7 days, the free retention, encrypted with the stack key) and enhanced
  monitoring (`aws.enhancedMonitoringSeconds`) in production, optional elsewhere.

None of these replaces anything: `enabled_cloudwatch_logs_exports`,
`performance_insights_enabled`, `performance_insights_kms_key_id`,
`performance_insights_retention_period`, `monitoring_interval` and `monitoring_role_arn` are
in-place updates of the instance (terraform-provider-aws internal/service/rds/instance.go: none
is ForceNew, unlike identifier, engine, kms_key_id, storage_encrypted, username, db_name), and
RDS applies them without a reboot. A parameter group's `parameter` set is updated in place;
only its `name`, `family` and `description` force a new group (terraform-provider-aws
aws_db_parameter_group), and those stay as they are (auto-name, `postgres<major>`, the
provider's default description). The parameters added here are dynamic on RDS for PostgreSQL,
so `apply_method` is `immediate` and no reboot is needed: `log_min_duration_statement` (AWS
Prescriptive Guidance, "Tuning PostgreSQL parameters": "Type: Dynamic"), `log_connections` and
`log_disconnections` (dynamic; they apply to new sessions). `rds.force_ssl` keeps
`pending-reboot`. `performance_insights_kms_key_id` can be set only when Performance Insights
is turned on and never changed later (pulumi_aws `rds.Instance` docs); it is always the stack
key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.spec import INSTANCE_CLASSES, instance_class
from components.naming import NOT_ALNUM, slug

__all__ = [
    "INSTANCE_CLASSES",
    "AwsDatabase",
    "AwsDatabaseArgs",
    "instance_class",
    "parameter_settings",
]

LOG_EXPORTS = ("postgresql", "upgrade")
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
"""The free retention (valid values: 7, 31 x months, 731; botocore rds
ModifyDBInstanceMessage.PerformanceInsightsRetentionPeriod)."""


def parameter_settings(slow_statement_ms: int) -> list[aws.rds.ParameterGroupParameterArgsDict]:
    """The parameter group's settings; see the module docstring for each apply method."""
    return [
        {"name": "rds.force_ssl", "value": "1", "apply_method": "pending-reboot"},
        {"name": "log_connections", "value": "1", "apply_method": "immediate"},
        {"name": "log_disconnections", "value": "1", "apply_method": "immediate"},
        {"name": "log_min_duration_statement", "value": str(slow_statement_ms),
         "apply_method": "immediate"},
    ]  # fmt: skip


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
    log_retention_days: int = 30
    slow_statement_ms: int = 1000
    performance_insights: bool = False
    monitoring_interval: int = 0
    monitoring_role_arn: pulumi.Input[str] | None = None
    """Required when `monitoring_interval` is not 0."""


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
            parameters=parameter_settings(args.slow_statement_ms),
            tags=dict(args.tags),
            opts=child,
        )
        original = self._instance("instance", f"{args.prefix}-db", args, subnets, parameters, None)
        self.instance = original
        if args.restore_from_snapshot is not None:
            # A new instance beside the original, never an in-place restore of the live one.
            self.instance = self._instance(
                "restored",
                restored_identifier(args.prefix, args.restore_from_snapshot),
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
        # RDS publishes to /aws/rds/instance/<identifier>/<log> and uses the group if it exists:
        # made first, it carries the stack key and the stack's retention.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}",
                name=f"/aws/rds/instance/{identifier}/{log}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.kms_key_arn,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for log in LOG_EXPORTS
        ]
        insights = args.performance_insights
        monitored = args.monitoring_interval > 0
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
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            performance_insights_enabled=insights,
            performance_insights_kms_key_id=args.kms_key_arn if insights else None,
            performance_insights_retention_period=(
                PERFORMANCE_INSIGHTS_RETENTION_DAYS if insights else None
            ),
            monitoring_interval=args.monitoring_interval,
            monitoring_role_arn=args.monitoring_role_arn if monitored else None,
            tags={**args.tags, "releasegate:database": identifier},
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=log_groups),
        )


def restored_identifier(prefix: str, snapshot: str) -> str:
    """The restored instance's identifier: RDS identifiers are letters, digits and single
    hyphens, at most 63 characters (botocore rds CreateDBInstance DBInstanceIdentifier)."""
    return f"{prefix}-db-{slug(snapshot, drop=NOT_ALNUM, fallback='restore')}"[:63].rstrip("-")
