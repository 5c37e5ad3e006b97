"""Stack plans with a cache on every target, for the re-pin and replacement-guard tests: the
first checked-in stack file of each cloud, given a cache (`--set cache.engine=valkey`, the
cloud's defaults) when its file declares none, with REDIS_URL listed by the api."""

from __future__ import annotations

from typing import Any

from infra.plan import Plan, PlannedResource, apply_sets, evaluate, load_stack_config
from infra.replacement_guard import stateful_kind
from tests.unit.stacks import stack_cloud, stack_files

CLOUDS = ("local", "aws", "azure")
CACHE_KINDS = frozenset({"cache", "cache volume"})


def stack_of(cloud: str) -> str:
    """The first checked-in stack of `cloud` (dev, production, azure-production)."""
    return next(name for name, path in sorted(stack_files().items())
                if stack_cloud(path) == cloud)  # fmt: skip


def with_cache(stack: str) -> list[str]:
    config = load_stack_config(stack).values
    sets = [] if config.get("releasegate:cache") else ["cache.engine=valkey"]
    secrets = list(config["releasegate:services"]["api"].get("secrets") or [])
    if "REDIS_URL" not in secrets:
        sets.append("services.api.secrets=[" + ", ".join([*secrets, "REDIS_URL"]) + "]")
    return sets


def plan_with_cache(stack: str, *sets: str) -> Plan:
    return evaluate(apply_sets(load_stack_config(stack), [*with_cache(stack), *sets]))


def is_cache(resource: PlannedResource, plan: Plan) -> bool:
    """The cache, anything under a cache component, or a resource named for the cache or
    REDIS_URL (security groups, subnet group, password, the REDIS_URL secret and version)."""
    by_urn = plan.by_urn()
    current: PlannedResource | None = resource
    while current is not None:
        if stateful_kind(current.type, current.urn) in CACHE_KINDS:
            return True
        if current.type.endswith(":Cache"):
            return True
        current = by_urn.get(current.parent)
    name = resource.name.lower()
    return "cache" in name or "redis" in name


def stateful_cache_records(plan: Plan) -> list[dict[str, Any]]:
    """The plan's stateful cache resources in the recordings' shape (tests/guard/recorded)."""
    return [
        {"type": r.type, "urn": r.urn, "inputs": r.inputs, "protect": r.protect}
        for r in plan.resources
        if r.custom and stateful_kind(r.type, r.urn) in CACHE_KINDS
    ]
