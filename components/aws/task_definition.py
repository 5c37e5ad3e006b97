"""Container definitions for ECS task definitions, built one way for services and the
migration task: the image by digest, plain settings in `environment`, every secret by ARN in
`secrets` (ECS fetches it at task start with the execution role), logs to CloudWatch, and a
read-only root filesystem with a writable /tmp where the app allows.

The JSON follows the ECS API's ContainerDefinition shape (camelCase); the unit tests validate it
against botocore's model of RegisterTaskDefinition.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: pulumi.Input[str]
    """`<registry>/<repository>@sha256:...`, never a tag."""
    command: Sequence[str] | None
    port: int | None
    env: Mapping[str, str]
    secret_arns: Mapping[str, pulumi.Input[str]]
    """Env name -> Secrets Manager secret ARN."""
    log_group: pulumi.Input[str]
    region: str
    read_only_root_filesystem: bool
    secret_versions: Sequence[pulumi.Input[str]] = ()
    """Version ids of the secrets' current values. ECS reads secrets only when a task starts,
    so their fingerprint is part of the definition: a new value (rotation, a restored database's
    URL) registers a new revision and rolls the service out, gated like any release."""


ROLLOUT_FINGERPRINT = "RELEASEGATE_ROLLOUT_FINGERPRINT"


def container_definitions(spec: ContainerSpec) -> pulumi.Output[str]:
    secret_names = sorted(spec.secret_arns)
    arns = pulumi.Output.all(*[pulumi.Output.from_input(spec.secret_arns[n]) for n in secret_names])
    versions = pulumi.Output.all(*[pulumi.Output.from_input(v) for v in spec.secret_versions])
    return pulumi.Output.all(
        pulumi.Output.from_input(spec.image), pulumi.Output.from_input(spec.log_group), arns,
        versions,
    ).apply(
        lambda v: json.dumps(
            [_definition(spec, v[0], v[1], dict(zip(secret_names, v[2], strict=True)), v[3])]
        )
    )  # fmt: skip


def _definition(
    spec: ContainerSpec, image: str, log_group: str, arns: Mapping[str, str],
    versions: Sequence[str],
) -> dict[str, Any]:  # fmt: skip
    env = dict(spec.env)
    if versions:
        joined = "|".join(str(v) for v in versions)
        env[ROLLOUT_FINGERPRINT] = hashlib.sha256(joined.encode()).hexdigest()[:16]
    definition: dict[str, Any] = {
        "name": spec.name,
        "image": image,
        "essential": True,
        "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "secrets": [{"name": k, "valueFrom": arns[k]} for k in sorted(arns)],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": spec.region,
                "awslogs-stream-prefix": spec.name,
            },
        },
        "readonlyRootFilesystem": spec.read_only_root_filesystem,
        "stopTimeout": 30,
    }
    if spec.read_only_root_filesystem:
        # Python and most runtimes need a writable temp dir; it is a task-local volume.
        definition["mountPoints"] = [{"sourceVolume": "tmp", "containerPath": "/tmp"}]  # noqa: S108
    if spec.command:
        definition["command"] = list(spec.command)
    if spec.port is not None:
        definition["portMappings"] = [{"containerPort": spec.port, "protocol": "tcp"}]
    return definition


def volumes(read_only_root_filesystem: bool) -> list[dict[str, str]]:
    """The task-local scratch volume the read-only containers mount at /tmp."""
    return [{"name": "tmp"}] if read_only_root_filesystem else []
