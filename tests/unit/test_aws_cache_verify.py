"""A service's verify job reaches the cache exactly when the service lists REDIS_URL: its ECS
task carries the cache clients' security group, like the service's own tasks."""

from __future__ import annotations

from infra.plan import apply_sets, evaluate, load_stack_config
from tests.unit.test_program import one

VERIFY = '{"command": ["python", "-m", "sampleapp", "smoke"]}'


def test_a_verify_job_gets_the_clients_group_only_with_redis_url() -> None:
    plan = evaluate(apply_sets(load_stack_config("staging"), [
        f"services.api.verify={VERIFY}", f"services.web.verify={VERIFY}",
    ]))  # fmt: skip
    groups = {
        name: one(plan, "pulumi-python:dynamic/gates:VerifyRun", f"verify-{name}")
        .inputs["backend"]["security_groups"]
        for name in ("api", "web")
    }
    assert groups == {"api": ["tasks-id", "cache-clients-id"], "web": ["tasks-id"]}
