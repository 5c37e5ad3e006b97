"""A local ARM (and ACR data-plane) server for the Azure backends, HTTPS on 127.0.0.1 with a
throwaway certificate that the SDK's transport trusts through REQUESTS_CA_BUNDLE; the backends
reach it through `RELEASEGATE_ARM_ENDPOINT` and a stand-in token credential."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from components.azure import azure_clients
from tests.azure.arm_server import ArmServer, serve

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GROUP = "releasegate-test"


class StaticToken:
    """A TokenCredential that hands out a fixed token: the local server does not check it."""

    def get_token(self, *_scopes: str, **_kwargs: Any) -> AccessToken:
        return AccessToken("local-test-token", int(time.time()) + 3600)


@pytest.fixture
def arm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmServer]:
    with serve(tmp_path) as server:
        monkeypatch.setenv(azure_clients.ARM_ENDPOINT, server.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
        monkeypatch.setattr(azure_clients, "credential", StaticToken)
        yield server
