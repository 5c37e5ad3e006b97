"""`services.<name>.build` and `migration.build`: how CI builds an image, validated like every
other key (known keys only, every problem collected) into a `BuildSpec`.

Paths are relative to the repository root and may not leave it (no absolute path, no `..`, no
empty or `.` segment inside a path), because CI runs `docker buildx build` from a checkout of
this repository and nothing outside it is the release's source.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from infra.config_reader import Problems, Reader
from infra.settings import ENV_NAME, NAMESPACE, SECRET_LOOKING_ENV, BuildSpec

BUILD_KEYS = frozenset({"context", "dockerfile", "target", "args"})
DEFAULT_DOCKERFILE = "Dockerfile"
# A path segment: printable, no separators or shell/expression metacharacters.
SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
# Dockerfile stage names (`FROM ... AS <name>`): letters, digits, '_', '-', '.'.
STAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")


def path_problem(value: str, allow_root: bool) -> str | None:
    """Why `value` is not a repository-relative path inside the repository, or None."""
    if allow_root and value == ".":
        return None
    if value.startswith("/") or "\\" in value or re.match(r"^[A-Za-z]:", value):
        return "is absolute; allowed: a path relative to the repository root"
    for segment in value.split("/"):
        if segment in ("", ".", ".."):
            return (
                "has an empty, '.' or '..' segment; allowed: a path inside the repository "
                "such as app or services/api/Dockerfile"
            )
        if not SEGMENT.match(segment):
            return f"has the segment {segment!r}; allowed: letters, digits, '.', '_', '-'"
    return None


def load_build(problems: Problems, key: str, raw: object) -> BuildSpec | None:
    """Parse one `build` object at `key` (e.g. `services.api.build`); None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add(key, raw, "an object {context: <folder>, dockerfile?, target?, args?}")
        return None
    r = Reader(problems, key, raw, set(BUILD_KEYS))
    context = _path(problems, f"{key}.context", raw.get("context"), allow_root=True)
    if "context" not in raw:
        problems.raw(
            f"{NAMESPACE}:{key}.context: missing; allowed: the folder to build, relative to "
            "the repository root (e.g. app)"
        )
    dockerfile: str | None = DEFAULT_DOCKERFILE
    if "dockerfile" in raw:
        dockerfile = _path(problems, f"{key}.dockerfile", raw["dockerfile"], allow_root=False)
    target = r.string("target", None, STAGE, "a Dockerfile stage name (FROM ... AS <name>)")
    args = _args(problems, f"{key}.args", raw.get("args", {}))
    if context is None or dockerfile is None:
        return None
    return BuildSpec(
        context=context, dockerfile=dockerfile, target=target, args=MappingProxyType(args)
    )


def _path(problems: Problems, key: str, value: Any, allow_root: bool) -> str | None:
    if not isinstance(value, str) or not value:
        problems.add(key, value, "a path relative to the repository root")
        return None
    why = path_problem(value, allow_root)
    if why is not None:
        problems.raw(f"{NAMESPACE}:{key}: {value!r} {why}")
        return None
    return value


def _args(problems: Problems, key: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.add(key, raw, "an object of NAME: value build args")
        return {}
    args: dict[str, str] = {}
    for name, value in raw.items():
        if (
            not isinstance(name, str)
            or not ENV_NAME.match(name)
            or isinstance(value, bool)
            or (not isinstance(value, str | int | float))
        ):
            problems.add(f"{key}.{name}", value, "a scalar value under a valid build-arg name")
        elif SECRET_LOOKING_ENV.search(name):
            problems.raw(
                f"{NAMESPACE}:{key}.{name}: looks like a secret; build args are kept in the "
                "image's history; allowed: plain values only (secrets reach the running "
                "service through its `secrets` list)"
            )
        else:
            args[name] = str(value)
    return args
