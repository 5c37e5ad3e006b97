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
)

from policy.rules import RULES, Resource, Rule

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "production": {"type": "boolean", "default": False},
        "minBackupRetentionDays": {"type": "integer", "default": 7, "minimum": 1},
    }
)


def validator(rule: Rule) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = Resource(args.resource_type, args.props, bool(args.opts.protect), args.name)
        for message in rule.check(resource, args.get_config()):
            report_violation(message, None)

    return validate


POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validator(rule),
        config_schema=CONFIG_SCHEMA,
    )
    for rule in RULES
]  # fmt: skip

if __name__ == "__main__":
    PolicyPack(name="releasegate", enforcement_level=EnforcementLevel.ADVISORY, policies=POLICIES)
