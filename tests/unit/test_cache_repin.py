"""A re-pin touches no cache resource, on every target: the offline plan's diff (what
`python -m infra plan --diff --set release.api=...` prints) of a stack with a cache, before and
after re-pinning a service or the migrations, lists nothing of the cache: not the cache itself
(ElastiCache replication group, Azure Managed Redis, the local container and volume), not what
it is built from (subnet group, security group, private endpoint, DNS, password), and not the
REDIS_URL secret the services read (a new value would roll every service that lists it)."""

from __future__ import annotations

import pytest

from infra.plan import Plan, diff_plans
from infra.replacement_guard import stateful_kind
from tests.cache.stacks import CLOUDS, is_cache, plan_with_cache, stack_of


@pytest.fixture(scope="module", params=CLOUDS)
def cloud_plan(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    stack = stack_of(request.param)
    return stack, plan_with_cache(stack)


def test_the_stack_under_test_has_a_cache_and_the_api_gets_redis_url(
    cloud_plan: tuple[str, Plan],
) -> None:
    stack, base = cloud_plan
    caches = [r for r in base.resources if stateful_kind(r.type, r.urn) == "cache"]
    assert caches, f"{stack}: no cache resource in the plan"
    assert sum(is_cache(r, base) for r in base.resources) > len(caches)


@pytest.mark.parametrize("repin", ["release.api=v9.9.9", "release.migrations=v9.9.9"])
def test_a_repin_touches_no_cache_resource(cloud_plan: tuple[str, Plan], repin: str) -> None:
    stack, base = cloud_plan
    repinned = plan_with_cache(stack, repin)
    changes = diff_plans(base, repinned)
    assert changes, f"{stack}: the re-pin {repin} changed nothing: the comparison is blind"
    touched = [(c.kind, c.resource.urn) for c in changes if is_cache(c.resource, repinned)]
    assert touched == [], f"{stack}: {repin} touches the cache: {touched}"
    # Nor does any cache resource wait for something new (its dependencies are the same).
    after = repinned.by_urn()
    for resource in base.resources:
        if is_cache(resource, base):
            assert after[resource.urn].dependencies == resource.dependencies, resource.urn
            assert after[resource.urn].protect == resource.protect, resource.urn


CACHE_CHANGE = {
    "local": "cache.engineVersion=8.1",
    "aws": "cache.snapshotRetentionDays=9",
    "azure": "cache.size=Balanced_B5",
}


def test_the_comparison_sees_a_change_of_the_cache(cloud_plan: tuple[str, Plan]) -> None:
    """It can fail: a change of the cache's own settings shows up as a cache change."""
    stack, base = cloud_plan
    changed = plan_with_cache(stack, CACHE_CHANGE[base.cloud])
    assert [c for c in diff_plans(base, changed) if is_cache(c.resource, changed)], stack


NOTES = {
    "local": "cache: valkey/valkey:8.0 container releasegate-dev-cache, one node",
    "aws": "automatic failover on, Multi-AZ on, snapshots kept 7 day(s), protected",
    "azure": "high availability enabled, RDB persistence every 1h, protected",
}


def test_the_plan_names_the_cache_engine_size_failover_and_snapshots(
    cloud_plan: tuple[str, Plan],
) -> None:
    stack, base = cloud_plan
    cloud = base.cloud
    [note] = [n for n in base.notes if n.startswith("cache: ")]
    assert NOTES[cloud] in note, (stack, note)
