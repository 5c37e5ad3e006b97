"""The image pin: turn a release's image reference (tag or digest) into the digest that runs.

Every service, the migration task and the ledger consume `image_ref`
(`registry/repository@sha256:...`), never a tag, so what `pulumi up` deploys is exactly the
build the registry held when the pin resolved, and a rollback re-pins to an exact build.
Resolving at deploy time (not preview time: create never runs during preview) also proves the
image exists before anything that depends on it changes.

A pin is an identity: every input forces a replacement, and a pin owns nothing to delete.
How a registry is reached is a named resolver (`"oci"` today; `"ecr"`, `"acr"` can plug in
by name), imported lazily in the provider process so it only loads what it uses.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, UpdateResult

from components.gates.backends import RESOLVERS
from components.gates.oci import DigestMismatchError, ResolvedManifest, ResolveRequest
from components.gates.provider_base import GateProvider, is_unknown, utc_now
from components.imageref import DIGEST_PATTERN, ImageRefError, parse_image_ref

DEFAULT_RESOLVER = "oci"

_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
REGISTRY_PATTERN = re.compile(rf"^(?:{_HOST}(?:\.{_HOST})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")
# The distribution spec's repository name grammar.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_PATTERN = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")

INPUT_DEFAULTS: Mapping[str, Any] = {"insecure": False, "expected_digest": None,
                                     "resolver": DEFAULT_RESOLVER}  # fmt: skip


class Resolver(Protocol):
    def __call__(self, request: ResolveRequest) -> ResolvedManifest: ...


def load_resolver(name: str) -> Resolver:
    """Import the resolver registered under `name` in `components.gates.backends.RESOLVERS`
    (inside provider methods, never at import)."""
    target = RESOLVERS.get(name)
    if target is None:
        raise ValueError(
            f"resolver: unknown resolver {name!r}; known: {', '.join(sorted(RESOLVERS))}"
        )
    module_name, _, attribute = target.partition(":")
    resolver: Resolver = getattr(importlib.import_module(module_name), attribute)
    return resolver


def validate_inputs(props: Mapping[str, Any]) -> list[CheckFailure]:
    """Every problem with the pin's inputs, each naming the input and what is allowed.

    Unknown values (during preview, e.g. an expected digest from an image built in the same
    update) are not judged; create re-validates with everything known.
    """
    failures: list[CheckFailure] = []

    def fail(key: str, reason: str) -> None:
        failures.append(CheckFailure(key, f"{key}: {reason}"))

    registry = props.get("registry")
    if not is_unknown(registry) and not (
        isinstance(registry, str) and REGISTRY_PATTERN.match(registry)
    ):
        fail(
            "registry",
            f"{registry!r} is not a registry host; allowed: host[:port] without scheme or "
            f"path, e.g. 127.0.0.1:5000 or 123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        )
    repository = props.get("repository")
    if not is_unknown(repository) and not (
        isinstance(repository, str)
        and len(repository) <= 255
        and REPOSITORY_PATTERN.match(repository)
    ):
        fail(
            "repository",
            f"{repository!r} is not a repository name; allowed: lowercase path components "
            f"separated by '/', e.g. releasegate/api",
        )
    reference = props.get("reference")
    pinned_digest: str | None = None
    if not is_unknown(reference):
        try:
            pinned_digest = parse_image_ref(reference).digest
        except ImageRefError as exc:  # its message reads after the value
            fail("reference", f"{reference!r} {exc}")
    insecure = props.get("insecure", INPUT_DEFAULTS["insecure"])
    if not is_unknown(insecure) and not isinstance(insecure, bool):
        fail("insecure", f"{insecure!r} must be true or false (true = plain http, local only)")
    expected = props.get("expected_digest")
    if expected is not None and not is_unknown(expected):
        if not (isinstance(expected, str) and DIGEST_PATTERN.match(expected)):
            fail("expected_digest", f"{expected!r} must be sha256:<64 lowercase hex> or unset")
        elif pinned_digest is not None and expected != pinned_digest:
            fail(
                "expected_digest",
                f"{expected} contradicts the digest pin {pinned_digest}; pin the digest you "
                f"expect, or unset expected_digest",
            )
    resolver = props.get("resolver", INPUT_DEFAULTS["resolver"])
    if not is_unknown(resolver) and resolver not in RESOLVERS:
        fail("resolver", f"{resolver!r} is not a known resolver; allowed: {', '.join(RESOLVERS)}")
    return failures


class ImagePinProvider(GateProvider):
    """Resolves the pin with the named resolver; stateless, builds its clients per call."""

    INPUTS: ClassVar[tuple[str, ...]] = (
        "registry", "repository", "reference", "insecure", "expected_digest", "resolver",
    )  # fmt: skip
    REPLACE_ON: ClassVar[tuple[str, ...]] = INPUTS

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Refuse unusable pins before anything runs (also during preview, unknowns aside)."""
        # Defaults are written into the inputs so state and new inputs compare equal in diff.
        inputs = {**news, **{k: v for k, v in INPUT_DEFAULTS.items() if news.get(k) is None}}
        return CheckResult(inputs, validate_inputs(inputs))

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Resolve now (deploy time); the id is the image_ref, the outputs are inputs + pin."""
        outs = self._resolve(props)
        return CreateResult(outs["image_ref"], outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Every input replaces, so Pulumi should not call this; if it does, re-resolve fully
        (the default update would return no outputs and wipe the pin from state)."""
        return UpdateResult(self._resolve(_news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """A pin owns nothing in the registry; deleting it leaves the image alone."""

    def _resolve(self, props: Mapping[str, Any]) -> dict[str, Any]:
        inputs: dict[str, Any] = {key: props.get(key) for key in self.INPUTS}
        inputs.update({k: v for k, v in INPUT_DEFAULTS.items() if inputs[k] is None})
        failures = validate_inputs(inputs)
        if failures:
            raise ValueError("; ".join(f.reason for f in failures))
        ref = parse_image_ref(inputs["reference"])
        resolver = load_resolver(inputs["resolver"])
        resolved = resolver(
            ResolveRequest(inputs["registry"], inputs["repository"], ref, inputs["insecure"])
        )
        expected = inputs["expected_digest"]
        where = f"{inputs['registry']}/{inputs['repository']}"
        pinned = f"{where}{'@' if ref.is_digest else ':'}{ref.reference}"
        if expected is not None and resolved.digest != expected:
            raise DigestMismatchError(
                f"{pinned} resolves to {resolved.digest}, but expected_digest is "
                f"{expected}: the registry does not hold the build this stack expects (the tag "
                f"was overwritten, or the push went to another registry/repository). Push the "
                f"build again or fix expected_digest, then run `pulumi up` again"
            )
        return {
            **inputs,
            "digest": resolved.digest,
            "image_ref": f"{where}@{resolved.digest}",
            "tag": ref.tag,
            "resolved_at": utc_now(),
        }


@dataclass(frozen=True, kw_only=True)
class ImagePinArgs:
    """The pin as stack config states it. Registry credentials are never inputs: the resolver
    reads them at deploy time, so they never land in state or in a plan."""

    registry: pulumi.Input[str]
    """host[:port], e.g. 127.0.0.1:5000 or 123456789012.dkr.ecr.eu-west-1.amazonaws.com."""
    repository: pulumi.Input[str]
    """e.g. releasegate/api."""
    reference: pulumi.Input[str]
    """An immutable tag (v1.4.2) or a digest (sha256:<64 hex>); mutable tags are refused."""
    insecure: pulumi.Input[bool] = False
    """Plain http, for a local registry."""
    expected_digest: pulumi.Input[str] | None = None
    """When set, the resolved digest must equal it (a dev stack proving its own push)."""
    resolver: pulumi.Input[str] = DEFAULT_RESOLVER
    """How the registry is reached: "oci" (skopeo; env, Docker config auths/credHelpers)."""


class ImagePin(pulumi.dynamic.Resource, module="gates", name="ImagePin"):
    """An image tag or digest resolved to the digest every consumer deploys.

    Outputs: `digest` (sha256:...), `image_ref` (registry/repository@sha256:...), `tag` (None
    for a digest pin) and `resolved_at` (UTC, when the registry confirmed it).
    """

    digest: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    tag: pulumi.Output[str | None]
    resolved_at: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImagePinArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {
            "registry": args.registry,
            "repository": args.repository,
            "reference": args.reference,
            "insecure": args.insecure,
            "expected_digest": args.expected_digest,
            "resolver": args.resolver,
            # Seeded so Pulumi creates the output attributes; the provider fills them.
            "digest": None,
            "image_ref": None,
            "tag": None,
            "resolved_at": None,
        }
        super().__init__(ImagePinProvider(), name, props, opts)
