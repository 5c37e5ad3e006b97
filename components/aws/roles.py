"""IAM roles for the tasks, least privilege, one job each:

- the execution role is what ECS uses to start a task: pull from this stack's repositories,
  read this stack's secrets (and decrypt them with its key), write to its log groups;
- each task role is what the app's own code may call: nothing, until a service needs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

ECS_TASKS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def execution_policy(
    repository_arns: Sequence[str], secret_arns: Sequence[str], kms_key_arn: str,
    log_group_arns: Sequence[str],
) -> str:  # fmt: skip
    statements: list[dict[str, Any]] = [
        # GetAuthorizationToken has no resource-level permissions.
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": sorted(repository_arns),
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": sorted(f"{arn}:*" for arn in log_group_arns),
        },
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [kms_key_arn]},
    ]
    if secret_arns:
        statements.append(
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
             "Resource": sorted(secret_arns)}
        )  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


@dataclass(frozen=True)
class TaskRolesArgs:
    prefix: str
    task_names: Sequence[str]
    repository_arns: Sequence[pulumi.Input[str]]
    secret_arns: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    log_group_arns: Sequence[pulumi.Input[str]]
    tags: Mapping[str, str]


class TaskRoles(pulumi.ComponentResource):
    execution_role_arn: pulumi.Output[str]
    task_role_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: TaskRolesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:TaskRoles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        execution = aws.iam.Role(
            "execution", assume_role_policy=ECS_TASKS_TRUST, tags=dict(args.tags), opts=child
        )
        policy = pulumi.Output.all(
            pulumi.Output.all(*args.repository_arns),
            pulumi.Output.all(*args.secret_arns),
            pulumi.Output.from_input(args.kms_key_arn),
            pulumi.Output.all(*args.log_group_arns),
        ).apply(lambda v: execution_policy(v[0], v[1], v[2], v[3]))
        aws.iam.RolePolicy("execution", role=execution.id, policy=policy, opts=child)
        self.execution_role_arn = execution.arn
        self.task_role_arns = {
            task: aws.iam.Role(
                f"task-{task}", assume_role_policy=ECS_TASKS_TRUST, tags=dict(args.tags),
                opts=child,
            ).arn
            for task in args.task_names
        }
        self.register_outputs({"executionRoleArn": self.execution_role_arn})
