"""A worker scaled to 0 replicas to drain it, under mocks on every target: what each target
declares (nothing runs, nothing waits for a replica) and what its gate is asked to check."""

from __future__ import annotations

import json

from infra.plan import Plan, apply_sets, diff_plans, evaluate, load_stack_config
from tests.unit.test_program import one

# production and azure-production have no worker: one is added (pinned) for these tests.
WORKER = json.dumps({"cpu": 256, "memory": 512, "replicas": 1, "command": ["run"],
                     "after": ["api"]})  # fmt: skip


def plan_for(stack: str, *sets: str) -> Plan:
    return evaluate(apply_sets(load_stack_config(stack), list(sets)))


def cloud_worker(stack: str, replicas: int) -> Plan:
    return plan_for(stack, f"services.worker={WORKER}", f"services.worker.replicas={replicas}",
                    "release.worker=v1.4.2")  # fmt: skip


def test_local_worker_at_zero_keeps_a_created_container_that_never_starts() -> None:
    """Dropping the container would delete it only after the gate (Pulumi deletes last):
    the container stays, created and not started, and its gate checks that none runs."""
    plan = plan_for("dev", "services.worker.replicas=0")
    container = one(plan, ":Container", "service-worker-container")
    assert container.inputs["start"] is False and container.inputs["mustRun"] is False
    assert container.inputs["restart"] == "no"
    gate = one(plan, ":HealthGate", "gate-worker")
    assert gate.inputs["platform"]["replicas"] == 0 and gate.inputs.get("url") is None


def test_local_running_services_keep_their_inputs() -> None:
    """No `start`/`mustRun`/`replicas` unless drained: existing stacks see no diff."""
    plan = plan_for("dev")
    container = one(plan, ":Container", "service-worker-container")
    assert "start" not in container.inputs and "mustRun" not in container.inputs
    assert "replicas" not in one(plan, ":HealthGate", "gate-worker").inputs["platform"]


def test_local_drain_touches_only_the_worker() -> None:
    before, after = plan_for("dev"), plan_for("dev", "services.worker.replicas=0")
    changed = {c.resource.name for c in diff_plans(before, after)}
    assert changed == {"service-worker-container", "gate-worker"}, changed


def test_aws_worker_at_zero_is_a_service_with_desired_count_zero() -> None:
    plan = cloud_worker("production", 0)
    assert one(plan, "ecs/service:Service", "service-worker").inputs["desiredCount"] == 0
    assert one(plan, ":HealthGate", "gate-worker").inputs["platform"]["kind"] == "ecs"


def test_azure_worker_at_zero_scales_to_zero_in_single_mode() -> None:
    """maxReplicas 0 is refused by ARM: minReplicas 0, maxReplicas 1, no scale rule, no
    ingress; single mode so the older revisions are deactivated."""
    plan = cloud_worker("azure-production", 0)
    app = one(plan, "app:ContainerApp", "service-worker")
    assert app.inputs["template"]["scale"] == {"minReplicas": 0, "maxReplicas": 1}
    assert "rules" not in app.inputs["template"]["scale"]
    assert app.inputs["configuration"]["activeRevisionsMode"] == "Single"
    assert "ingress" not in app.inputs["configuration"]
    assert one(plan, ":HealthGate", "gate-worker").inputs["platform"]["replicas"] == 0


def test_azure_worker_at_one_keeps_its_scale_and_runs_single_mode() -> None:
    """In multiple mode a worker's older revision would keep running beside the new one (no
    traffic moves for a worker): a worker runs single mode in every stack, where the platform
    deactivates the old revision once the new one is ready, and its gate waits for that
    (`exclusive`); the api keeps the stack's multiple mode and its traffic shift."""
    plan = cloud_worker("azure-production", 1)
    app = one(plan, "app:ContainerApp", "service-worker")
    assert app.inputs["template"]["scale"] == {"minReplicas": 1, "maxReplicas": 1}
    assert app.inputs["configuration"]["activeRevisionsMode"] == "Single"
    rollout = one(plan, ":RevisionRollout", "service-worker-revision")
    assert rollout.inputs["revision_mode"] == "single"
    platform = one(plan, ":HealthGate", "gate-worker").inputs["platform"]
    assert "replicas" not in platform and platform["exclusive"] is True
    assert not [r for r in plan.resources if r.name == "traffic-shift-worker"]
    api = one(plan, "app:ContainerApp", "service-api")
    assert api.inputs["configuration"]["activeRevisionsMode"] == "Multiple"
    assert "exclusive" not in one(plan, ":HealthGate", "gate-api").inputs["platform"]
    assert one(plan, ":TrafficShift", "traffic-shift-api")


def test_azure_single_mode_gates_ask_for_the_only_serving_revision() -> None:
    """Single mode: the gated revision must also serve alone (`exclusive`); multiple mode
    leaves the old revision its traffic until TrafficShift, so its gates do not ask."""
    single = one(plan_for("azure-staging"), ":HealthGate", "gate-api").inputs["platform"]
    multiple = one(plan_for("azure-production"), ":HealthGate", "gate-api").inputs["platform"]
    assert single["exclusive"] is True and "exclusive" not in multiple
