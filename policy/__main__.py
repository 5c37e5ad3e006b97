"""The CrossGuard pack the Pulumi analyzer loads (`pulumi preview --policy-pack policy`).

Advisory by default; `policy/config/production.json` makes every rule mandatory and turns on
the production-only checks, `policy/config/staging.json` keeps them advisory."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.rules import RULES, STACK_RULES, Resource, Rule, StackRule

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "production": {"type": "boolean", "default": False},
        "minBackupRetentionDays": {"type": "integer", "default": 7, "minimum": 1},
    }
)


def validator(rule: Rule) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = Resource(args.resource_type, args.props, bool(args.opts.protect), args.name,
                            args.urn)  # fmt: skip
        for message in rule.check(resource, args.get_config()):
            report_violation(message, None)

    return validate


def stack_validator(rule: StackRule) -> Any:
    """A stack rule sees every resource with the URNs it depends on (what relates a flow log to
    its VPC while the VPC's id is still unknown)."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            Resource(r.resource_type, r.props, bool(r.opts.protect), r.name, r.urn,
                     tuple(d.urn for d in r.dependencies))
            for r in args.resources
        ]  # fmt: skip
        for message in rule.check(resources, args.get_config()):
            report_violation(message, None)

    return validate


POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validator(rule),
        config_schema=CONFIG_SCHEMA,
    )
    for rule in RULES
] + [
    StackValidationPolicy(
        name=rule.name, description=rule.description, validate=stack_validator(rule),
        config_schema=CONFIG_SCHEMA,
    )
    for rule in STACK_RULES
]  # fmt: skip

if __name__ == "__main__":
    PolicyPack(name="releasegate", enforcement_level=EnforcementLevel.ADVISORY, policies=POLICIES)
