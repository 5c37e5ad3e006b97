"""What the AWS target's database settings need of the RDS instance class a `database.size`
names (checked at config time, before anything changes). The size table itself lives in
`components.aws.spec` (value types, no pulumi_aws import) and is re-exported here.
"""

from __future__ import annotations

from components.aws.spec import INSTANCE_CLASSES, instance_class
from infra.config_reader import Problems
from infra.settings import KEY_AWS, KEY_DATABASE
from infra.settings_aws import AwsSpec

__all__ = [
    "ENHANCED_MONITORING_INTERVALS",
    "INSTANCE_CLASSES",
    "PERFORMANCE_INSIGHTS_UNSUPPORTED",
    "check_database_insights",
    "instance_class",
]

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
