"""`python -m infra promote --from staging --to production`: copy the pins of the source stack's
last release into the target's stack file, when that release passed its gates, has soaked
long enough and every digest is already in the target's registry.

It reads the source's ledger and release attempts from its checkpoint (Automation API `stack
export`; a failed `up` leaves the stack outputs as they were, the resources' state records the
attempt), decides (`plan_promotion`), checks the target's registry with the target's own image
resolver (ECR DescribeImages, ACR, or the OCI registry), edits `Pulumi.<to>.yaml` (each pin
`tag@sha256:digest` plus `release.promotedFrom`), shows the diff, asks, and says to commit. It
never commits and never deploys: the reviewed commit ships through the deploy workflow like any
other pin change.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from components.gates.oci import ManifestNotFoundError, RegistryError, ResolveRequest
from components.gates.release_history import parse_time
from components.imageref import DIGEST_PATTERN, ImageRef
from infra.rollback import RollbackError
from infra.settings import NAMESPACE, Cloud, Settings

MIGRATIONS = "migrations"
SUCCEEDED, FAILED, ROLLED_BACK = "succeeded", "failed", "rolled-back"
RESOLVER_BY_CLOUD = {Cloud.LOCAL: "oci", Cloud.AWS: "ecr", Cloud.AZURE: "acr"}
"""The target's image resolver, as its `image_source` names it (components/*/target.py)."""


class PromotionRefusedError(RollbackError):
    """Promotion refused before anything changed (exit 2); the message names the reason."""


@dataclass(frozen=True)
class Pin:
    tag: str | None
    digest: str

    @property
    def value(self) -> str:
        """What the stack file pins: `tag@sha256:...` (the tag for people, the digest for the
        registry), or the bare digest when the release was pinned by digest."""
        if self.tag and not self.tag.startswith("sha256:"):
            return f"{self.tag}@{self.digest}"
        return self.digest


@dataclass(frozen=True)
class SourceRelease:
    """The source stack's last release as its checkpoint records it."""

    id: str
    outcome: str
    """succeeded (recorded by the ledger: every gate passed), failed or rolled-back."""
    pins: Mapping[str, Pin]
    """Image name (each service and `migrations`) -> its pin."""
    recorded_at: datetime | None = None
    """When the ledger recorded it: its gates had passed (the soak starts here)."""
    started_at: str | None = None
    actor: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Promotion:
    source_stack: str
    release: SourceRelease
    pins: Mapping[str, Pin]
    """What is promoted: image name -> pin."""
    unchanged: Sequence[str] = field(default_factory=tuple)
    """Images the target already pins at the same digest."""

    def promoted_from(self) -> dict[str, Any]:
        return {
            "stack": self.source_stack,
            "release": self.release.id,
            "pins": {name: pin.digest for name, pin in self.release.pins.items()
                     if name in self.pins or name in self.unchanged},
        }  # fmt: skip


# --- reading the source's checkpoint -------------------------------------------------------


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a marker, not a secret
"""The key Pulumi marks a special value with (`_special_sig_key`, pulumi/runtime/rpc.py); a
secret exported with --show-secrets carries its value as JSON text under `plaintext`."""


def _reveal(value: Any) -> Any:
    """A `stack export --show-secrets` value with each secret envelope replaced by its value."""
    if isinstance(value, dict):
        if SECRET_SIG in value and isinstance(value.get("plaintext"), str):
            return _reveal(json.loads(value["plaintext"]))
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


def _pins_of(pins: Mapping[str, Mapping[str, Any]]) -> dict[str, Pin]:
    found: dict[str, Pin] = {}
    for name, pin in pins.items():
        digest = pin.get("digest")
        if isinstance(digest, str) and DIGEST_PATTERN.match(digest):
            tag = pin.get("tag")
            found[str(name)] = Pin(str(tag) if tag else None, digest)
    return found


def last_release(deployment: Mapping[str, Any]) -> SourceRelease | None:
    """The stack's last release from its checkpoint (infra/ledger_read.py: its newest attempt
    or ledger entry; an attempt the ledger never recorded failed), or None: no release yet."""
    from infra.ledger_read import IN_PROGRESS, history_from_deployment  # noqa: PLC0415

    history = history_from_deployment("", _reveal(deployment))
    if not history.releases:
        return None
    newest = history.releases[0]
    reason = {
        FAILED: "the ledger never recorded it: a gate, the migration or a rollout failed",
        ROLLED_BACK: str((newest.mark or {}).get("reason") or "it was rolled back"),
        IN_PROGRESS: "a `pulumi up` of it is still running; wait for its gates",
    }.get(newest.outcome)
    recorded = parse_time(newest.recorded_at)
    if recorded is not None and recorded.tzinfo is None:
        recorded = recorded.replace(tzinfo=UTC)  # the providers write UTC
    return SourceRelease(
        id=newest.id, outcome=newest.outcome, pins=_pins_of(newest.pins),
        recorded_at=recorded, started_at=newest.started_at,
        actor=newest.actor, reason=reason,
    )  # fmt: skip


# --- the decision --------------------------------------------------------------------------


def plan_promotion(
    source_stack: str,
    release: SourceRelease | None,
    target: Settings,
    service: str,
    now: datetime,
) -> Promotion:
    """What to promote, or PromotionRefusedError naming why not: no release, a failed or
    rolled-back one, one younger than the target's promotion.minSoakMinutes, or one that lacks
    an image the target runs."""
    to = target.stack
    if release is None:
        raise PromotionRefusedError(
            f"stack {source_stack!r} has no release yet: nothing to promote to {to!r}"
        )
    if release.outcome != SUCCEEDED:
        when = f", started {release.started_at}" if release.started_at else ""
        who = f" by {release.actor}" if release.actor else ""
        raise PromotionRefusedError(
            f"{source_stack}'s last release {release.id}{when}{who} {release.outcome}: "
            f"{release.reason or 'its gates did not all pass'}. Only a release whose gates all "
            f"passed is promoted; ship a good release to {source_stack} first"
        )
    soak = target.promotion.min_soak_minutes
    if soak > 0:
        if release.recorded_at is None:
            raise PromotionRefusedError(
                f"{source_stack}'s last release {release.id} has no recorded time, so its soak "
                f"time cannot be checked (promotion.minSoakMinutes of {to} is {soak})"
            )
        age = (now - release.recorded_at).total_seconds()
        if age < soak * 60:
            remaining = max(1, math.ceil((soak * 60 - age) / 60))
            raise PromotionRefusedError(
                f"{source_stack}'s last release {release.id} passed its gates at "
                f"{release.recorded_at.isoformat()} and has soaked {int(age // 60)} of the "
                f"{soak} minutes {to} requires (promotion.minSoakMinutes): {remaining} "
                f"minute{'s' if remaining != 1 else ''} remain; run again after that"
            )
    services = [s.name for s in target.services]
    if service != "all" and service not in services:
        raise PromotionRefusedError(
            f"--service {service!r}: {to} has no such service; allowed: all, "
            f"{', '.join(services)}"
        )
    wanted = [*(services if service == "all" else [service]), MIGRATIONS]
    absent = [name for name in wanted if name not in release.pins]
    if absent:
        raise PromotionRefusedError(
            f"{source_stack}'s release {release.id} pins no {', '.join(absent)}, which {to} "
            f"runs: promote between stacks that run the same images"
        )
    current = target.release
    unchanged = []
    pins: dict[str, Pin] = {}
    for name in wanted:
        pin = release.pins[name]
        now_ref = _current_ref(current, name) if current else None
        if now_ref is not None and now_ref.digest == pin.digest:
            unchanged.append(name)
        else:
            pins[name] = pin
    return Promotion(source_stack, release, pins, tuple(unchanged))


def _current_ref(release: Any, name: str) -> ImageRef | None:
    ref: ImageRef | None = release.migrations if name == MIGRATIONS else release.pins.get(name)
    return ref


# --- the target's registry -----------------------------------------------------------------

Resolve = Callable[[ResolveRequest], Any]


def registry_requests(
    target: Settings, push_to: Mapping[str, str], pins: Mapping[str, Pin]
) -> dict[str, ResolveRequest]:
    """One lookup per promoted image in the target's registry (its `pushTo` output:
    `host[:port]/repository`)."""
    requests: dict[str, ResolveRequest] = {}
    for name, pin in pins.items():
        url = push_to.get(name)
        if not url or "/" not in url:
            raise PromotionRefusedError(
                f"{target.stack} does not say where its {name} image lives (stack output "
                f"pushTo.{name}): run `pulumi up --stack {target.stack}` once (foundation) first"
            )
        registry, _, repository = url.partition("/")
        requests[name] = ResolveRequest(
            registry=registry, repository=repository, reference=ImageRef(digest=pin.digest),
            insecure=target.cloud is Cloud.LOCAL,
        )  # fmt: skip
    return requests


def check_registry(target: Settings, requests: Mapping[str, ResolveRequest],
                   resolve: Resolve) -> None:  # fmt: skip
    """Refuse when a promoted digest is absent from the target's registry (naming how to copy
    it), or when the registry cannot be asked (naming the credentials it needs)."""
    absent: list[str] = []
    unknown: list[str] = []
    for name, request in requests.items():
        shown = f"{request.registry}/{request.repository}@{request.reference.digest}"
        try:
            resolve(request)
        except ManifestNotFoundError:
            absent.append(f"{name} ({shown})")
        except RegistryError as exc:
            unknown.append(f"{name}: {exc}")
    if absent:
        how = {
            Cloud.AWS: "configure ECR replication from the source registry (it copies images "
            "pushed after it is configured; push or re-tag older ones again) or push them",
            Cloud.AZURE: "copy them with `az acr import --name <registry> --source "
            "<source login server>/<repository>@<digest>`",
            Cloud.LOCAL: "push them to the target's registry",
        }[target.cloud]
        raise PromotionRefusedError(
            f"not in {target.stack}'s registry: {'; '.join(absent)}. Copy the images first: "
            f"{how} (docs/promotion.md); nothing was changed"
        )
    if unknown:
        creds = {
            Cloud.AWS: "AWS credentials for the target account with ecr:DescribeImages",
            Cloud.AZURE: "an Azure login (az login or OIDC) with AcrPull on the registry",
            Cloud.LOCAL: "the registry reachable (and RELEASEGATE_REGISTRY_USERNAME/_PASSWORD "
            "or a docker login when it needs one)",
        }[target.cloud]
        raise PromotionRefusedError(
            f"cannot check {target.stack}'s registry for the promoted digests ("
            f"{'; '.join(unknown)}); promotion needs {creds}; nothing was changed"
        )


def default_resolver(target: Settings) -> Resolve:
    from components.gates.image_pin import load_resolver  # noqa: PLC0415 - cloud SDKs on use

    resolver: Resolve = load_resolver(RESOLVER_BY_CLOUD[target.cloud])
    return resolver


# --- the command ---------------------------------------------------------------------------


def stack_file_edit(text: str, promotion: Promotion) -> str:
    from infra.stack_file import StackFileError, set_release  # noqa: PLC0415

    try:
        return set_release(
            text, f"{NAMESPACE}:release", {n: p.value for n, p in promotion.pins.items()},
            {"promotedFrom": promotion.promoted_from()},
        )  # fmt: skip
    except StackFileError as exc:
        raise PromotionRefusedError(f"cannot edit the stack file: {exc}") from exc


def describe(promotion: Promotion, target: Settings, out: TextIO) -> None:
    release = promotion.release
    print(f"promote {promotion.source_stack} release {release.id} (gates passed "
          f"{release.recorded_at.isoformat() if release.recorded_at else 'unknown'}) to "
          f"{target.stack}:", file=out)  # fmt: skip
    for name, pin in promotion.pins.items():
        print(f"  {name}: {pin.value}", file=out)
    if promotion.unchanged:
        print(f"  unchanged (same digest): {', '.join(promotion.unchanged)}", file=out)
    if MIGRATIONS in promotion.pins:
        print(f"  note: migrations are forward-only: `pulumi up --stack {target.stack}` runs "
              "this migration once, after a snapshot, before any service changes, and it is "
              "not undone by re-pinning later (release.allowMigrationsRollback)",
              file=out)  # fmt: skip


def confirm(assume_yes: bool, stdin: TextIO, out: TextIO) -> bool:
    if assume_yes:
        return True
    if not stdin.isatty():
        raise PromotionRefusedError("no terminal to confirm on: run again with --yes to write it")
    print("Write these pins into the stack file? [y/N]", end=" ", file=out, flush=True)
    return stdin.readline().strip().lower() in ("y", "yes")


def promote(
    source: str | None, to: str, cwd: Path, service: str, assume_yes: bool,
    out: TextIO | None = None, stdin: TextIO | None = None,
    resolve: Resolve | None = None, now: datetime | None = None,
) -> int:  # fmt: skip
    """Exit 0 written (or nothing to change), 1 not confirmed; PromotionRefusedError (exit 2)."""
    from pulumi import automation as auto  # noqa: PLC0415 - needs the CLI; loaded on use

    from infra.images import settings_of  # noqa: PLC0415
    from infra.plan import PlanError, load_stack_config  # noqa: PLC0415
    from infra.rollback_run import backend_error, open_stack  # noqa: PLC0415
    from infra.stack_file import unified_diff  # noqa: PLC0415

    out, stdin = out or sys.stdout, stdin or sys.stdin
    path = cwd / f"Pulumi.{to}.yaml"
    try:
        target = settings_of(load_stack_config(to, path, root=cwd))
    except PlanError as exc:
        raise PromotionRefusedError(str(exc)) from exc
    source = source or target.promotion.source
    if source is None:
        raise PromotionRefusedError(
            f"no stack to promote from: pass --from, or set releasegate:promotion.from in {path}"
        )
    if source == to:
        raise PromotionRefusedError(f"--from and --to are both {to!r}")
    try:
        deployment = open_stack(source, cwd).export_stack().deployment or {}
    except auto.errors.CommandError as exc:
        raise PromotionRefusedError(backend_error(exc, source)) from exc
    promotion = plan_promotion(source, last_release(deployment), target, service,
                               now or datetime.now(UTC))  # fmt: skip
    if not promotion.pins:
        print(f"{to} already pins {source}'s release {promotion.release.id} "
              f"({', '.join(promotion.unchanged)}): nothing to promote", file=out)  # fmt: skip
        return 0
    try:
        outputs = open_stack(to, cwd).outputs()
    except auto.errors.CommandError as exc:
        raise PromotionRefusedError(backend_error(exc, to)) from exc
    push_to = getattr(outputs.get("pushTo"), "value", None) or {}
    requests = registry_requests(target, push_to, promotion.pins)
    check_registry(target, requests, resolve or default_resolver(target))
    before = path.read_text()
    after = stack_file_edit(before, promotion)
    describe(promotion, target, out)
    print(unified_diff(before, after, path.name), file=out)
    if not confirm(assume_yes, stdin, out):
        print(f"not promoted; {path.name} is unchanged", file=out)
        return 1
    path.write_text(after)
    print(f"wrote {path.name}. Commit it to ship it (promote never commits or deploys):\n"
          f"  git add {path.name} && git commit -m 'Promote {source} release {promotion.release.id}"
          f" to {to}'\nthen the deploy workflow (or `pulumi up --stack {to}`) releases it, gated; "
          f"{to}'s ledger records where each pin came from.", file=out)  # fmt: skip
    return 0
