"""The IAM role RDS enhanced monitoring uses to publish OS metrics to CloudWatch Logs.

`monitoring.rds.amazonaws.com` assumes it and it carries the AWS managed policy
AmazonRDSEnhancedMonitoringRole (Amazon RDS User Guide, "Setting up and enabling Enhanced
Monitoring", "Creating the IAM role before you enable Enhanced Monitoring"). The trust policy
carries `aws:SourceAccount` and `aws:SourceArn` (this stack's instances,
`arn:<partition>:rds:<region>:<account>:db:<prefix>-db*`), as the same page's "Protecting
against the confused deputy problem" recommends.

Enhanced monitoring writes to the account's `RDSOSMetrics` log group, which RDS creates and
owns for every instance of the account and region; the stack does not manage or encrypt it
(docs/policy.md, deliberate exceptions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.roles import service_trust

MANAGED_POLICY = "service-role/AmazonRDSEnhancedMonitoringRole"


def monitoring_trust(partition: str, region: str, account: str, prefix: str) -> str:
    source_arn = f"arn:{partition}:rds:{region}:{account}:db:{prefix}-db*"
    return service_trust("monitoring.rds.amazonaws.com", account, source_arn)


@dataclass(frozen=True)
class MonitoringRoleArgs:
    prefix: str
    partition: pulumi.Input[str]
    region: str
    account: pulumi.Input[str]
    tags: Mapping[str, str]


class RdsMonitoringRole(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    """Known only once the managed policy is attached, so RDS never gets a role it cannot use."""

    def __init__(
        self, name: str, args: MonitoringRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:RdsMonitoringRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        trust = pulumi.Output.all(args.partition, args.account).apply(
            lambda v: monitoring_trust(str(v[0]), args.region, str(v[1]), args.prefix)
        )
        role = aws.iam.Role("rds-monitoring", assume_role_policy=trust, tags=dict(args.tags),
                            opts=child)  # fmt: skip
        attached = aws.iam.RolePolicyAttachment(
            "rds-monitoring",
            role=role.name,
            policy_arn=pulumi.Output.from_input(args.partition).apply(
                lambda p: f"arn:{p}:iam::aws:policy/{MANAGED_POLICY}"
            ),
            opts=child,
        )
        self.arn = pulumi.Output.all(role.arn, attached.id).apply(lambda v: str(v[0]))
        self.register_outputs({"arn": self.arn})
