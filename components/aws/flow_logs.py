"""VPC flow logs for a VPC the stack creates: every accepted and rejected flow (traffic type
ALL) to a CloudWatch Logs group encrypted with the stack key, kept `logRetentionDays`.

CloudWatch Logs rather than S3: the stack's other logs are there already, with one retention
setting (`aws.logRetentionDays`), one key policy statement and Logs Insights to query them; S3
would need a bucket, a bucket policy for the log delivery service and a lifecycle of its own.
S3 is cheaper per GB for very chatty VPCs (docs/aws.md, "Cost and timing").

Publishing to CloudWatch Logs needs an IAM role that `vpc-flow-logs.amazonaws.com` assumes,
with `logs:CreateLogGroup`, `CreateLogStream`, `PutLogEvents`, `DescribeLogGroups`,
`DescribeLogStreams`; AWS recommends `aws:SourceAccount` and `aws:SourceArn`
(`arn:<partition>:ec2:<region>:<account>:vpc-flow-log/*`) in the trust policy against the
confused deputy problem (Amazon VPC User Guide, "IAM role for publishing flow logs to
CloudWatch Logs"). The write actions are scoped to the one log group here; `DescribeLogGroups`
lists groups and is granted on `*`.

An existing VPC (`aws.vpcId`) is its owner's: the stack does not add flow logs to it
(docs/policy.md says how to check that the owner has them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.roles import service_trust


def flow_logs_trust(partition: str, region: str, account: str) -> str:
    source_arn = f"arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*"
    return service_trust("vpc-flow-logs.amazonaws.com", account, source_arn)


def flow_logs_policy(log_group_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                },
                {"Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*"},
            ],
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class VpcFlowLogsArgs:
    prefix: str
    vpc_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    retention_days: int
    partition: pulumi.Input[str]
    region: str
    account: pulumi.Input[str]
    tags: Mapping[str, str]


class VpcFlowLogs(pulumi.ComponentResource):
    log_group: aws.cloudwatch.LogGroup
    flow_log: aws.ec2.FlowLog

    def __init__(
        self, name: str, args: VpcFlowLogsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:VpcFlowLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.log_group = aws.cloudwatch.LogGroup(
            "flow-logs",
            name=f"/releasegate/{args.prefix}/vpc-flow-logs",
            retention_in_days=args.retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        trust = pulumi.Output.all(args.partition, args.account).apply(
            lambda v: flow_logs_trust(str(v[0]), args.region, str(v[1]))
        )
        role = aws.iam.Role("flow-logs", assume_role_policy=trust, tags=tags, opts=child)
        attached = aws.iam.RolePolicy(
            "flow-logs",
            role=role.id,
            policy=self.log_group.arn.apply(flow_logs_policy),
            opts=child,
        )
        self.flow_log = aws.ec2.FlowLog(
            "vpc",
            vpc_id=args.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=self.log_group.arn,
            iam_role_arn=role.arn,
            tags={**tags, "Name": f"{args.prefix}-vpc"},
            # The role's policy first: the flow log delivers only with it attached.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attached]),
        )
        self.register_outputs({"logGroup": self.log_group.name})
