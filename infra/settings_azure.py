"""Settings of the Azure target (`releasegate:cloud: azure`), read from the `releasegate:azure`
key.

The value types live in `components.azure.spec` (components never import the program); they
are re-exported here for config code. `infra.config_azure` loads and validates them.
"""

from __future__ import annotations

from components.azure.spec import (
    MANAGED_REDIS_SKUS,
    RETIRING_REDIS_SKU,
    AzureSpec,
    RevisionMode,
)

__all__ = ["MANAGED_REDIS_SKUS", "RETIRING_REDIS_SKU", "AzureSpec", "RevisionMode"]
