"""Settings of the AWS target (`releasegate:cloud: aws`), read from the `releasegate:aws` key.

Kept apart from `infra.settings` so the AWS target's config can grow without touching the
cloud-agnostic settings; `infra.config_aws` loads and validates it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AwsSpec:
    """Validated `releasegate:aws` settings."""

    region: str
