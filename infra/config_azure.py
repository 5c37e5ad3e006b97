"""Loads and validates `releasegate:azure` into `AzureSpec` (see `infra.settings_azure`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from infra.config_reader import Problems, Reader
from infra.settings import KEY_AZURE
from infra.settings_azure import AzureSpec

LOCATION_PATTERN = re.compile(r"^[a-z0-9]+$")


def load_azure(
    problems: Problems, raw: Mapping[str, Any], provider_location: str | None
) -> AzureSpec:
    """`provider_location` is the stack's `azure-native:location` (the provider's own key)."""
    r = Reader(problems, KEY_AZURE, raw, {"location"})
    location = r.string(
        "location", provider_location, LOCATION_PATTERN, "an Azure location such as westeurope"
    )
    if location is None:
        problems.raw(
            f"{KEY_AZURE}.location: missing; set azure-native:location "
            "(or releasegate:azure.location)"
        )
        location = ""
    return AzureSpec(location=location)
