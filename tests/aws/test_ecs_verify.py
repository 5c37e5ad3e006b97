"""Verify jobs on ECS: the task definition the AWS target registers for a verify (taken from the
offline plan of the staging stack) run by VerifyRun through the migration's ECS backend, against
moto; a non-zero exit through botocore's Stubber (moto always reports exit code 0)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from components.aws import aws_clients, ecs_migration
from components.gates.verify_run import VerifyFailedError, VerifyRunProvider
from infra.plan import apply_sets, evaluate, load_stack_config
from tests.aws.conftest import REGION, Emulator, Network

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/releasegate/api@sha256:" + "a" * 64
LOG_GROUP = "/releasegate/test/api"
COMMAND = ["sh", "-c", "curl -fsS -X POST http://api:8000/api/orders?dryRun=true"]
TOKEN = "tok-9f8e7d6c5b4a"


def planned_verify_task() -> dict[str, Any]:
    """The api verify's container definition as the AWS target registers it for staging."""
    config = apply_sets(load_stack_config("staging"), [
        'services.api.verify={"command": ' + json.dumps(COMMAND) + "}"])  # fmt: skip
    plan = evaluate(config)
    task = next(r for r in plan.resources if r.name == "verify-api-task")
    (definition,) = json.loads(task.inputs["containerDefinitions"])
    return dict(definition)


@pytest.fixture
def verify_backend(aws: Emulator, network: Network) -> dict[str, Any]:
    ecs = aws.client("ecs")
    cluster = ecs.create_cluster(clusterName="releasegate-test")["cluster"]["clusterArn"]
    definition = planned_verify_task()
    definition.update(image=IMAGE, cpu=512, memory=1024)  # moto needs cpu and memory
    definition["logConfiguration"]["options"]["awslogs-group"] = LOG_GROUP
    task = ecs.register_task_definition(
        family="releasegate-staging-verify-api", networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
        containerDefinitions=[definition],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    aws.client("logs").create_log_group(logGroupName=LOG_GROUP)
    return {
        "kind": "ecs", "region": REGION, "cluster": cluster, "task_definition": task,
        "container": "verify", "subnets": [network.subnet],
        "security_groups": [network.security_group], "assign_public_ip": False,
        "log_group": LOG_GROUP, "log_stream_prefix": "verify", "poll_seconds": 0.5,
        "name_prefix": "releasegate-staging",
    }  # fmt: skip


def props(backend: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    news = {"subject": "api", "verifies": IMAGE, "image": IMAGE, "command": COMMAND,
            "env": {}, "secret_files": {}, "known_secrets": [TOKEN], "timeout_seconds": 30,
            "backend": backend, **overrides}  # fmt: skip
    result = VerifyRunProvider().check({}, news)
    assert result.failures == [], [(f.property, f.reason) for f in result.failures]
    return result.inputs


def test_run_task_carries_the_verify_command_image_and_only_the_api_secrets(
    aws: Emulator, verify_backend: dict[str, Any]
) -> None:
    outs = VerifyRunProvider().create(props(verify_backend)).outs
    assert outs is not None and outs["exit_code"] == 0
    assert outs["evidence"]["exit_code"] == 0 and outs["evidence"]["image"] == IMAGE
    ecs = aws.client("ecs")
    cluster = verify_backend["cluster"]
    (arn,) = {arn for status in ("RUNNING", "STOPPED")
              for arn in ecs.list_tasks(cluster=cluster, desiredStatus=status)["taskArns"]}
    task = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == "verify" and override["command"] == COMMAND
    assert task["startedBy"].startswith("releasegate-staging-verify-api")
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    (container,) = definition["taskDefinition"]["containerDefinitions"]
    assert container["image"] == IMAGE
    # Only what api declares (staging: DATABASE_URL and REDIS_URL), by reference.
    assert sorted(s["name"] for s in container["secrets"]) == ["DATABASE_URL", "REDIS_URL"]
    assert all(s["valueFrom"] for s in container["secrets"])


TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/releasegate-test/0123456789abcdef"


def test_exit_three_fails_with_the_exit_code_and_the_redacted_log_tail(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, verify_backend: dict[str, Any]
) -> None:
    logs = aws.client("logs")
    stream = "verify/verify/0123456789abcdef"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=[
        {"timestamp": now, "message": "POST /api/orders?dryRun=true -> 500"},
        {"timestamp": now + 1, "message": f"using token {TOKEN}"},
    ])  # fmt: skip
    ecs = aws.client("ecs")
    stubber = Stubber(ecs)
    stubber.add_response("run_task", {"tasks": [{"taskArn": TASK_ARN,
                                                 "lastStatus": "PROVISIONING"}], "failures": []})
    stubber.add_response("describe_tasks", {"tasks": [{
        "taskArn": TASK_ARN, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
        "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "verify", "lastStatus": "STOPPED", "exitCode": 3}]}],
        "failures": []})  # fmt: skip
    stubber.activate()
    real: Callable[[str, str], Any] = aws_clients.client
    monkeypatch.setattr(ecs_migration, "client",
                        lambda service, region: ecs if service == "ecs" else real(service, region))
    with pytest.raises(VerifyFailedError) as failure:
        VerifyRunProvider().create(props(verify_backend))
    stubber.assert_no_pending_responses()
    message = str(failure.value)
    assert "verify of service api" in message and "exit code 3" in message
    assert "POST /api/orders?dryRun=true -> 500" in message
    assert "using token [redacted]" in message and TOKEN not in message
    assert "stoppedReason=Essential container in task exited" in message
