"""Secrets the stack generates itself (pulumi-random), kept in state as Pulumi secrets.

Cloud-agnostic: the database password and any `generatedSecrets` are created here once and
stay stable across releases; each target then stores or delivers them its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_random as random

DATABASE_PASSWORD = "DATABASE_PASSWORD"  # noqa: S105 - a name, not a password
CACHE_PASSWORD = "CACHE_PASSWORD"  # noqa: S105 - a name, not a password
"""The cache's password (ElastiCache AUTH token): 40 letters and digits from `random_password`,
inside ElastiCache's AuthToken rules ("Must be only printable ASCII characters", 16 to 128
characters, special characters limited to !, &, #, $, ^, <, > and -: botocore elasticache
2015-02-02 service model, CreateReplicationGroupMessage.AuthToken) and URL-safe in REDIS_URL."""

SecretGenerator = Callable[[str, int, pulumi.ResourceOptions], pulumi.Output[str]]
"""(resource name, length, options) -> a value generated once and kept in state as a secret."""


def random_password(name: str, length: int, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """The product's generator: pulumi-random's RandomPassword."""
    password = random.RandomPassword(
        name,
        length=length,
        # URL-safe characters only: the database password is embedded in DATABASE_URL.
        special=False,
        opts=opts,
    )
    return password.result


@dataclass(frozen=True, kw_only=True)
class GeneratedSecretsArgs:
    names: Sequence[str]
    length: int = 40
    generator: SecretGenerator = random_password
    """A seam for the engine tests, where pulumi-random's plugin cannot be installed: they
    generate values with a dynamic provider instead (tests/engine/target.py)."""


class GeneratedSecrets(pulumi.ComponentResource):
    values: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: GeneratedSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:secrets:GeneratedSecrets", name, None, opts)
        self.values = {}
        for secret in args.names:
            value = args.generator(
                f"{name}-{secret.lower().replace('_', '-')}",
                args.length,
                pulumi.ResourceOptions(parent=self),
            )
            self.values[secret] = pulumi.Output.secret(value)
        self.register_outputs({})
