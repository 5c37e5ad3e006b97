"""The `acr` image-pin resolver: an ACR tag (or digest) to the digest ACR holds for it, through
azure-containerregistry (`get_manifest_properties`), authenticated by `DefaultAzureCredential`
exchanged for an ACR token by the SDK; no password is handled here.
"""

from __future__ import annotations

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from components.azure import azure_clients
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
            f"the registry ({exc.message})"
        ) from exc
    except (HttpResponseError, ServiceRequestError) as exc:
        raise RegistryError(f"ACR lookup of {shown} failed: {exc}") from exc
    digest = str(properties.digest or "")
    if not DIGEST_PATTERN.match(digest):
        raise RegistryError(f"ACR answered {digest!r} for {shown}, not a sha256 digest")
    if ref.digest and digest != ref.digest:
        raise RegistryError(f"ACR answered {digest} for {shown}; the pinned digest differs")
    return ResolvedManifest(request.registry, request.repository, ref.reference, digest, None)
