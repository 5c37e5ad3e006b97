"""The ECS identity check behind the AWS gate: against the emulator for a real service, and
with API-shaped deployments for what moto cannot produce (in progress, rolled back, failed)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from components.aws import ecs_platform
from components.aws.ecs_platform import EcsPlatformProbe, judge, judge_tasks
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


# --- identity from the tasks, and a worker drained to 0 ----------------------------------------

DIGEST = "sha256:" + "b" * 64
OTHER_DIGEST = "sha256:" + "c" * 64


def task(definition: str, status: str = "RUNNING", digest: str | None = DIGEST) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "api", "lastStatus": status}
    if digest is not None:
        container["imageDigest"] = digest
    arn = f"arn:aws:ecs:eu-west-1:123456789012:task/c/{definition[-1]}{status}"
    return {"taskArn": arn, "taskDefinitionArn": definition, "lastStatus": status,
            "containers": [container]}  # fmt: skip


def test_identity_is_proved_by_every_running_task_reporting_the_pinned_digest() -> None:
    seen = judge_tasks([task(NEW), task(NEW)], NEW, (DIGEST,), desired=2)
    assert seen.healthy and seen.detail == f"2/2 tasks run sha256:bbbbbbbbbbbb on {NEW}"


def test_a_task_still_pulling_its_image_is_not_yet_proof() -> None:
    seen = judge_tasks([task(NEW), task(NEW, "PENDING", None)], NEW, (DIGEST,), desired=2)
    assert seen.starting and not seen.healthy and "1/2 tasks run sha256:bbbbbbbbbbbb" in seen.detail


def test_a_task_of_this_definition_on_another_digest_fails_at_once() -> None:
    seen = judge_tasks([task(NEW), task(NEW, digest=OTHER_DIGEST)], NEW, (DIGEST,), desired=2)
    assert not seen.healthy and not seen.starting
    assert "run sha256:cccccccccccc, pinned sha256:bbbbbbbbbbbb" in seen.detail


def test_an_older_task_still_running_is_not_yet_this_release() -> None:
    """The rollout says COMPLETED while ECS still drains a task of the previous definition:
    the gate waits (tolerated within start-up, counted after) instead of passing."""
    seen = judge_tasks([task(NEW), task(NEW), task(OLD)], NEW, (DIGEST,), desired=2)
    assert seen.starting and not seen.healthy
    assert f"1 task(s) of an older task definition still run: {OLD} (RUNNING)" in seen.detail


def test_a_task_definition_without_a_digest_cannot_prove_identity() -> None:
    seen = judge_tasks([task(NEW)], NEW, (), desired=1)
    assert not seen.healthy and "identity cannot be proved" in seen.detail


def test_a_worker_at_zero_passes_only_once_no_task_runs() -> None:
    assert judge_tasks([], NEW, (DIGEST,), desired=0).healthy
    stopping = judge_tasks([task(NEW, "DEACTIVATING")], NEW, (DIGEST,), desired=0)
    assert stopping.starting and not stopping.healthy
    assert "desired count 0 but 1 task(s)" in stopping.detail


def _stubbed_ecs(monkeypatch: pytest.MonkeyPatch, tasks: list[dict[str, Any]]) -> Stubber:
    """A real botocore ECS client behind a Stubber (the model validates every request and
    response), answering the probe's calls in order with a COMPLETED rollout on NEW."""
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(key, value)
    ecs = boto3.client("ecs", region_name=REGION)
    stub = Stubber(ecs)
    cluster = "arn:aws:ecs:eu-west-1:123456789012:cluster/releasegate-test"
    stub.add_response(
        "describe_services",
        {"services": [{"serviceName": "releasegate-test-api", "status": "ACTIVE",
                       "deployments": [deployment(NEW, "PRIMARY", "COMPLETED")]}]},
        {"cluster": cluster, "services": ["releasegate-test-api"]},
    )  # fmt: skip
    stub.add_response(
        "describe_task_definition",
        {"taskDefinition": {"taskDefinitionArn": NEW,
                            "containerDefinitions": [{"name": "api", "image": IMAGE}]}},
        {"taskDefinition": NEW},
    )  # fmt: skip
    arns = [t["taskArn"] for t in tasks]
    for desired, listed in (("RUNNING", arns[:-1]), ("STOPPED", arns[-1:])):
        stub.add_response(
            "list_tasks", {"taskArns": listed},
            {"cluster": cluster, "serviceName": "releasegate-test-api", "desiredStatus": desired},
        )  # fmt: skip
    stub.add_response("describe_tasks", {"tasks": tasks}, {"cluster": cluster, "tasks": arns})
    stub.activate()
    monkeypatch.setattr(ecs_platform, "client", lambda *_: ecs)
    return stub


STUBBED = {"kind": "ecs", "region": REGION, "service": "releasegate-test-api",
           "cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/releasegate-test",
           "task_definition": NEW}  # fmt: skip


def test_the_probe_reads_the_tasks_and_their_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole call sequence against the ECS model: both desired-status lists (a draining
    task has desired status STOPPED), then DescribeTasks' imageDigest."""
    stub = _stubbed_ecs(monkeypatch, [task(NEW), task(NEW, "STOPPED", None)])
    seen = EcsPlatformProbe().observe(STUBBED)
    stub.assert_no_pending_responses()
    # the STOPPED task is gone: two were desired, one runs the digest
    assert not seen.healthy and seen.starting and "1/2 tasks run sha256:bbbbbbbbbbbb" in seen.detail


def test_the_probe_sees_an_old_task_ecs_is_still_draining(monkeypatch: pytest.MonkeyPatch) -> None:
    stub = _stubbed_ecs(monkeypatch, [task(NEW), task(NEW), task(OLD, "DEACTIVATING")])
    seen = EcsPlatformProbe().observe(STUBBED)
    stub.assert_no_pending_responses()
    assert not seen.healthy and seen.starting and f"{OLD} (DEACTIVATING)" in seen.detail


def test_more_than_100_tasks_are_described_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """DescribeTasks takes at most 100 tasks (botocore ecs; cloud_rules refuses more)."""
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(key, value)
    ecs = boto3.client("ecs", region_name=REGION)
    arns = [f"arn:aws:ecs:eu-west-1:123456789012:task/c/{n:04d}" for n in range(150)]
    tasks = [{**task(NEW), "taskArn": arn} for arn in arns]
    with pytest.raises(botocore.exceptions.ClientError, match="at most 100"):
        ecs.describe_tasks(cluster="c", tasks=arns)  # the rule is on this client too
    stub = Stubber(ecs)
    for desired, listed in (("RUNNING", arns), ("STOPPED", [])):
        asked = {"cluster": "c", "serviceName": "s", "desiredStatus": desired}
        stub.add_response("list_tasks", {"taskArns": listed}, asked)
    for start in (0, 100):
        chunk = arns[start : start + 100]
        stub.add_response("describe_tasks", {"tasks": tasks[start : start + 100]},
                          {"cluster": "c", "tasks": chunk})  # fmt: skip
    with stub:
        assert len(ecs_platform.live_tasks(ecs, "c", "s")) == 150
    stub.assert_no_pending_responses()


@pytest.fixture
def worker(aws: Emulator, network: Network) -> dict[str, Any]:
    """A worker service scaled to 0 in the emulator, and an older task definition."""
    ecs = aws.client("ecs")
    cluster = ecs.create_cluster(clusterName="releasegate-test")["cluster"]["clusterArn"]
    definitions = [
        ecs.register_task_definition(
            family="releasegate-test-worker", networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "worker", "image": IMAGE, "cpu": 256, "memory": 512}],
        )["taskDefinition"]["taskDefinitionArn"]
        for _ in range(2)
    ]  # fmt: skip
    ecs.create_service(
        cluster=cluster, serviceName="releasegate-test-worker", taskDefinition=definitions[1],
        desiredCount=0, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [network.subnet],
                                                      "securityGroups": [network.security_group]}},
    )  # fmt: skip
    return {"kind": "ecs", "region": REGION, "cluster": cluster, "old": definitions[0],
            "service": "releasegate-test-worker", "task_definition": definitions[1]}  # fmt: skip


def test_a_worker_at_zero_drains_in_the_emulator(worker: dict[str, Any]) -> None:
    seen = platform_probe("ecs").observe(worker)
    assert seen.healthy, seen.detail
    assert seen.detail.startswith("drained: no task runs (desired count 0")


def test_an_old_worker_task_still_running_keeps_the_gate_from_passing(
    aws: Emulator, network: Network, worker: dict[str, Any]
) -> None:
    """A task of the previous task definition keeps running after the scale to 0 (moto lists
    every task of the cluster for a service: it has no service tasks of its own)."""
    aws.client("ecs").run_task(
        cluster=worker["cluster"], taskDefinition=worker["old"], launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [network.subnet],
                                                      "securityGroups": [network.security_group]}},
    )  # fmt: skip
    seen = platform_probe("ecs").observe(worker)
    assert not seen.healthy and seen.starting
    assert f"task(s) of an older task definition still run: {worker['old']}" in seen.detail
