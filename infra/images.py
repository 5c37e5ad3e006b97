"""`python -m infra images`: the images a stack file pins, and how CI builds them.

The stack file stays the one place that declares images: the deploy workflow reads this list
instead of repeating repositories, Dockerfiles or tags. One entry per (repository, pinned
reference), so a service and the migration sharing a repository and a tag build once. With
`--release-tag vX.Y.Z` (the git tags of the commit CI runs for; repeatable), an entry whose
committed pin equals one of them and that has `build` settings is marked to be built now;
every other pinned entry must already be in the registry (built by an earlier release, or
elsewhere and pinned by hand), which the workflow checks before the deploy. A foundation-only
stack (no pins) lists its repositories with no reference: there is nothing to build yet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.azure.naming import registry_name
from components.imageref import TAG_PATTERN
from infra.config import load_settings
from infra.plan import PROJECT_ROOT, PlanError, StackConfig, load_stack_config
from infra.settings import NAMESPACE, BuildSpec, Settings

VERSION_ARG = "APP_VERSION"
"""The build arg that carries the pinned tag, passed only to a Dockerfile that declares it (the
sample app's reports it on /health/ready, and the health gate checks it)."""
DECLARES_VERSION_ARG = re.compile(rf"^\s*ARG\s+{VERSION_ARG}(\s|=|$)", re.MULTILINE | re.IGNORECASE)
# A registry's login server in Azure's public cloud is <registry name>.azurecr.io unless the
# registry opts into a domain name label scope (which adds a hash; this stack does not) or
# lives in a sovereign cloud (learn.microsoft.com, "Azure Container Registry" CLI
# authentication: resolve it with `az acr show --query loginServer` when in doubt). The stack
# names its registry with components/azure/naming.registry_name.
ACR_SUFFIX = ".azurecr.io"


class ImagesError(PlanError):
    """The stack's image list cannot be built as declared; the CLI prints it as one line and
    exits 2, like every other input error."""


@dataclass(frozen=True)
class Image:
    repository: str
    reference: str | None
    """The committed pin (tag or `sha256:` digest); None on a foundation-only stack."""
    pinned_by: tuple[str, ...]
    """`release` keys that pin this reference: service names and/or `migrations`."""
    build: BuildSpec | None
    build_now: bool
    """True when this run builds and pushes it: the pin equals the release tag and the stack
    says how to build it."""
    dockerfile_path: str | None
    """The Dockerfile relative to the repository root (what `docker buildx build -f` takes)."""
    build_args: tuple[tuple[str, str], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "reference": self.reference,
            "pinnedBy": list(self.pinned_by),
            "buildNow": self.build_now,
            "context": self.build.context if self.build else None,
            "dockerfile": self.dockerfile_path,
            "target": self.build.target if self.build else None,
            "buildArgs": dict(self.build_args),
        }


@dataclass(frozen=True)
class ImageList:
    stack: str
    cloud: str
    region: str | None
    """AWS: the region whose ECR the stack creates (the registry host comes from the login)."""
    registry: str | None
    """Azure: the login server of the registry the stack creates."""
    release_tags: tuple[str, ...]
    images: tuple[Image, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "cloud": self.cloud,
            "region": self.region,
            "registry": self.registry,
            "releaseTags": list(self.release_tags),
            "images": [i.as_json() for i in self.images],
        }


def settings_of(config: StackConfig) -> Settings:
    """Validate the stack file exactly as `pulumi up` would (ConfigError lists every problem)."""
    prefix = f"{NAMESPACE}:"

    def raw_get(key: str) -> str | None:
        value = config.values.get(prefix + key)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def provider_get(full_key: str) -> str | None:
        value = config.values.get(full_key)
        return None if value is None else str(value)

    return load_settings(
        project=config.project,
        stack=config.stack,
        raw_get=raw_get,
        is_secret=lambda key: prefix + key in config.secret_keys,
        provider_get=provider_get,
        all_keys=[k[len(prefix) :] for k in config.values if k.startswith(prefix)],
    )


def image_list(
    settings: Settings, release_tags: Sequence[str] = (), root: Path = PROJECT_ROOT
) -> ImageList:
    """Every image the stack pins, deduplicated by (repository, reference), in a stable order."""
    if isinstance(release_tags, str):  # one tag, not its characters
        release_tags = (release_tags,)
    for tag in release_tags:
        if not TAG_PATTERN.match(tag):
            raise ImagesError(f"--release-tag {tag!r} is not a valid image tag")
    users: list[tuple[str, str, BuildSpec | None]] = [
        (s.name, s.repository, s.build) for s in settings.services
    ]
    users.append(("migrations", settings.migration.repository, settings.migration.build))
    _check_one_build_per_repository(users, settings.migration.build is not None)
    pins: dict[str, str | None] = {name: None for name, _, _ in users}
    if settings.release is not None:
        for name, ref in settings.release.pins.items():
            pins[name] = ref.reference
        pins["migrations"] = settings.release.migrations.reference
    grouped: dict[tuple[str, str | None], list[str]] = {}
    builds: dict[str, BuildSpec | None] = {}
    for name, repository, build in users:
        grouped.setdefault((repository, pins[name]), []).append(name)
        builds[repository] = builds.get(repository) or build
    images = [
        _image(repository, reference, tuple(names), builds[repository], release_tags, root)
        for (repository, reference), names in sorted(grouped.items(), key=lambda kv: str(kv[0]))
    ]
    return ImageList(
        stack=settings.stack,
        cloud=settings.cloud.value,
        region=settings.aws.region if settings.aws is not None else None,
        registry=(
            registry_name(settings.resource_prefix) + ACR_SUFFIX
            if settings.azure is not None
            else None
        ),
        release_tags=tuple(release_tags),
        images=tuple(images),
    )


def _check_one_build_per_repository(
    users: list[tuple[str, str, BuildSpec | None]], migration_build_set: bool
) -> None:
    """A tag names one build: two different builds pushed to one repository would fight over
    the same immutable tag. (A user without `build` shares the other's.)"""
    seen: dict[str, tuple[str, BuildSpec]] = {}
    for name, repository, build in users:
        if build is None:
            continue
        first = seen.setdefault(repository, (name, build))
        if first[1] != build:
            where = (
                "migration.build"
                if name == "migrations" and migration_build_set
                else (f"services.{name}.build")
            )
            raise ImagesError(
                f"{NAMESPACE}:{where} differs from the build of {first[0]!r}, but both push to "
                f"the repository {repository!r}; allowed: the same build, or a repository of "
                "its own"
            )


def _image(
    repository: str,
    reference: str | None,
    pinned_by: tuple[str, ...],
    build: BuildSpec | None,
    release_tags: Sequence[str],
    root: Path,
) -> Image:
    dockerfile_path = None
    args: dict[str, str] = {}
    if build is not None:
        dockerfile_path = (
            build.dockerfile if build.context == "." else (f"{build.context}/{build.dockerfile}")
        )
        context_dir, dockerfile = root / build.context, root / dockerfile_path
        if not context_dir.is_dir():
            raise ImagesError(
                f"the build context {build.context!r} of {repository!r} (pinned by "
                f"{', '.join(pinned_by)}) is not a folder of this repository"
            )
        if not dockerfile.is_file():
            raise ImagesError(
                f"the Dockerfile {dockerfile_path!r} of {repository!r} (pinned by "
                f"{', '.join(pinned_by)}) does not exist in this repository"
            )
        args = dict(build.args)
        is_tag = reference is not None and not reference.startswith("sha256:")
        if is_tag and DECLARES_VERSION_ARG.search(dockerfile.read_text(errors="replace")):
            args.setdefault(VERSION_ARG, str(reference))
    build_now = build is not None and reference is not None and reference in release_tags
    return Image(
        repository=repository,
        reference=reference,
        pinned_by=pinned_by,
        build=build,
        build_now=build_now,
        dockerfile_path=dockerfile_path,
        build_args=tuple(sorted(args.items())),
    )


def github_outputs(images: ImageList) -> str:
    """`name=value` lines for $GITHUB_OUTPUT: the cloud, where to log in, and a job matrix of
    every pinned image (strings only, so the workflow passes them to the shell as env)."""
    include = [
        {
            "repository": i.repository,
            "reference": i.reference,
            "pinned_by": ", ".join(f"release.{n}" for n in i.pinned_by),
            "build": "true" if i.build_now else "false",
            "context": i.build.context if i.build else "",
            "dockerfile": i.dockerfile_path or "",
            "target": (i.build.target or "") if i.build else "",
            "build_args": json.dumps(dict(i.build_args), separators=(",", ":")),
        }
        for i in images.images
        if i.reference is not None
    ]
    lines = {
        "cloud": images.cloud,
        "region": images.region or "",
        "registry": images.registry or "",
        "count": str(len(include)),
        "matrix": json.dumps({"include": include}, separators=(",", ":")),
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def run_images(
    stack: str, config_file: Path | None, release_tags: Sequence[str], output: str
) -> int:
    """The `images` subcommand: validate the stack file, print the list (json) or the
    workflow's step outputs (github)."""
    config = load_stack_config(stack, config_file)
    images = image_list(settings_of(config), release_tags)
    if output == "github":
        print(github_outputs(images), end="")
    else:
        print(json.dumps(images.as_json(), indent=2))
    return 0
