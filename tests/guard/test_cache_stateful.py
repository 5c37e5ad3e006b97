"""The replacement guard on a stack with a cache, on every target: the cache's stateful
resources of today's plan are turned into the steps `pulumi preview --json` would show after a
config change (tests/guard/stateful.py: a changed replacement-forcing input is a replace) and
run through the guard itself. A re-pin replaces nothing; a change that would replace the cache
fails, naming it and the property."""

from __future__ import annotations

import pytest

from infra.plan import Plan
from infra.replacement_guard import check
from tests.cache.stacks import CLOUDS, plan_with_cache, stack_of, stateful_cache_records
from tests.guard.stateful import FORCING, preview_steps

REPLACING = {
    # The local image tag is the engine version: a new container on the same volume.
    "local": (["cache.engineVersion=8.1"], ("cache", "cache-server", ("image",))),
    # valkey -> redis is an engine change the provider replaces (only redis -> valkey is not).
    "aws": (["cache.engine=redis", "cache.engineVersion=7.1"], ("cache", "cache", ("engine",))),
    # Another resource group is another ARM id: a new, empty cluster.
    "azure": (["azure.resourceGroupName=releasegate-elsewhere"],
              ("cache", "cache", ("resourceGroupName",))),
}  # fmt: skip


@pytest.fixture(scope="module", params=CLOUDS)
def base(request: pytest.FixtureRequest) -> tuple[str, str, Plan]:
    stack = stack_of(request.param)
    return request.param, stack, plan_with_cache(stack)


def test_every_stateful_cache_resource_has_its_forcing_inputs(
    base: tuple[str, str, Plan],
) -> None:
    _, stack, plan = base
    records = stateful_cache_records(plan)
    assert records, f"{stack}: no stateful cache resource"
    assert {r["type"] for r in records} <= set(FORCING)


@pytest.mark.parametrize("repin", ["release.api=v9.9.9", "release.migrations=v9.9.9"])
def test_a_repin_replaces_no_cache_resource(base: tuple[str, str, Plan], repin: str) -> None:
    _, stack, plan = base
    preview = preview_steps(stateful_cache_records(plan), plan_with_cache(stack, repin))
    assert {s["op"] for s in preview["steps"]} == {"same"}
    assert check(preview) == []


def test_a_change_that_would_replace_the_cache_fails(base: tuple[str, str, Plan]) -> None:
    cloud, stack, plan = base
    sets, expected = REPLACING[cloud]
    violations = check(preview_steps(stateful_cache_records(plan), plan_with_cache(stack, *sets)))
    assert expected in {(v.kind, v.name, v.properties) for v in violations}
