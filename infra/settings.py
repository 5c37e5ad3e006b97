"""The typed, frozen settings a stack's config becomes, and the config keys' names.

Components and the release graph only ever see these objects, never `pulumi.Config`. The
value types live in `components.spec` (components never import the program) and are
re-exported here; what only config code needs (the error, the name patterns, the keys) is here.
"""

from __future__ import annotations

import re

import pulumi

from components.spec import (
    DATABASE_URL,
    REDIS_URL,
    BodyAssertion,
    BuildSpec,
    CacheSpec,
    CheckSpec,
    Cloud,
    DatabaseSpec,
    HealthGateSpec,
    IdentitySpec,
    LocalSpec,
    MigrationSpec,
    PromotedFrom,
    PromotionSpec,
    ReleaseSpec,
    SecretValue,
    ServiceSpec,
    Settings,
    VerifySpec,
)

__all__ = [
    "DATABASE_URL",
    "REDIS_URL",
    "BodyAssertion",
    "BuildSpec",
    "CacheSpec",
    "CheckSpec",
    "Cloud",
    "ConfigError",
    "DatabaseSpec",
    "HealthGateSpec",
    "IdentitySpec",
    "LocalSpec",
    "MigrationSpec",
    "PromotedFrom",
    "PromotionSpec",
    "ReleaseSpec",
    "SecretValue",
    "ServiceSpec",
    "Settings",
    "VerifySpec",
]

NAMESPACE = "releasegate"

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Environment names that look like credentials must not be given as plain `env`.
SECRET_LOOKING_ENV = re.compile(
    r"(?i)(password|passwd|secret|token|private_key|api_key|credential)"
)


class ConfigError(pulumi.RunError):
    """Invalid stack config; the message lists every problem found."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        body = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid stack config for stack {stack!r} ({len(problems)} {noun}); "
            f"nothing was changed:\n{body}"
        )


# Config keys: every key the program reads is listed here (Pulumi.yaml declares the same set).
KEY_CLOUD = "cloud"
KEY_RELEASE = "release"
KEY_SERVICES = "services"
KEY_MIGRATION = "migration"
KEY_DATABASE = "database"
KEY_HEALTH_GATE = "healthGate"
KEY_LOCAL = "local"
KEY_AWS = "aws"
KEY_AZURE = "azure"
KEY_APP_SECRETS = "appSecrets"
KEY_GENERATED_SECRETS = "generatedSecrets"
KEY_LEDGER_HISTORY = "ledgerHistory"
KEY_TAGS = "tags"
KEY_PROMOTION = "promotion"
KEY_CACHE = "cache"
KEY_SNAPSHOT = "snapshot"
KEY_FREEZE = "freeze"
KEY_NOTIFICATIONS = "notifications"
ALL_KEYS = (
    KEY_CLOUD,
    KEY_RELEASE,
    KEY_SERVICES,
    KEY_MIGRATION,
    KEY_DATABASE,
    KEY_HEALTH_GATE,
    KEY_LOCAL,
    KEY_AWS,
    KEY_AZURE,
    KEY_APP_SECRETS,
    KEY_GENERATED_SECRETS,
    KEY_LEDGER_HISTORY,
    KEY_TAGS,
    KEY_PROMOTION,
    KEY_CACHE,
    KEY_SNAPSHOT,
    KEY_NOTIFICATIONS,
    KEY_FREEZE,
)
