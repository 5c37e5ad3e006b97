"""IAM roles for the tasks, least privilege, one job each and one set per task:

- each task's execution role is what ECS uses to start that task (a service's, or the
  migration's): pull from that task's repository, write to that task's log group, and read
  exactly the secrets that task declares (`services.<name>.secrets`; the migration only
  DATABASE_URL), decrypting them with the stack key. A service that declares no secret can read
  none, and cannot decrypt with the key. ECS allows one execution role per task definition and
  "multiple task execution roles for different purposes and services" in an account (Amazon ECS
  Developer Guide, "Amazon ECS task execution IAM role").
- each task role is what the app's own code may call: nothing, until a service needs it.

Secrets Manager with a customer managed key needs `kms:Decrypt` on that key next to
`secretsmanager:GetSecretValue` (Amazon ECS Developer Guide, "Required IAM permissions for
Amazon ECS secrets"; AWS Batch's page for the same ECS agent feature words it: kms:Decrypt
"required only if your key uses a custom KMS key"). Image pulls need no KMS permission of the
caller: ECR decrypts a KMS-encrypted repository through the grant it holds on the key, with the
repository as grantee (Amazon ECR User Guide, "Encryption at rest").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws


def service_trust(service: str, account: str, source_arn: str) -> str:
    """A role trust policy for an AWS service principal acting for this account's resources
    only: `aws:SourceAccount` and `aws:SourceArn` conditions, as the IAM guide's confused-deputy
    prevention recommends (docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": source_arn},
                    },
                }
            ],
        },
        sort_keys=True,
    )


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
    repository_arn: str, log_group_arn: str, secret_arns: Sequence[str], kms_key_arn: str
) -> str:
    """The execution role policy of one task: its repository, its log group, its secrets."""
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
            "Resource": [repository_arn],
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            # Log streams are named `log-group:<name>:log-stream:<stream>` under the group.
            "Resource": [f"{log_group_arn}:*"],
        },
    ]
    if secret_arns:
        statements += [
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
             "Resource": sorted(secret_arns)},
            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [kms_key_arn]},
        ]  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


@dataclass(frozen=True)
class TaskAccess:
    """What one task (a service, or the migration) may touch when ECS starts it."""

    name: str
    repository_arn: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]
    secret_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """Only the secrets this task declares."""


@dataclass(frozen=True)
class TaskRolesArgs:
    prefix: str
    tasks: Sequence[TaskAccess]
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]


class TaskRoles(pulumi.ComponentResource):
    execution_role_arns: dict[str, pulumi.Output[str]]
    """Task -> its execution role's ARN, known only once the role's policy is attached, so a
    task definition using it never starts a task that cannot pull or read its secrets yet."""
    task_role_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: TaskRolesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:TaskRoles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.execution_role_arns = {}
        self.task_role_arns = {}
        for task in args.tasks:
            role = aws.iam.Role(
                f"execution-{task.name}", assume_role_policy=ECS_TASKS_TRUST,
                tags={**args.tags, "releasegate:task": task.name}, opts=child,
            )  # fmt: skip
            policy = pulumi.Output.all(
                pulumi.Output.from_input(task.repository_arn),
                pulumi.Output.from_input(task.log_group_arn),
                pulumi.Output.all(*task.secret_arns),
                pulumi.Output.from_input(args.kms_key_arn),
            ).apply(lambda v: execution_policy(v[0], v[1], v[2], v[3]))
            attached = aws.iam.RolePolicy(
                f"execution-{task.name}", role=role.id, policy=policy, opts=child
            )
            self.execution_role_arns[task.name] = pulumi.Output.all(role.arn, attached.id).apply(
                lambda v: str(v[0])
            )
            self.task_role_arns[task.name] = aws.iam.Role(
                f"task-{task.name}", assume_role_policy=ECS_TASKS_TRUST,
                tags={**args.tags, "releasegate:task": task.name}, opts=child,
            ).arn  # fmt: skip
        self.register_outputs({"executionRoleArns": self.execution_role_arns})
