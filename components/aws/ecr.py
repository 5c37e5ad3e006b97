"""The `ecr` image-pin resolver: an ECR tag (or digest) to the digest ECR holds for it, through
the ECR API (`describe_images`), so no registry token is handled here at all.

The registry host names the account and region (`<account>.dkr.ecr.<region>.amazonaws.com`);
credentials come from boto3's standard chain. ECR's `imageDigest` is the sha256 of the manifest
bytes, the same digest the distribution API serves and ECS pulls by.
"""

from __future__ import annotations

import re

import botocore.exceptions

from components.aws.aws_clients import client, error_code
from components.gates.oci import (
    ManifestNotFoundError,
    RegistryAuthError,
    RegistryError,
    ResolvedManifest,
    ResolveRequest,
)
from components.imageref import DIGEST_PATTERN

ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$"
)


def parse_registry(registry: str) -> tuple[str, str]:
    """`<account>.dkr.ecr.<region>.amazonaws.com` -> (account, region)."""
    match = ECR_HOST.match(registry)
    if match is None:
        raise RegistryError(
            f"registry {registry!r} is not an ECR registry host "
            "(<account>.dkr.ecr.<region>.amazonaws.com); use the 'oci' resolver for others"
        )
    return match["account"], match["region"]


def resolve(request: ResolveRequest) -> ResolvedManifest:
    account, region = parse_registry(request.registry)
    ref = request.reference
    image_id = {"imageDigest": ref.digest} if ref.digest else {"imageTag": str(ref.tag)}
    where = f"{request.registry}/{request.repository}"
    shown = f"{where}{'@' if ref.digest else ':'}{ref.reference}"
    try:
        answer = client("ecr", region).describe_images(
            registryId=account, repositoryName=request.repository, imageIds=[image_id]
        )
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code == "ImageNotFoundException":
            raise ManifestNotFoundError(
                f"image {shown} was not found in ECR; push it, or fix the pin in stack config"
            ) from exc
        if code == "RepositoryNotFoundException":
            raise ManifestNotFoundError(
                f"ECR repository {request.repository} does not exist in account {account} "
                f"({region}); deploy the stack's registry first or fix the repository name"
            ) from exc
        if code in ("AccessDeniedException", "UnrecognizedClientException",
                    "ExpiredTokenException"):  # fmt: skip
            raise RegistryAuthError(
                f"ECR refused describe_images for {where} ({code}): the deploying identity "
                "needs ecr:DescribeImages on the repository"
            ) from exc
        raise RegistryError(f"ECR describe_images failed for {shown}: {code or exc}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise RegistryError(f"cannot reach ECR in {region} for {shown}: {exc}") from exc
    details = answer.get("imageDetails") or []
    if not details:
        raise ManifestNotFoundError(f"image {shown} was not found in ECR")
    digest = str(details[0].get("imageDigest") or "")
    if not DIGEST_PATTERN.match(digest):
        raise RegistryError(f"ECR answered {digest!r} for {shown}, not a sha256 digest")
    if ref.digest and digest != ref.digest:
        raise RegistryError(f"ECR answered {digest} for {shown}; the pinned digest differs")
    return ResolvedManifest(
        request.registry,
        request.repository,
        ref.reference,
        digest,
        details[0].get("imageManifestMediaType"),
    )
