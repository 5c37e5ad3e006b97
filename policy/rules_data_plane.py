"""Rules for the AWS audit trail and data plane (docs/aws.md, "Audit trail and data plane"):
VPC flow logs, RDS log exports and logging parameters, log groups encrypted with a customer
managed key, an explicit KMS key policy that keeps the account in, Performance Insights and
enhanced monitoring in production. Pure functions like the rest of `policy.rules`; values a
preview does not know yet are not judged (the analyzer skips a rule that touches one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from policy.documents import statements as policy_statements

if TYPE_CHECKING:
    from policy.rules import Resource

RDS_INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_EXPORTS = ("postgresql", "upgrade")
"""What RDS for PostgreSQL can export besides iam-db-auth-error (botocore rds model)."""


def flow_logs_capture_all(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """A flow log records accepted and rejected traffic and goes somewhere."""
    if r.type != FLOW_LOG:
        return []
    found = []
    if r.props.get("trafficType") != "ALL":
        found.append(f"trafficType is {r.props.get('trafficType')!r}; allowed: 'ALL'")
    if not r.props.get("logDestination"):
        found.append("logDestination is not set; allowed: a log group or bucket ARN")
    return found


def vpcs_have_flow_logs(resources: Sequence[Resource], _config: Mapping[str, Any]) -> list[str]:
    """Every VPC the stack creates has a flow log of ALL traffic that depends on it (its
    `vpcId` comes from the VPC, so the engine records the dependency even while the id is
    unknown in a preview)."""
    flows = [r for r in resources if r.type == FLOW_LOG and r.props.get("trafficType") == "ALL"]
    return [
        f"{vpc.name or vpc.urn}: the VPC has no flow log of ALL traffic; allowed: an "
        "aws.ec2.FlowLog with traffic_type ALL for it"
        for vpc in resources
        if vpc.type == VPC and not any(vpc.urn and vpc.urn in f.dependencies for f in flows)
    ]


def _parameters(r: Resource) -> dict[str, str]:
    return {str(p.get("name")): str(p.get("value")) for p in r.props.get("parameters") or []
            if isinstance(p, Mapping)}  # fmt: skip


def database_audit_logs(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """RDS exports its PostgreSQL and upgrade logs; PostgreSQL parameter groups log
    connections, disconnections and slow statements."""
    found = []
    if r.type == RDS_INSTANCE and str(r.props.get("engine", "postgres")).startswith("postgres"):
        exports = set(r.props.get("enabledCloudwatchLogsExports") or [])
        missing = [log for log in LOG_EXPORTS if log not in exports]
        if missing:
            found.append(f"enabledCloudwatchLogsExports lacks {', '.join(missing)}; allowed: "
                         "postgresql and upgrade exported to CloudWatch Logs")  # fmt: skip
    if r.type == PARAMETER_GROUP and str(r.props.get("family", "")).startswith("postgres"):
        values = _parameters(r)
        for name in ("log_connections", "log_disconnections"):
            if values.get(name) not in ("1", "on", "true"):
                found.append(f"parameter {name} is {values.get(name)!r}; allowed: '1'")
        slow = values.get("log_min_duration_statement")
        if slow is None or not slow.isdigit():
            found.append(
                f"parameter log_min_duration_statement is {slow!r}; allowed: a "
                "threshold in ms, 0 or more (-1 turns slow-statement logging off)"
            )
    return found


def log_groups_encrypted(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    if r.type == LOG_GROUP and not r.props.get("kmsKeyId"):
        return [f"log group {r.props.get('name')!r} has no kmsKeyId; allowed: the stack's KMS "
                "key (its key policy lets CloudWatch Logs use it for this group)"]  # fmt: skip
    return []


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def kms_key_policy_explicit(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """A KMS key states its policy, and that policy keeps the account in: an Allow for the
    account root with kms:* (or at least kms:PutKeyPolicy), the default key policy statement
    that enables IAM policies and prevents a lockout."""
    if r.type != KMS_KEY:
        return []
    statements = policy_statements(r.props.get("policy"))
    if not statements:
        return ["policy is not set; allowed: an explicit key policy (the account root with "
                "kms:*, and each service that must use the key)"]  # fmt: skip
    for s in statements:
        principals = _as_list(
            (s.get("Principal") or {}).get("AWS")
            if isinstance(s.get("Principal"), Mapping)
            else None
        )
        actions = _as_list(s.get("Action"))
        if (s.get("Effect") == "Allow" and not s.get("Condition")
                and any(str(p).endswith(":root") for p in principals)
                and ("kms:*" in actions or "kms:PutKeyPolicy" in actions)):  # fmt: skip
            return []
    return [
        "policy has no unconditional Allow of kms:* (or kms:PutKeyPolicy) for the account "
        "root; allowed: keep that statement so IAM policies work and no one is locked out"
    ]


def rds_insights_and_monitoring(r: Resource, config: Mapping[str, Any]) -> list[str]:
    """Production: Performance Insights encrypted with a customer managed key, and enhanced
    monitoring with its role."""
    if not config.get("production") or r.type != RDS_INSTANCE:
        return []
    found = []
    if r.props.get("performanceInsightsEnabled") is not True:
        found.append("performanceInsightsEnabled is not true; allowed: true in production")
    elif not r.props.get("performanceInsightsKmsKeyId"):
        found.append("performanceInsightsKmsKeyId is not set; allowed: the stack's KMS key")
    interval = r.props.get("monitoringInterval")
    if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
        found.append(f"monitoringInterval is {interval!r}; allowed: 1, 5, 10, 15, 30 or 60 in "
                     "production (enhanced monitoring)")  # fmt: skip
    elif not r.props.get("monitoringRoleArn"):
        found.append("monitoringRoleArn is not set; allowed: a role RDS monitoring assumes")
    return found
