"""The public ALB's web application firewall: a WAFv2 web ACL (scope REGIONAL) associated with
the ALB, with AWS's managed rule groups and a per-IP rate-based rule, and its logs kept.

Outside production every rule only counts (managed groups with `override_action: count`, the
rate rule with `action: count`): a staging stack shows what production would block without
breaking a release's gate. In production (`aws.production`) the managed groups apply their own
actions (`override_action: none`) and the rate rule blocks.

Logs go to a CloudWatch log group whose name starts with `aws-waf-logs-` (botocore wafv2
model, PutLoggingConfiguration: "The name that you give the destination must start with
aws-waf-logs-"), encrypted with the stack's KMS key and kept `logRetentionDays`. WAF writes
them through the log group's resource policy, which WAF creates itself when the deployer may
call `logs:PutResourcePolicy` (docs/aws.md, IAM).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
"""AWS managed rule groups (vendor AWS): OWASP-style common rules, known bad inputs (Log4j,
invalid paths), and Amazon's IP reputation list."""
RATE_WINDOW_SECONDS = 300
"""WAFv2 RateBasedStatement.EvaluationWindowSec: 60, 120, 300 or 600; default 300 (botocore
wafv2 model)."""
LOG_GROUP_PREFIX = "aws-waf-logs-"
REDACTED_HEADERS = ("authorization", "cookie")
"""Single headers WAF redacts from its logs (lower case, as WAFv2 SingleHeader names)."""


@dataclass(frozen=True)
class AwsWafArgs:
    prefix: str
    load_balancer_arn: pulumi.Input[str]
    blocking: bool
    """True in production: rules block; False: every rule only counts."""
    rate_limit: int
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    tags: Mapping[str, str]


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
    return aws.wafv2.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _rule_visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def web_acl_rules(prefix: str, blocking: bool, rate_limit: int) -> list[aws.wafv2.WebAclRuleArgs]:
    """The ACL's rules in priority order: the rate rule first (cheapest, stops floods before
    the managed groups inspect them), then the managed groups."""
    # `none`: the group's own actions apply; `count`: its matches are only counted.
    # (pulumi_aws leaves the empty None/Count args' __init__ unannotated.)
    override = (
        aws.wafv2.WebAclRuleOverrideActionArgs(
            none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()  # type: ignore[no-untyped-call]
        )
        if blocking
        else aws.wafv2.WebAclRuleOverrideActionArgs(
            count=aws.wafv2.WebAclRuleOverrideActionCountArgs()  # type: ignore[no-untyped-call]
        )
    )
    rate_action = (
        aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs())
        if blocking
        else aws.wafv2.WebAclRuleActionArgs(count=aws.wafv2.WebAclRuleActionCountArgs())
    )
    rules = [
        aws.wafv2.WebAclRuleArgs(
            name="rate-limit-per-ip",
            priority=0,
            action=rate_action,
            statement=aws.wafv2.WebAclRuleStatementArgs(
                rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                    limit=rate_limit,
                    aggregate_key_type="IP",
                    evaluation_window_sec=RATE_WINDOW_SECONDS,
                )
            ),
            visibility_config=_rule_visibility(f"{prefix}-rate-limit"),
        )
    ]
    for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1):
        rules.append(
            aws.wafv2.WebAclRuleArgs(
                name=group,
                priority=priority,
                override_action=override,
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        vendor_name="AWS", name=group
                    )
                ),
                visibility_config=_rule_visibility(f"{prefix}-{group}"),
            )
        )
    return rules


class AwsWaf(pulumi.ComponentResource):
    web_acl_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsWafArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:Waf", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        acl = aws.wafv2.WebAcl(
            "web-acl",
            scope="REGIONAL",  # an ALB's web ACL (CLOUDFRONT is for distributions)
            description=f"{args.prefix}: managed rules and a per-IP rate limit on the ALB",
            default_action=aws.wafv2.WebAclDefaultActionArgs(
                allow=aws.wafv2.WebAclDefaultActionAllowArgs()
            ),
            rules=web_acl_rules(args.prefix, args.blocking, args.rate_limit),
            visibility_config=_visibility(f"{args.prefix}-web-acl"),
            tags=tags,
            opts=child,
        )
        aws.wafv2.WebAclAssociation(
            "alb", resource_arn=args.load_balancer_arn, web_acl_arn=acl.arn, opts=child
        )
        logs = aws.cloudwatch.LogGroup(
            "waf-logs",
            name=f"{LOG_GROUP_PREFIX}{args.prefix}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            "logging",
            resource_arn=acl.arn,
            log_destination_configs=[logs.arn],
            # Request headers are logged: never the credentials a client sends.
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                        name=header
                    )
                )
                for header in REDACTED_HEADERS
            ],
            opts=child,
        )
        self.web_acl_arn = acl.arn
        self.log_group_name = logs.name
        self.register_outputs({"webAclArn": acl.arn, "logGroup": logs.name})
