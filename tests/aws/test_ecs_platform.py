"""The ECS identity check behind the AWS gate: against the emulator for a real service, and
with API-shaped deployments for what moto cannot produce (in progress, rolled back, failed)."""

from __future__ import annotations

from typing import Any

import pytest

from components.aws.ecs_platform import EcsPlatformProbe, judge
from components.gates.backends import platform_probe
from tests.aws.conftest import REGION, Emulator, Network

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/releasegate/api@sha256:" + "b" * 64
OLD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/releasegate-test-api:7"
NEW = "arn:aws:ecs:eu-west-1:123456789012:task-definition/releasegate-test-api:8"


@pytest.fixture
def service(aws: Emulator, network: Network) -> dict[str, Any]:
    ecs = aws.client("ecs")
    cluster = ecs.create_cluster(clusterName="releasegate-test")["cluster"]["clusterArn"]
    task = ecs.register_task_definition(
        family="releasegate-test-api", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512",
        containerDefinitions=[{"name": "api", "image": IMAGE, "cpu": 256, "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    ecs.create_service(
        cluster=cluster, serviceName="releasegate-test-api", taskDefinition=task, desiredCount=1,
        launchType="FARGATE",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        networkConfiguration={"awsvpcConfiguration": {"subnets": [network.subnet],
                                                      "securityGroups": [network.security_group]}},
    )  # fmt: skip
    return {"kind": "ecs", "region": REGION, "cluster": cluster,
            "service": "releasegate-test-api", "task_definition": task}  # fmt: skip


def test_a_fresh_service_on_the_expected_task_definition_is_starting(
    service: dict[str, Any],
) -> None:
    """moto reports a new service's deployment IN_PROGRESS with no task running yet: the gate
    waits (starting) rather than failing or passing."""
    seen = platform_probe("ecs").observe(service)  # through the backends table
    assert seen.starting and not seen.healthy
    assert f"IN_PROGRESS on {service['task_definition']}, running 0/1" in seen.detail


def test_another_task_definition_is_not_this_release(service: dict[str, Any]) -> None:
    seen = EcsPlatformProbe().observe({**service, "task_definition": NEW})
    assert not seen.healthy and not seen.starting
    assert f"expected {NEW}" in seen.detail


def test_a_missing_service_is_unhealthy(service: dict[str, Any]) -> None:
    seen = EcsPlatformProbe().observe({**service, "service": "nope"})
    assert not seen.healthy and "nope is missing" in seen.detail


def deployment(
    task: str, status: str, state: str, running: int = 2, **extra: Any
) -> dict[str, Any]:
    return {"status": status, "taskDefinition": task, "rolloutState": state,
            "desiredCount": 2, "runningCount": running, **extra}  # fmt: skip


def test_completed_primary_on_the_new_task_definition_is_healthy() -> None:
    seen = judge({"deployments": [deployment(NEW, "PRIMARY", "COMPLETED")]}, NEW)
    assert seen.healthy and "COMPLETED" in seen.detail


def test_an_in_progress_rollout_is_starting() -> None:
    seen = judge({"deployments": [deployment(NEW, "PRIMARY", "IN_PROGRESS", running=1),
                                  deployment(OLD, "ACTIVE", "COMPLETED")]}, NEW)  # fmt: skip
    assert seen.starting and not seen.healthy and "running 1/2" in seen.detail


def test_a_circuit_breaker_rollback_is_named_plainly() -> None:
    """What ECS shows after the breaker fired: the old task definition PRIMARY again, the new
    deployment FAILED. The old version still answers 200; the gate must fail."""
    service = {"deployments": [
        deployment(OLD, "PRIMARY", "IN_PROGRESS"),
        deployment(NEW, "ACTIVE", "FAILED", running=0,
                   rolloutStateReason="ECS deployment circuit breaker: tasks failed to start."),
    ]}  # fmt: skip
    seen = judge(service, NEW)
    assert not seen.healthy and not seen.starting
    assert "rolled back by the circuit breaker" in seen.detail
    assert "tasks failed to start" in seen.detail
    assert f"runs {OLD}, expected {NEW}" in seen.detail and "old version is serving" in seen.detail


def test_a_failed_rollout_of_this_release_is_unhealthy() -> None:
    seen = judge({"deployments": [deployment(NEW, "PRIMARY", "FAILED",
                                             rolloutStateReason="tasks failed")]}, NEW)  # fmt: skip
    assert not seen.healthy and not seen.starting and "FAILED" in seen.detail
