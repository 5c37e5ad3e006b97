"""Settings of the Azure target (`releasegate:cloud: azure`), read from the `releasegate:azure`
key.

Kept apart from `infra.settings` so the Azure target's config can grow without touching the
cloud-agnostic settings; `infra.config_azure` loads and validates it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AzureSpec:
    """Validated `releasegate:azure` settings."""

    location: str
