"""`releasegate:cache`: absent means no cache; every bad value (unknown engine, a node type
ElastiCache does not offer in that form, failover without replicas, REDIS_URL without a cache)
fails before anything is registered, naming the key, the value and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from components.aws.cache_spec import CACHE_NODE_FAMILIES
from infra.settings import CacheSpec
from tests.unit.test_config import load, problems_of

CERT = "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
SERVICES = {
    "api": {"port": 8000, "healthPath": "/health/ready", "secrets": ["REDIS_URL"]},
    "web": {"port": 3000, "healthPath": "/api/health/ready", "after": ["api"]},
}


def aws(cache: Any, production: bool = False, **more: Any) -> dict[str, Any]:
    domains = {"api": "api.example.com", "web": "example.com"}
    extra: dict[str, Any] = {"production": True, "certificateArn": CERT, "domains": domains}
    return {
        "cloud": "aws",
        "local": None,
        "aws": {"region": "eu-west-1", **(extra if production else {})},
        "cache": cache,
        **more,
    }


def test_no_cache_key_means_no_cache() -> None:
    assert load({}).cache is None
    assert load({"cache": {}}).cache is None  # Pulumi.yaml's default for an object key


def test_defaults_outside_production_are_a_small_single_node_valkey() -> None:
    assert load(aws({"engine": "valkey"})).cache == CacheSpec(
        engine="valkey", engine_version="8.0", size="cache.t4g.micro", replicas=0,
        automatic_failover=False, snapshot_retention_days=1, deletion_protection=False,
    )  # fmt: skip


def test_production_defaults_fail_over_keep_seven_days_and_protect() -> None:
    cache = load(aws({"size": "cache.r7g.large"}, production=True,
                     database={"size": "medium"})).cache  # fmt: skip
    assert cache is not None
    assert (cache.replicas, cache.automatic_failover) == (1, True)
    assert cache.snapshot_retention_days == 7 and cache.deletion_protection


def test_a_service_receives_redis_url_only_with_a_cache() -> None:
    settings = load({**aws({"engine": "redis", "engineVersion": "7.1"}), "services": SERVICES})
    assert settings.service("api").secrets == ("REDIS_URL",)
    message = problems_of({"services": SERVICES})
    assert ("releasegate:services.api.secrets: lists REDIS_URL, but the stack declares no "
            "cache; allowed: declare releasegate:cache") in message  # fmt: skip
    assert "is not defined" not in message


def test_redis_url_cannot_be_an_app_or_generated_secret() -> None:
    message = problems_of({"cache": {"engine": "valkey"}, "generatedSecrets": ["REDIS_URL"]})
    assert "REDIS_URL is built from the managed cache" in message


@pytest.mark.parametrize(
    ("cache", "expected"),
    [
        ({"engine": "memcached"}, "cache.engine: 'memcached' is not valid; allowed: one of "
         "valkey, redis"),
        ({"replicas": 0, "automaticFailover": True}, "cache.automaticFailover: true needs a "
         "replica to promote; allowed: replicas of at least 1 (it is 0)"),
        ({"replicas": 6}, "cache.replicas: 6 is not valid; allowed: an integer from 0 to 5"),
        ({"snapshotRetentionDays": 0}, "cache.snapshotRetentionDays: 0 is not valid; allowed: "
         "an integer from 1 to 35"),
        ({"snapshotRetentionDays": 36}, "cache.snapshotRetentionDays: 36 is not valid"),
        ({"size": "t4g.micro"}, "cache.size: 't4g.micro' is not valid; allowed: an ElastiCache "
         "node type"),
        ({"size": "cache.t2.micro"}, "cache.size: 'cache.t2.micro' is not valid"),
        ({"size": "cache.r7g.huge"}, "cache.size: 'cache.r7g.huge' is not valid"),
        ({"size": "db.r7g.large"}, "cache.size: 'db.r7g.large' is not valid"),
        ({"engine": "valkey", "engineVersion": "7.1"}, "cache.engineVersion: '7.1' is not "
         "valid; allowed: an ElastiCache valkey version"),
        ({"engine": "redis", "engineVersion": "5.0.6"}, "cache.engineVersion: '5.0.6' is not "
         "valid; allowed: an ElastiCache redis version"),
        ({"engineVersion": "latest"}, "cache.engineVersion: 'latest' is not valid"),
        ({"nodeType": "cache.t3.micro"}, "cache.nodeType: unknown setting"),
        ({"deletionProtection": "yes"}, "cache.deletionProtection: 'yes' is not valid"),
    ],
)
def test_bad_cache_settings_name_key_value_and_allowed(
    cache: dict[str, Any], expected: str
) -> None:
    assert f"releasegate:{expected}" in problems_of(aws(cache))


def test_every_listed_node_type_is_accepted() -> None:
    for family, sizes in CACHE_NODE_FAMILIES.items():
        for size in sizes:
            assert load(aws({"size": f"cache.{family}.{size}"})).cache is not None


def test_aws_production_refuses_a_cache_without_failover_or_a_week_of_snapshots() -> None:
    message = problems_of(aws({"replicas": 1, "automaticFailover": False,
                               "snapshotRetentionDays": 3}, production=True,
                              database={"size": "medium"}))  # fmt: skip
    assert "cache.automaticFailover: false is not valid; allowed: true on AWS production" in message
    assert "cache.snapshotRetentionDays: 3 is not valid; allowed: at least 7" in message


def test_a_cache_that_is_not_an_object_is_refused() -> None:
    assert "releasegate:cache: 'valkey' is not valid; allowed: an object" in problems_of(
        {"cache": "valkey"}
    )
