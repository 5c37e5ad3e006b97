"""Settings of the AWS target (`releasegate:cloud: aws`), read from the `releasegate:aws` key,
and the RDS instance class a `database.size` names.

Value types only (no pulumi_aws import): `infra.config_aws` loads and validates them, the AWS
components take them as arguments; `infra.settings_aws` re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExistingNetwork:
    """A VPC the stack does not own: the ALB goes in the public subnets, tasks and the
    database in the private ones (which need a route to ECR, Secrets Manager and CloudWatch
    Logs: NAT or VPC endpoints, owned by whoever owns the VPC)."""

    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class NewNetwork:
    """A VPC the stack creates: one public and one private subnet per availability zone,
    NAT gateways for the private subnets' egress (one, or one per zone)."""

    cidr: str
    availability_zones: tuple[str, ...]
    nat_gateway_per_zone: bool


@dataclass(frozen=True)
class HostedZone:
    """A Route 53 hosted zone the stack writes its domains' alias records into. The id is
    what Route 53's API takes; the name lets config validation check, offline, that every
    domain lies inside the zone (Route 53 would refuse it only at `up`)."""

    id: str
    name: str
    """Lower case, without the trailing dot."""


@dataclass(frozen=True)
class WafSpec:
    """The ALB's WAFv2 web ACL (`releasegate:aws.waf`). Counting only outside production,
    blocking in production (`aws.production`)."""

    enabled: bool = True
    """False only for a team whose ALB is fronted by its own firewall (a documented exception,
    docs/policy.md)."""
    rate_limit: int = 2000
    """Requests per client IP in WAF's 5-minute window before the rate-based rule acts."""


@dataclass(frozen=True)
class AwsSpec:
    """Validated `releasegate:aws` settings."""

    region: str
    network: ExistingNetwork | NewNetwork
    certificate_arn: str | None
    """With a certificate, listeners speak HTTPS and plain HTTP only redirects to it."""
    domains: Mapping[str, str] = field(default_factory=dict)
    """HTTP service -> host name. With domains, services share one listener by host header
    (443 with the certificate, else 80); without, each gets its own plain-HTTP port."""
    listener_ports: Mapping[str, int] = field(default_factory=dict)
    hosted_zone: HostedZone | None = None
    """With a hosted zone (only with domains), the stack manages an alias A record per domain
    pointing at the ALB. Without, DNS is the team's; the gate never needs it either way."""
    log_retention_days: int = 30
    keep_images: int = 30
    """Tagged images kept per repository by the ECR lifecycle policy (recent releases)."""
    deregistration_delay_seconds: int = 15
    health_check_interval_seconds: int = 5
    health_check_healthy_threshold: int = 2
    health_check_unhealthy_threshold: int = 2
    read_only_root_filesystem: bool = True
    waf: WafSpec = field(default_factory=WafSpec)
    access_log_expiration_days: int = 90
    """ALB access logs in S3 expire after this many days (the bucket's lifecycle rule)."""
    production: bool = False
    """Production hardening: deletion protection and protect enforced, NAT per zone advised,
    secrets recovery window 30 days."""
    performance_insights: bool = False
    """RDS Performance Insights (7 days, encrypted with the stack key); always on in production."""
    enhanced_monitoring_seconds: int = 0
    """RDS enhanced monitoring interval (0 = off); 60 by default in production, never 0 there."""


INSTANCE_CLASSES: Mapping[str, str] = {
    "small": "db.t4g.small",
    "medium": "db.t4g.medium",
    "large": "db.m7g.large",
    "xlarge": "db.m7g.xlarge",
}
"""Size names in `database.size`; any other value is used as the instance class itself."""


def instance_class(size: str) -> str:
    return INSTANCE_CLASSES.get(size, size)
