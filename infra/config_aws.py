"""Loads and validates `releasegate:aws` into `AwsSpec` (see `infra.settings_aws`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from infra.config_aws_database import ENHANCED_MONITORING_INTERVALS
from infra.config_reader import Problems, Reader, nearest
from infra.settings import KEY_AWS
from infra.settings_aws import AwsSpec, ExistingNetwork, HostedZone, NewNetwork, WafSpec

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
VPC_PATTERN = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_PATTERN = re.compile(r"^subnet-[0-9a-f]{8,17}$")
CERTIFICATE_PATTERN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$")
HOST_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Route 53's `ResourceId` shape (botocore route53 model): a string of at most 32 characters;
# zone ids are upper-case letters and digits such as Z0123456789ABCDEFGHIJ.
HOSTED_ZONE_ID_PATTERN = re.compile(r"^[A-Z0-9]{1,32}$")
KNOWN = {
    "region", "vpcId", "publicSubnetIds", "privateSubnetIds", "vpcCidr", "availabilityZones",
    "natGatewayPerZone", "certificateArn", "domains", "listenerPorts", "logRetentionDays",
    "keepImages", "deregistrationDelaySeconds", "healthCheckIntervalSeconds",
    "healthCheckHealthyThreshold", "healthCheckUnhealthyThreshold", "readOnlyRootFilesystem",
    "production", "hostedZoneId", "hostedZoneName", "waf", "accessLogExpirationDays",
    "performanceInsights", "enhancedMonitoringSeconds",
}  # fmt: skip
WAF_KNOWN = {"enabled", "rateLimit"}
# WAFv2 RateBasedStatement.Limit: RateLimit is a long with min 10, max 2000000000 (botocore
# wafv2 2019-07-29 service model); counted over EvaluationWindowSec, default 300 s.
WAF_RATE_LIMIT = (10, 2_000_000_000)
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)
"""The values CloudWatch Logs accepts for a log group's retention."""


def load_aws(
    problems: Problems,
    raw: Mapping[str, Any],
    provider_region: str | None,
    http_services: Sequence[str] = (),
) -> AwsSpec:
    """`provider_region` is the stack's `aws:region` (the provider's own key);
    `http_services` are the services with a port, in rollout order."""
    r = Reader(problems, KEY_AWS, raw, KNOWN)
    region = r.string("region", provider_region, REGION_PATTERN, "an AWS region such as eu-west-1")
    if region is None:
        problems.raw(f"{KEY_AWS}.region: missing; set aws:region (or releasegate:aws.region)")
        region = ""
    production = r.boolean("production", False)
    retention = r.integer("logRetentionDays", 30, 1, 1827)
    if retention not in LOG_RETENTION_DAYS:
        problems.add(f"{KEY_AWS}.logRetentionDays", retention,
                     "one of " + ", ".join(str(d) for d in LOG_RETENTION_DAYS))  # fmt: skip
    domains = _domains(problems, raw.get("domains", {}), http_services)
    certificate = r.string("certificateArn", None, CERTIFICATE_PATTERN, "an ACM certificate ARN")
    if certificate is not None and not domains:
        problems.add(f"{KEY_AWS}.domains", raw.get("domains"),
                     "a host name per HTTP service when certificateArn is set (the certificate "
                     "names them; the gate checks TLS against them)")  # fmt: skip
    if production and "certificateArn" not in raw:
        problems.add(f"{KEY_AWS}.certificateArn", None,
                     "an ACM certificate ARN: production serves HTTPS only")  # fmt: skip
    return AwsSpec(
        region=region,
        network=_network(problems, r, region),
        certificate_arn=certificate,
        domains=MappingProxyType(domains),
        listener_ports=MappingProxyType(
            _listener_ports(problems, raw.get("listenerPorts", {}), http_services, domains)
        ),
        hosted_zone=_hosted_zone(problems, r, domains),
        log_retention_days=retention,
        keep_images=r.integer("keepImages", 30, 10, 1000),
        deregistration_delay_seconds=r.integer("deregistrationDelaySeconds", 15, 0, 3600),
        health_check_interval_seconds=r.integer("healthCheckIntervalSeconds", 5, 5, 300),
        health_check_healthy_threshold=r.integer("healthCheckHealthyThreshold", 2, 2, 10),
        health_check_unhealthy_threshold=r.integer("healthCheckUnhealthyThreshold", 2, 2, 10),
        read_only_root_filesystem=r.boolean("readOnlyRootFilesystem", True),
        waf=_waf(problems, raw.get("waf", {})),
        access_log_expiration_days=r.integer("accessLogExpirationDays", 90, 1, 3650),
        production=production,
        **_database_insights(problems, r, production),
    )


def _database_insights(problems: Problems, r: Reader, production: bool) -> dict[str, Any]:
    """Performance Insights and enhanced monitoring: on by default in production and required
    there (the policy pack's rds-insights-and-monitoring rule is mandatory in production); off
    by default elsewhere, where a team may turn them on."""
    insights = r.boolean("performanceInsights", production)
    default = 60 if production else 0
    seconds = r.integer("enhancedMonitoringSeconds", default, 0, 60)
    if seconds not in ENHANCED_MONITORING_INTERVALS:
        problems.add(f"{KEY_AWS}.enhancedMonitoringSeconds", seconds,
                     "one of " + ", ".join(str(s) for s in ENHANCED_MONITORING_INTERVALS))
        seconds = default
    if production and not insights:
        problems.add(f"{KEY_AWS}.performanceInsights", False, "true in production")
    if production and seconds == 0:
        problems.add(f"{KEY_AWS}.enhancedMonitoringSeconds", 0,
                     "1, 5, 10, 15, 30 or 60 in production (enhanced monitoring on)")
    return {"performance_insights": insights, "enhanced_monitoring_seconds": seconds}


def _waf(problems: Problems, raw: Any) -> WafSpec:
    if not isinstance(raw, dict):
        problems.add(f"{KEY_AWS}.waf", raw, "an object: enabled, rateLimit")
        return WafSpec()
    r = Reader(problems, f"{KEY_AWS}.waf", raw, WAF_KNOWN)
    return WafSpec(
        enabled=r.boolean("enabled", True),
        rate_limit=r.integer("rateLimit", 2000, *WAF_RATE_LIMIT),
    )


def _network(problems: Problems, r: Reader, region: str) -> ExistingNetwork | NewNetwork:
    existing = {"vpcId", "publicSubnetIds", "privateSubnetIds"} & set(r.raw)
    new = {"vpcCidr", "availabilityZones", "natGatewayPerZone"} & set(r.raw)
    if existing:
        if new:
            problems.raw(
                f"{KEY_AWS}: {', '.join(sorted(new))} describe a VPC to create, but vpcId/"
                "subnets name an existing one; allowed: one or the other"
            )
        vpc_id = r.string("vpcId", None, VPC_PATTERN, "a VPC id such as vpc-0a1b2c3d")
        public = r.string_list("publicSubnetIds", SUBNET_PATTERN, "a list of subnet ids")
        private = r.string_list("privateSubnetIds", SUBNET_PATTERN, "a list of subnet ids")
        for name, value, minimum in (("vpcId", vpc_id, 1), ("publicSubnetIds", public, 2),
                                     ("privateSubnetIds", private, 2)):  # fmt: skip
            if not value or (isinstance(value, tuple) and len(value) < minimum):
                problems.add(f"{KEY_AWS}.{name}", r.raw.get(name),
                             "set together with the others: vpcId and at least two public and "
                             "two private subnets (ALB and RDS need two zones)")  # fmt: skip
        return ExistingNetwork(vpc_id or "", public, private)
    cidr = r.string("vpcCidr", "10.0.0.0/16", None, "an IPv4 CIDR from /16 to /24")
    try:
        network = ipaddress.ip_network(cidr or "", strict=True)
        if not 16 <= network.prefixlen <= 24 or network.version != 4:
            raise ValueError(cidr)
    except ValueError:
        problems.add(f"{KEY_AWS}.vpcCidr", cidr, "an IPv4 CIDR from /16 to /24, e.g. 10.0.0.0/16")
        cidr = "10.0.0.0/16"
    zones = r.string_list(
        "availabilityZones", re.compile(rf"^{re.escape(region)}[a-z]$"),
        f"availability zones of {region}, such as {region}a",
    ) or (f"{region}a", f"{region}b")  # fmt: skip
    if len(zones) < 2 or len(set(zones)) != len(zones):
        problems.add(f"{KEY_AWS}.availabilityZones", list(zones), "at least two distinct zones")
    return NewNetwork(cidr or "10.0.0.0/16", zones, r.boolean("natGatewayPerZone", False))


def _domains(problems: Problems, raw: Any, http_services: Sequence[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.add(f"{KEY_AWS}.domains", raw, "an object of service: host name")
        return {}
    domains: dict[str, str] = {}
    for name, host in raw.items():
        if name not in http_services:
            problems.add(f"{KEY_AWS}.domains.{name}", host,
                         "host names only for services with a port: " + ", ".join(http_services),
                         nearest(name, http_services))
        elif not isinstance(host, str) or not HOST_PATTERN.match(host):
            problems.add(f"{KEY_AWS}.domains.{name}", host, "a lower-case DNS host name")
        else:
            domains[name] = host
    if domains and set(domains) != set(http_services):
        missing = sorted(set(http_services) - set(domains))
        problems.add(f"{KEY_AWS}.domains", raw,
                     f"a host name for every service with a port (missing: {', '.join(missing)})")
    return domains


def _hosted_zone(problems: Problems, r: Reader, domains: Mapping[str, str]) -> HostedZone | None:
    """`hostedZoneId` and `hostedZoneName` together: the id is what Route 53 takes, the name
    is what lets every domain be checked against the zone before anything changes (offline,
    with no credentials). Route 53 itself refuses a record outside its zone only at `up`."""
    given = {"hostedZoneId", "hostedZoneName"} & set(r.raw)
    if not given:
        return None
    raw_id = r.raw.get("hostedZoneId")
    if isinstance(raw_id, str) and raw_id.startswith("/hostedzone/"):
        problems.add(f"{KEY_AWS}.hostedZoneId", raw_id,
                     "the zone id alone, without /hostedzone/ (e.g. Z0123456789ABCDEFGHIJ)")
        zone_id = None
    else:
        zone_id = r.string("hostedZoneId", None, HOSTED_ZONE_ID_PATTERN,
                           "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ")
    raw_name = r.raw.get("hostedZoneName")
    name = raw_name.lower().removesuffix(".") if isinstance(raw_name, str) else None
    if name is not None and not HOST_PATTERN.match(name):
        problems.add(f"{KEY_AWS}.hostedZoneName", raw_name, "a DNS zone name such as example.com")
        name = None
    for key in sorted({"hostedZoneId", "hostedZoneName"} - given):
        problems.add(f"{KEY_AWS}.{key}", None,
                     "set together with " + ({"hostedZoneId", "hostedZoneName"} - {key}).pop()
                     + ": the id for Route 53, the name to check every domain is inside it")
    if not domains:
        problems.add(f"{KEY_AWS}.hostedZoneId", raw_id,
                     "only with domains: alias records are made for the domains")
        return None
    if name is not None:
        for service, host in domains.items():
            if host != name and not host.endswith(f".{name}"):
                problems.add(f"{KEY_AWS}.domains.{service}", host,
                             f"a name inside the hosted zone {name} (hostedZoneName)")
    if zone_id is None or name is None:
        return None
    return HostedZone(zone_id, name)


def _listener_ports(
    problems: Problems, raw: Any, http_services: Sequence[str], domains: Mapping[str, str]
) -> dict[str, int]:
    """Without domains, each HTTP service gets its own plain-HTTP ALB port: the first 80, the
    others 8080, 8081, ... unless `listenerPorts` says otherwise. With domains they share one
    listener (443, or 80 without a certificate) by host name."""
    if not isinstance(raw, dict):
        problems.add(f"{KEY_AWS}.listenerPorts", raw, "an object of service: port")
        return {}
    if domains:
        if raw:
            problems.add(f"{KEY_AWS}.listenerPorts", raw,
                         "nothing when domains are set (services share one listener by host)")
        return {}
    ports: dict[str, int] = {}
    for index, name in enumerate(http_services):
        value = raw.get(name, 80 if index == 0 else 8079 + index)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            problems.add(f"{KEY_AWS}.listenerPorts.{name}", value, "an integer from 1 to 65535")
            continue
        if value in ports.values():
            problems.add(f"{KEY_AWS}.listenerPorts.{name}", value, "a port no other service uses")
            continue
        ports[name] = value
    for name in raw:
        if name not in http_services:
            problems.add(f"{KEY_AWS}.listenerPorts.{name}", raw[name],
                         "ports only for services with a port: " + ", ".join(http_services),
                         nearest(name, http_services))
    return ports
