"""Keep tags: what a stack runs, ran, or could roll back to stays out of the ECR lifecycle
policy's reach.

The lifecycle policy (components/aws/registry.py) expires tagged images beyond the newest
`keepImages`, whatever runs: CI tag churn alone could expire the digest production runs or a
rollback needs, and ECS then fails to pull it. Its first rule matches the tag prefix
`releasegate-keep-` and never expires anything; ECR documents that "an image that matches the
tagging requirements of a rule cannot be expired by a rule with a lower priority"
(docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html).

`EcrImageKeeper` is that tag's owner for one image of one stack. Each time the stack pins the
image, before the pin resolves, it adds `releasegate-keep-<stack>-<image>-<12 hex of digest>`
to the pinned digest (ECR's retag: BatchGetImage the manifest, PutImage it with the new tag and
the digest, docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html; adding a tag that
no image has is allowed in an IMMUTABLE repository), and removes the keep tags of this stack's
digests that fell out of the last `keep` distinct pins (`ledgerHistory`: every digest the
ledger can name for a rollback). The history is the resource's own state (`kept`, newest
first), so the resource is updated, never replaced, by a re-pin.

Removing a tag is BatchDeleteImage by tag, which "removes a tag from an image"; "when you remove
the last tag from an image, the image is deleted" (botocore ECR model, BatchDeleteImage). A
keep tag that is its image's only tag is therefore left in place: releasegate never deletes an
image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import botocore.exceptions
import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, UpdateResult

from components.aws.aws_clients import client, error_code
from components.aws.ecr import parse_registry, resolve
from components.gates.oci import ResolveRequest
from components.gates.provider_base import GateProvider, is_unknown, is_whole
from components.imageref import DIGEST_PATTERN, parse_image_ref
from components.naming import fit, short_hash, slug

KEEP_TAG_PREFIX = "releasegate-keep-"
# botocore ecr ImageTag: 1-300 characters; the OCI distribution spec's tag grammar (what
# docker and ECS pull by) is [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. Keep tags use [a-z0-9-] only.
TAG_LIMIT = 128
_DIGEST_HEX = 12
_PART_LIMIT = 40
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
]


def _part(text: str) -> str:
    part = slug(text, fallback="x")
    if len(part) > _PART_LIMIT or part != text:
        part = fit(part, _PART_LIMIT, short_hash(text, 6))
    return part


def keep_tag(stack: str, image: str, digest: str) -> str:
    """`releasegate-keep-<stack>-<image>-<first 12 hex of the digest>`, in [a-z0-9-] and at most
    128 characters; a stack or image name that needs changing gains a short hash of itself, so
    tags of different stacks never collide."""
    hex_part = digest.removeprefix("sha256:")[:_DIGEST_HEX]
    return f"{KEEP_TAG_PREFIX}{_part(stack)}-{_part(image)}-{hex_part}"[:TAG_LIMIT]


def retained(history: Sequence[str], digest: str, keep: int) -> list[str]:
    """The digests to keep, newest first: `digest`, then the earlier distinct pins, at most
    `keep` (a rollback re-pin moves its digest to the front)."""
    return [digest, *[d for d in history if d != digest]][:keep]


class KeepTagError(RuntimeError):
    """ECR refused to add or remove a keep tag; the message says what to do."""


def add_keep_tag(registry: str, repository: str, digest: str, tag: str) -> None:
    """Tag the image `digest` with `tag` (ECR's retag). An image that already carries it is
    fine: ECR answers ImageAlreadyExistsException (or, for an IMMUTABLE repository,
    ImageTagAlreadyExistsException), and the tag is checked to name this digest."""
    account, region = parse_registry(registry)
    ecr = client("ecr", region)
    where = f"{registry}/{repository}@{digest}"
    try:
        images = ecr.batch_get_image(
            registryId=account, repositoryName=repository,
            imageIds=[{"imageDigest": digest}], acceptedMediaTypes=MANIFEST_TYPES,
        ).get("images") or []  # fmt: skip
        if not images:
            raise KeepTagError(f"ECR has no image {where} to keep")
        ecr.put_image(
            registryId=account, repositoryName=repository, imageTag=tag, imageDigest=digest,
            imageManifest=images[0]["imageManifest"],
            imageManifestMediaType=images[0].get("imageManifestMediaType") or MANIFEST_TYPES[0],
        )  # fmt: skip
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException"):
            holder = _tagged(ecr, account, repository, tag)
            if holder is not None and holder.get("imageDigest") == digest:
                return
            raise KeepTagError(
                f"the keep tag {tag} in {registry}/{repository} names another image "
                f"({(holder or {}).get('imageDigest')}), not {digest}"
            ) from exc
        raise KeepTagError(
            f"ECR refused to add the keep tag {tag} to {where} ({code or exc}): the deploying "
            "identity needs ecr:BatchGetImage and ecr:PutImage on the repository"
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise KeepTagError(f"cannot reach ECR in {region} to keep {where}: {exc}") from exc


def remove_keep_tag(registry: str, repository: str, tag: str) -> bool:
    """Remove `tag` unless it is its image's only tag (removing it would delete the image).
    True when the tag is gone."""
    account, region = parse_registry(registry)
    ecr = client("ecr", region)
    try:
        holder = _tagged(ecr, account, repository, tag)
        if holder is None:
            return True
        if [t for t in holder.get("imageTags") or [] if t != tag] == []:
            return False  # its only tag: never delete an image
        answer = ecr.batch_delete_image(
            registryId=account, repositoryName=repository, imageIds=[{"imageTag": tag}]
        )
    except botocore.exceptions.ClientError as exc:
        raise KeepTagError(
            f"ECR refused to remove the keep tag {tag} from {registry}/{repository} "
            f"({error_code(exc) or exc}): the deploying identity needs ecr:BatchDeleteImage"
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise KeepTagError(f"cannot reach ECR in {region}: {exc}") from exc
    failures = answer.get("failures") or []
    if failures:
        raise KeepTagError(
            f"ECR did not remove the keep tag {tag} from {registry}/{repository}: "
            + "; ".join(f"{f.get('failureCode')}: {f.get('failureReason')}" for f in failures)
        )
    return True


def _tagged(ecr: Any, account: str, repository: str, tag: str) -> dict[str, Any] | None:
    try:
        details = ecr.describe_images(
            registryId=account, repositoryName=repository, imageIds=[{"imageTag": tag}]
        ).get("imageDetails") or []
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ImageNotFoundException":
            return None
        raise
    return dict(details[0]) if details else None


class EcrImageKeeperProvider(GateProvider):
    """Adds the pinned digest's keep tag and drops those that fell out of the last `keep`."""

    INPUTS: ClassVar[tuple[str, ...]] = (
        "registry", "repository", "stack", "image", "reference", "keep",
    )  # fmt: skip
    REPLACE_ON: ClassVar[tuple[str, ...]] = ("registry", "repository", "stack", "image")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        keep = news.get("keep")
        if not is_unknown(keep) and not (is_whole(keep) and keep >= 1):
            failures.append(CheckFailure("keep", f"must be a positive integer, got {keep!r}"))
        for key in ("repository", "stack", "image", "reference"):
            value = news.get(key)
            if not is_unknown(value) and (not isinstance(value, str) or not value):
                failures.append(CheckFailure(key, "must be a non-empty string"))
        return CheckResult(dict(news), failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._keep(props, [], [])
        return CreateResult(f"{props['registry']}/{props['repository']}:{outs['stack']}", outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        kept = [str(d) for d in _olds.get("kept") or []]
        held = [str(t) for t in _olds.get("held") or []]
        return UpdateResult(self._keep(_news, kept, held))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The stack no longer pins this image here: its keep tags go (never the images)."""
        for tag in [*(_props.get("tags") or []), *(_props.get("held") or [])]:
            remove_keep_tag(str(_props["registry"]), str(_props["repository"]), str(tag))

    @staticmethod
    def _keep(props: Mapping[str, Any], kept: list[str], held: list[str]) -> dict[str, Any]:
        registry, repository = str(props["registry"]), str(props["repository"])
        stack, image = str(props["stack"]), str(props["image"])
        ref = parse_image_ref(str(props["reference"]))
        digest = resolve(ResolveRequest(registry, repository, ref)).digest
        if not DIGEST_PATTERN.match(digest):
            raise KeepTagError(f"ECR answered {digest!r}, not a digest")
        now = retained(kept, digest, int(props["keep"]))
        tags = [keep_tag(stack, image, d) for d in now]
        add_keep_tag(registry, repository, digest, tags[0])
        # Tags that could not be removed (an image's only tag) stay held and are retried later.
        still = [t for t in dict.fromkeys([*held, *(keep_tag(stack, image, d) for d in kept)])
                 if t not in tags and not remove_keep_tag(registry, repository, t)]  # fmt: skip
        return {**{key: props[key] for key in EcrImageKeeperProvider.INPUTS},
                "digest": digest, "kept": now, "tags": tags, "held": still}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class EcrImageKeeperArgs:
    registry: pulumi.Input[str]
    """`<account>.dkr.ecr.<region>.amazonaws.com`."""
    repository: pulumi.Input[str]
    stack: str
    image: str
    """The image's name in the release (a service name or "migrations")."""
    reference: str
    """The pin as stack config states it (tag or digest); resolved here through ECR."""
    keep: int
    """How many distinct pinned digests keep their tag (`ledgerHistory`)."""


class EcrImageKeeper(pulumi.dynamic.Resource, module="aws", name="EcrImageKeeper"):
    """The keep tags of one image of one stack; see the module docstring. Outputs: `digest`
    (this pin), `kept` (digests with a keep tag, newest first), `tags`."""

    digest: pulumi.Output[str]
    kept: pulumi.Output[list[str]]
    tags: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: EcrImageKeeperArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {
            "registry": args.registry, "repository": args.repository, "stack": args.stack,
            "image": args.image, "reference": args.reference, "keep": args.keep,
            "digest": None, "kept": None, "tags": None, "held": None,
        }  # fmt: skip
        super().__init__(EcrImageKeeperProvider(), name, props, opts)
