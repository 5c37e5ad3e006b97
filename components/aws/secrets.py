"""Secrets Manager secrets for the product: the database URL and every secret a service names,
each value a Pulumi secret in state and a Secrets Manager secret in AWS, encrypted with the
stack's KMS key. Tasks receive them by ARN (`secrets`/`valueFrom` in the task definition), so a
value never appears in a task definition, in `environment`, or in the plan.

The secrets themselves exist from the start (the execution role's policy names their ARNs);
each value is stored when the graph first hands it over (`put`). ECS reads secrets when a task
starts: a rotated value reaches the services only with a new rollout (`pulumi up` after
`pulumi config set --secret`, or a forced new deployment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsSecretsArgs:
    prefix: str
    names: Sequence[str]
    """Env names the tasks see (DATABASE_URL, SIGNING_KEY, ...)."""
    kms_key_arn: pulumi.Input[str]
    recovery_window_days: int
    tags: Mapping[str, str]


class AwsSecrets(pulumi.ComponentResource):
    arns: dict[str, pulumi.Output[str]]
    """Secret name -> secret ARN, for `valueFrom` and the execution role's policy."""

    def __init__(
        self, name: str, args: AwsSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:Secrets", name, None, opts)
        self._secrets: dict[str, aws.secretsmanager.Secret] = {}
        self._versions: dict[str, aws.secretsmanager.SecretVersion] = {}
        for secret_name in sorted(set(args.names)):
            self._secrets[secret_name] = aws.secretsmanager.Secret(
                _resource_name(secret_name),
                name=f"{args.prefix}/{secret_name}",
                kms_key_id=args.kms_key_arn,
                recovery_window_in_days=args.recovery_window_days,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.arns = {n: s.arn for n, s in self._secrets.items()}
        self.register_outputs({"arns": self.arns})

    def put(
        self, secret_name: str, value: pulumi.Input[str]
    ) -> aws.secretsmanager.SecretVersion:
        """Store the value (once per name); returns the version tasks wait for."""
        if secret_name not in self._versions:
            self._versions[secret_name] = aws.secretsmanager.SecretVersion(
                _resource_name(secret_name),
                secret_id=self._secrets[secret_name].id,
                secret_string=pulumi.Output.secret(value),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self._versions[secret_name]


def _resource_name(secret_name: str) -> str:
    return secret_name.lower().replace("_", "-")
