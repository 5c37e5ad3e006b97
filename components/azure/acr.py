"""The `acr` image-pin resolver: an ACR tag (or digest) to the digest ACR holds for it, through
azure-containerregistry (`get_manifest_properties`), authenticated by `DefaultAzureCredential`
exchanged for an ACR token by the SDK; no password is handled here.

This reads ACR's data plane, so it runs where the registry answers: with public network access
disabled (production, `azure.privateNetwork`), only inside the stack's network, through the
registry's private endpoint. Outside it ACR answers 403 to every request, the token exchange
included (Microsoft's own `az acr login` then reports "Access to registry ... was denied.
Response code: 403", MicrosoftDocs/azure-docs#85239). The deploy runs on the self-hosted runner
in the network (docs/azure.md, "Private network access"); a 403 says so instead of only
blaming the identity's role.
"""

from __future__ import annotations

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from components.azure import azure_clients
from components.azure.azure_clients import status_code
from components.gates.oci import (
    ManifestNotFoundError,
    RegistryAuthError,
    RegistryError,
    ResolvedManifest,
    ResolveRequest,
)
from components.imageref import DIGEST_PATTERN


def resolve(request: ResolveRequest) -> ResolvedManifest:
    ref = request.reference
    where = f"{request.registry}/{request.repository}"
    shown = f"{where}{'@' if ref.digest else ':'}{ref.reference}"
    try:
        with azure_clients.registry(request.registry) as client:
            properties = client.get_manifest_properties(request.repository, ref.reference)
    except ResourceNotFoundError as exc:
        raise ManifestNotFoundError(
            f"image {shown} was not found in ACR; push it, or fix the pin in stack config"
        ) from exc
    except ClientAuthenticationError as exc:
        raise RegistryAuthError(
            f"ACR refused the deploying identity for {where}: it needs AcrPull (or Reader) on "
            f"the registry ({exc.message}){_network_hint(exc)}"
        ) from exc
    except HttpResponseError as exc:
        if status_code(exc) == FORBIDDEN:
            raise RegistryAuthError(
                f"ACR answered 403 to the lookup of {shown}{_network_hint(exc)}"
            ) from exc
        raise RegistryError(f"ACR lookup of {shown} failed: {exc}") from exc
    except ServiceRequestError as exc:
        raise RegistryError(f"ACR lookup of {shown} failed: {exc}") from exc
    digest = str(properties.digest or "")
    if not DIGEST_PATTERN.match(digest):
        raise RegistryError(f"ACR answered {digest!r} for {shown}, not a sha256 digest")
    if ref.digest and digest != ref.digest:
        raise RegistryError(f"ACR answered {digest} for {shown}; the pinned digest differs")
    return ResolvedManifest(request.registry, request.repository, ref.reference, digest, None)


FORBIDDEN = 403
NETWORK_HINT = (
    "; a registry whose public network access is disabled (azure.privateNetwork, required in "
    "production) answers only inside the stack's network: run the deploy on the self-hosted "
    "runner in it (docs/azure.md, 'Private network access'), or check the deploying identity's "
    "AcrPull"
)


def _network_hint(exc: Exception) -> str:
    """A 403 is a refused network as often as a refused role: name both."""
    return NETWORK_HINT if status_code(exc) == FORBIDDEN else ""
