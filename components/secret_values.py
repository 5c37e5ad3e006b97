"""Secrets the stack generates itself (pulumi-random), kept in state as Pulumi secrets.

Cloud-agnostic: the database password and any `generatedSecrets` are created here once and
stay stable across releases; each target then stores or delivers them its own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_random as random

DATABASE_PASSWORD = "DATABASE_PASSWORD"  # noqa: S105 - a name, not a password


@dataclass(frozen=True, kw_only=True)
class GeneratedSecretsArgs:
    names: Sequence[str]
    length: int = 40


class GeneratedSecrets(pulumi.ComponentResource):
    values: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: GeneratedSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:secrets:GeneratedSecrets", name, None, opts)
        self.values = {}
        for secret in args.names:
            password = random.RandomPassword(
                f"{name}-{secret.lower().replace('_', '-')}",
                length=args.length,
                # URL-safe characters only: the database password is embedded in DATABASE_URL.
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.values[secret] = pulumi.Output.secret(password.result)
        self.register_outputs({})
