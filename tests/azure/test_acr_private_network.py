"""The ACR resolver outside the stack's network: a registry with public network access
disabled answers 403 (its token exchange included), and the pin fails naming the route that
works (the self-hosted runner in the network) as well as the identity's role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from components.azure import acr, azure_clients
from components.gates.oci import RegistryAuthError, RegistryError, ResolveRequest
from components.imageref import parse_image_ref

REQUEST = ResolveRequest("reg.azurecr.io", "releasegate/api", parse_image_ref("v1.4.2"))


def refusing(error: Exception) -> Any:
    class Client:
        def get_manifest_properties(self, _repository: str, _reference: str) -> Any:
            raise error

    @contextmanager
    def registry(_login_server: str) -> Iterator[Client]:
        yield Client()

    return registry


def with_status(error: HttpResponseError, status: int) -> HttpResponseError:
    error.status_code = status
    return error


@pytest.mark.parametrize(
    "error",
    [
        with_status(HttpResponseError("denied: client is not allowed access"), 403),
        with_status(ClientAuthenticationError("Access to registry was denied"), 403),
    ],
)
def test_a_refused_network_names_the_runner_and_the_role(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    monkeypatch.setattr(azure_clients, "registry", refusing(error))
    with pytest.raises(RegistryAuthError) as raised:
        acr.resolve(REQUEST)
    message = str(raised.value)
    assert "public network access is disabled" in message
    assert "self-hosted runner" in message and "AcrPull" in message
    assert "reg.azurecr.io/releasegate/api" in message


def test_other_failures_are_not_blamed_on_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        azure_clients, "registry", refusing(with_status(HttpResponseError("busy"), 503))
    )
    with pytest.raises(RegistryError) as raised:
        acr.resolve(REQUEST)
    assert not isinstance(raised.value, RegistryAuthError)
    assert "self-hosted runner" not in str(raised.value)
    unauthorized = with_status(ClientAuthenticationError("no role"), 401)
    monkeypatch.setattr(azure_clients, "registry", refusing(unauthorized))
    with pytest.raises(RegistryAuthError, match="AcrPull") as raised_auth:
        acr.resolve(REQUEST)
    assert "self-hosted runner" not in str(raised_auth.value)
