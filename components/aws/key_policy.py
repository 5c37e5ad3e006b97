"""The stack key's explicit key policy: the account (so IAM policies and grants work, and no one
is locked out) and CloudWatch Logs for this stack's log groups only.

- The account statement is AWS's default key policy statement: principal
  `arn:<partition>:iam::<account>:root`, `kms:*` on the key. It lets IAM policies in the account
  allow use and administration of the key, `kms:PutKeyPolicy` included, so neither this policy
  nor a later one can lock the deployer out (AWS KMS Developer Guide, "Default key policy":
  "Allows access to the AWS account and enables IAM policies"). Secrets Manager, ECR and RDS
  (storage and Performance Insights) use the key on behalf of the caller, through grants the
  caller creates or IAM permissions the caller has, which that statement enables (Secrets
  Manager, ECR and RDS encryption-at-rest pages; docs/aws.md lists the deploy role's actions).
- CloudWatch Logs encrypts a log group with a customer managed key only when the key policy
  allows the service principal `logs.<region>.amazonaws.com`, and the condition
  `kms:EncryptionContext:aws:logs:arn` on the log group ARN keeps the key to the named groups
  (Amazon CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS Key
  Management Service", step 2). The names are this stack's own: `/releasegate/<prefix>/*`
  (service, migration and VPC flow logs), RDS's export groups `/aws/rds/instance/<prefix>-db*/`
  and WAF's `aws-waf-logs-<prefix>*` (WAF requires that name prefix).

Changing a key's policy never replaces the key: pulumi-aws `kms.Key.policy` is an in-place
update (terraform-provider-aws `aws_kms_key`: `policy` is Optional/Computed, not ForceNew; the
update calls PutKeyPolicy), and the key is `protect`ed anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence


def logs_principal(region: str, dns_suffix: str = "amazonaws.com") -> str:
    """CloudWatch Logs' regional service principal (`logs.<region>.amazonaws.com`)."""
    return f"logs.{region}.{dns_suffix}"


def stack_log_group_arns(partition: str, region: str, account: str, prefix: str) -> list[str]:
    """ARN patterns of every log group this stack makes or owns, for the key policy condition."""
    base = f"arn:{partition}:logs:{region}:{account}:log-group:"
    return [
        f"{base}/releasegate/{prefix}/*",
        f"{base}/aws/rds/instance/{prefix}-db/*",
        f"{base}/aws/rds/instance/{prefix}-db-*",
        f"{base}aws-waf-logs-{prefix}*",
    ]


def stack_key_policy(
    partition: str, region: str, account: str, log_group_arns: Sequence[str],
    dns_suffix: str = "amazonaws.com",
) -> str:  # fmt: skip
    """The key policy document (JSON) for the stack key."""
    statements = [
        {
            "Sid": "EnableIamPoliciesForTheAccount",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsForThisStacksLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": logs_principal(region, dns_suffix)},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": sorted(log_group_arns)}
            },
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)
