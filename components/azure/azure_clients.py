"""Azure SDK clients for the Azure backends, made inside provider methods (never at import time)
and never holding credentials of their own: `DefaultAzureCredential` decides (environment,
workload identity in CI, managed identity, `az login`).

`RELEASEGATE_ARM_ENDPOINT` points the management clients elsewhere (a sovereign cloud, or the
tests' local ARM server); the public cloud needs nothing.
"""

from __future__ import annotations

import os
from typing import Any

ARM_ENDPOINT = "RELEASEGATE_ARM_ENDPOINT"
ARM_AUDIENCE = "https://management.azure.com"


def credential() -> Any:
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - loaded on use

    return DefaultAzureCredential()


def _endpoint() -> dict[str, Any]:
    base_url = os.environ.get(ARM_ENDPOINT)
    return {"base_url": base_url} if base_url else {}


def container_apps(subscription_id: str) -> Any:
    from azure.mgmt.appcontainers import ContainerAppsAPIClient  # noqa: PLC0415

    return ContainerAppsAPIClient(credential(), subscription_id, **_endpoint())


def postgres(subscription_id: str) -> Any:
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient  # noqa: PLC0415

    return PostgreSQLManagementClient(credential(), subscription_id, **_endpoint())


def registry(login_server: str) -> Any:
    from azure.containerregistry import ContainerRegistryClient  # noqa: PLC0415

    return ContainerRegistryClient(f"https://{login_server}", credential(), audience=ARM_AUDIENCE)


def status_code(exc: Exception) -> int | None:
    return getattr(exc, "status_code", None)
