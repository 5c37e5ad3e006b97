"""`releasegate:aws`: every bad value fails before anything is registered, naming the key, the
value and what is allowed; good values become a typed AwsSpec."""

from __future__ import annotations

from typing import Any

import pytest

from infra.settings_aws import ExistingNetwork, NewNetwork
from tests.unit.test_config import load, problems_of

CERT = "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"


def aws(settings: dict[str, Any]) -> dict[str, Any]:
    return {"cloud": "aws", "local": None, "aws": {"region": "eu-west-1", **settings}}


def test_defaults_create_a_two_zone_vpc_with_plain_http_ports_per_service() -> None:
    spec = load(aws({})).aws
    assert isinstance(spec.network, NewNetwork)
    assert spec.network.availability_zones == ("eu-west-1a", "eu-west-1b")
    assert dict(spec.listener_ports) == {"api": 80, "web": 8080}
    assert spec.deregistration_delay_seconds == 15 and spec.keep_images == 30


def test_an_existing_vpc_is_used_as_given() -> None:
    public, private = ["subnet-0a1b2c3d", "subnet-1a1b2c3d"], ["subnet-2a1b2c3d", "subnet-3a1b2c3d"]
    spec = load(aws({"vpcId": "vpc-0a1b2c3d", "publicSubnetIds": public,
                     "privateSubnetIds": private})).aws  # fmt: skip
    assert spec.network == ExistingNetwork("vpc-0a1b2c3d", tuple(public), tuple(private))


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"region": "Ireland"}, "aws.region: 'Ireland' is not valid; allowed: an AWS region"),
        ({"vpcId": "vpc-0a1b2c3d"}, "aws.publicSubnetIds: missing is not valid"),
        ({"vpcCidr": "10.0.0.0/8"}, "aws.vpcCidr: '10.0.0.0/8' is not valid; allowed: an IPv4"),
        ({"availabilityZones": ["eu-west-1a"]}, "at least two distinct zones"),
        ({"availabilityZones": ["us-east-1a", "us-east-1b"]}, "availability zones of eu-west-1"),
        ({"certificateArn": "not-an-arn"}, "aws.certificateArn: 'not-an-arn' is not valid"),
        ({"certificateArn": CERT}, "a host name per HTTP service when certificateArn is set"),
        ({"production": True}, "aws.certificateArn: missing is not valid; allowed: an ACM"),
        ({"domains": {"api": "api.example.com"}}, "missing: web"),
        ({"domains": {"worker": "w.example.com"}}, "host names only for services with a port"),
        ({"listenerPorts": {"web": 80}}, "aws.listenerPorts.web: 80 is not valid; allowed: a port"),
        ({"logRetentionDays": 10}, "aws.logRetentionDays: 10 is not valid; allowed: one of 1, 3"),
        ({"keepImages": 3}, "aws.keepImages: 3 is not valid; allowed: an integer from 10"),
        ({"natGateways": 2}, "aws.natGateways: unknown setting"),
    ],
)
def test_bad_aws_settings_name_key_value_and_allowed(
    settings: dict[str, Any], expected: str
) -> None:
    assert expected in problems_of(aws(settings))


def test_aws_settings_on_another_cloud_are_refused() -> None:
    assert "releasegate:aws: only used when releasegate:cloud is 'aws'" in problems_of(
        {"cloud": "local", "aws": {"region": "eu-west-1"}}
    )


def test_region_comes_from_the_provider_when_not_set() -> None:
    assert "aws.region: missing; set aws:region" in problems_of({"cloud": "aws"})


DOMAINS = {"api": "api.staging.example.com", "web": "staging.example.com"}
ZONE_ID = "Z0123456789ABCDEFGHIJ"


def test_a_hosted_zone_with_its_name_covers_the_domains() -> None:
    spec = load(aws({"certificateArn": CERT, "domains": DOMAINS, "hostedZoneId": ZONE_ID,
                     "hostedZoneName": "Example.com."})).aws  # fmt: skip
    assert spec.hosted_zone is not None
    assert (spec.hosted_zone.id, spec.hosted_zone.name) == (ZONE_ID, "example.com")


def test_without_a_hosted_zone_dns_is_left_to_the_team() -> None:
    assert load(aws({"certificateArn": CERT, "domains": DOMAINS})).aws.hosted_zone is None


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"hostedZoneId": ZONE_ID}, "aws.hostedZoneName: missing is not valid; allowed: set "
                                    "together with hostedZoneId"),
        ({"hostedZoneName": "example.com"}, "aws.hostedZoneId: missing is not valid; allowed: "
                                            "set together with hostedZoneName"),
        ({"hostedZoneId": "/hostedzone/" + ZONE_ID, "hostedZoneName": "example.com"},
         "without /hostedzone/"),
        ({"hostedZoneId": "z-lower", "hostedZoneName": "example.com"},
         "aws.hostedZoneId: 'z-lower' is not valid; allowed: a Route 53 hosted zone id"),
        ({"hostedZoneId": ZONE_ID, "hostedZoneName": "example com"},
         "aws.hostedZoneName: 'example com' is not valid; allowed: a DNS zone name"),
        # A domain outside the zone: Route 53 would refuse the record only at `up`.
        ({"hostedZoneId": ZONE_ID, "hostedZoneName": "example.org"},
         "aws.domains.api: 'api.staging.example.com' is not valid; allowed: a name inside the "
         "hosted zone example.org"),
        # A zone name that is a suffix of the domain but not a parent of it.
        ({"hostedZoneId": ZONE_ID, "hostedZoneName": "ample.com"},
         "aws.domains.web: 'staging.example.com' is not valid; allowed: a name inside"),
    ],
)
def test_bad_hosted_zone_settings_are_refused(settings: dict[str, Any], expected: str) -> None:
    assert expected in problems_of(aws({"certificateArn": CERT, "domains": DOMAINS, **settings}))


def test_a_hosted_zone_needs_domains() -> None:
    problems = problems_of(aws({"hostedZoneId": ZONE_ID, "hostedZoneName": "example.com"}))
    assert "only with domains" in problems


PRODUCTION = {"production": True, "certificateArn": CERT,
              "domains": {"api": "api.example.com", "web": "www.example.com"}}  # fmt: skip


def test_database_insights_are_on_by_default_in_production_and_off_elsewhere() -> None:
    production = load({**aws(PRODUCTION), "database": {"size": "large"}}).aws
    assert production.performance_insights and production.enhanced_monitoring_seconds == 60
    staging = load(aws({})).aws
    assert not staging.performance_insights and staging.enhanced_monitoring_seconds == 0
    chosen = load({**aws({"performanceInsights": True, "enhancedMonitoringSeconds": 30}),
                   "database": {"size": "medium"}}).aws  # fmt: skip
    assert chosen.performance_insights and chosen.enhanced_monitoring_seconds == 30


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (aws({"enhancedMonitoringSeconds": 20}),
         "aws.enhancedMonitoringSeconds: 20 is not valid; allowed: one of 0, 1, 5, 10, 15, 30, 60"),
        ({**aws({**PRODUCTION, "performanceInsights": False}), "database": {"size": "large"}},
         "aws.performanceInsights: false is not valid; allowed: true in production"),
        ({**aws({**PRODUCTION, "enhancedMonitoringSeconds": 0}), "database": {"size": "large"}},
         "aws.enhancedMonitoringSeconds: 0 is not valid; allowed: 1, 5, 10, 15, 30 or 60 in "
         "production"),
        # db.t4g.small (size small) has no Performance Insights
        ({**aws({"performanceInsights": True}), "database": {"size": "small"}},
         "database.size: 'small' is not valid; allowed: a class with Performance Insights "
         "(db.t4g.small has none"),
        ({**aws(PRODUCTION), "database": {"size": "db.t3.micro"}},
         "a class with Performance Insights (db.t3.micro has none"),
        ({**aws({}), "database": {"slowStatementMs": -1}},
         "database.slowStatementMs: -1 is not valid; allowed: an integer from 0 to 3600000"),
    ],
)  # fmt: skip
def test_bad_database_insights_and_logging_settings(
    overrides: dict[str, Any], expected: str
) -> None:
    assert expected in problems_of(overrides)


def test_slow_statement_threshold_is_configurable() -> None:
    assert load(aws({})).database.slow_statement_ms == 1000
    assert load({**aws({}), "database": {"slowStatementMs": 250}}).database.slow_statement_ms == 250
