"""The RDS instance class a `database.size` names, and what the AWS target's database settings
need of it (checked at config time, before anything changes).

Kept apart from `components.aws.database` so config validation can use it without importing
pulumi_aws.
"""

from __future__ import annotations

from collections.abc import Mapping

from infra.config_reader import Problems
from infra.settings import KEY_AWS, KEY_DATABASE
from infra.settings_aws import AwsSpec

INSTANCE_CLASSES: Mapping[str, str] = {
    "small": "db.t4g.small",
    "medium": "db.t4g.medium",
    "large": "db.m7g.large",
    "xlarge": "db.m7g.xlarge",
}
"""Size names in `database.size`; any other value is used as the instance class itself."""

PERFORMANCE_INSIGHTS_UNSUPPORTED = frozenset(
    {"db.t2.micro", "db.t2.small", "db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"}
)
"""Instance classes Database Insights / Performance Insights does not support (Amazon RDS User
Guide, "Amazon RDS DB engine, Region, and instance class support for Database Insights": listed
for RDS for MariaDB and MySQL; the RDS for PostgreSQL row could not be read from our sources,
so these classes are refused for PostgreSQL too: a clear config error beats a failed `up`)."""

ENHANCED_MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
"""`MonitoringInterval` valid values (botocore rds 2014-10-31 model, ModifyDBInstanceMessage);
0 turns enhanced monitoring off."""


def instance_class(size: str) -> str:
    return INSTANCE_CLASSES.get(size, size)


def check_database_insights(problems: Problems, aws: AwsSpec, size: str) -> None:
    """Performance Insights on a class that has none fails `up` half way; say it now."""
    chosen = instance_class(size)
    if aws.performance_insights and chosen in PERFORMANCE_INSIGHTS_UNSUPPORTED:
        problems.add(
            f"{KEY_DATABASE}.size", size,
            f"a class with Performance Insights ({chosen} has none; e.g. medium = "
            f"{INSTANCE_CLASSES['medium']}), or {KEY_AWS}.performanceInsights: false "
            "(not allowed in production)",
        )  # fmt: skip
