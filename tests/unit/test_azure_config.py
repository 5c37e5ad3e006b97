"""`releasegate:azure`: every bad value fails before anything is registered, naming the key, the
value and what is allowed; good values become a typed AzureSpec."""

from __future__ import annotations

from typing import Any

import pytest

from infra.settings_azure import RevisionMode
from tests.unit.test_config import load, problems_of


def azure(settings: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"cloud": "azure", "local": None,
            "azure": {"location": "westeurope", **settings}, **top}  # fmt: skip


def test_defaults() -> None:
    spec = load(azure({})).azure
    assert spec.revision_mode is RevisionMode.SINGLE
    assert spec.resource_group_name == "releasegate-test"
    assert spec.vnet_cidr == "10.40.0.0/16" and not spec.production
    assert spec.warm_revision  # the previous revision stays warm for an instant rollback
    assert not load(azure({"warmRevision": False})).azure.warm_revision


def test_production_defaults_to_multiple_revisions_and_geo_backups() -> None:
    database = {"highAvailability": True}
    spec = load(azure({"production": True}, database=database)).azure
    assert spec.revision_mode is RevisionMode.MULTIPLE and spec.geo_redundant_backup
    assert spec.private_network  # Key Vault and ACR only through private endpoints


def test_private_network_is_off_by_default_outside_production_and_can_be_turned_on() -> None:
    assert not load(azure({})).azure.private_network
    assert load(azure({"privateNetwork": True})).azure.private_network


@pytest.mark.parametrize(
    ("settings", "top", "expected"),
    [
        ({"location": "West Europe"}, {}, "azure.location: 'West Europe' is not valid"),
        ({"revisionMode": "blue-green"}, {}, "azure.revisionMode: 'blue-green' is not valid"),
        ({"vnetCidr": "10.0.0.0/8"}, {}, "azure.vnetCidr: '10.0.0.0/8' is not valid"),
        ({"logRetentionDays": 7}, {}, "azure.logRetentionDays: 7 is not valid"),
        ({"production": True, "revisionMode": "single"}, {"database": {"highAvailability": True}},
         "azure.revisionMode: 'single' is not valid; allowed: multiple in production"),
        ({"production": True}, {}, "database.highAvailability: false is not valid"),
        ({"production": True, "geoRedundantBackup": False},
         {"database": {"highAvailability": True}}, "azure.geoRedundantBackup: false"),
        ({}, {"database": {"restoreFromSnapshot": "pre-migrate-v1"}},
         "azure.restorePointInTime: missing is not valid; allowed: the UTC time"),
        ({"restorePointInTime": "yesterday"}, {}, "azure.restorePointInTime: 'yesterday'"),
        ({"sku": "big"}, {}, "azure.sku: unknown setting"),
        ({"warmRevision": "yes"}, {}, "azure.warmRevision: 'yes' is not valid; allowed: true"),
        ({"warmRevisions": False}, {}, "did you mean 'warmRevision'?"),
        ({"production": True, "privateNetwork": False},
         {"database": {"highAvailability": True}},
         "azure.privateNetwork: false is not valid; allowed: true in production"),
        ({"privateNetwork": "on"}, {}, "azure.privateNetwork: 'on' is not valid; allowed: true"),
    ],
)  # fmt: skip
def test_bad_azure_settings_name_key_value_and_allowed(
    settings: dict[str, Any], top: dict[str, Any], expected: str
) -> None:
    assert expected in problems_of(azure(settings, **top))


def test_location_comes_from_the_provider_when_not_set() -> None:
    assert "azure.location: missing; set azure-native:location" in problems_of(
        {"cloud": "azure", "local": None}
    )
