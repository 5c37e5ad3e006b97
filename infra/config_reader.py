"""Collects config problems and reads typed values out of one config object.

Nothing here raises: every problem is recorded with its full key path so that one run of the
validation reports all of them together.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from infra.settings import NAMESPACE, SecretValue


class Problems:
    """Collects problems with the full key path, so one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, value: object, allowed: str, near: str | None = None) -> None:
        """`near`: the known name closest to a mistyped one (see `nearest`), named at the end."""
        shown = show(value)
        hint = f"; did you mean {near!r}?" if near else ""
        self.items.append(f"{NAMESPACE}:{key}: {shown} is not valid; allowed: {allowed}{hint}")

    def unknown(self, key: str, name: str, known: Iterable[str], what: str = "setting") -> None:
        """`key`.`name` is not a known name: say so, name the nearest known one (a typo such as
        `intervalSecond` is far more likely than a new setting) and list the allowed names."""
        names = sorted(known, key=str.lower)
        near = nearest(name, names)
        hint = f"; did you mean {near!r}?" if near else ";"
        path = f"{key}.{name}" if key else name
        self.items.append(
            f"{NAMESPACE}:{path}: unknown {what}{hint} allowed: {', '.join(names) or 'none'}"
        )

    def raw(self, message: str) -> None:
        self.items.append(message)


def show(value: object) -> str:
    if isinstance(value, SecretValue):
        return "[secret]"
    if value is None:
        return "missing"
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def nearest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to `name`, or None when none is close.

    difflib's ratio, compared case-insensitively so that `healthgate` finds `healthGate`; the
    cutoff (0.6, difflib's default) keeps unrelated names out of the message."""
    by_lower: dict[str, str] = {}
    for candidate in sorted(known):
        by_lower.setdefault(candidate.lower(), candidate)
    matches = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


MISSING = object()

RECORDING: ContextVar[dict[str, dict[str, dict[str, Any]]] | None] = ContextVar(
    "config_schema_recording", default=None
)
"""Set by infra/schema.py: every Reader records its object's known names (path -> name ->
JSON Schema) and every typed accessor the type, bounds, default and wording it validates with,
so the stack-file schema comes from the validation itself."""


def bounded(kind: str, low: float, high: float, default: float) -> dict[str, Any]:
    return {"type": kind, "minimum": low, "maximum": high, "default": default}


def record_schema(key: str, name: str, schema: dict[str, Any]) -> None:
    """Record `key`.`name`'s schema while infra/schema.py records (`key` '' is top level)."""
    recording = RECORDING.get()
    if recording is not None:
        names = recording.setdefault(key, {})
        if not names.get(name):  # the first run's default (a non-production stack) stays
            names[name] = schema


class Reader:
    """Typed accessors over one config object; every failure is recorded, never raised."""

    def __init__(self, problems: Problems, key: str, raw: Mapping[str, Any], known: set[str]):
        self.problems = problems
        self.key = key
        self.raw = raw
        recording = RECORDING.get()
        if recording is not None:
            names = recording.setdefault(key, {})
            for name in known:
                names.setdefault(name, {})
        for name in sorted(set(raw) - known):
            problems.unknown(key, name, known)

    def _get(self, name: str) -> Any:
        return self.raw.get(name, MISSING)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        record_schema(self.key, name, bounded("integer", low, high, default))
        value = self._get(name)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problems.add(f"{self.key}.{name}", value, f"an integer from {low} to {high}")
            return default
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        record_schema(self.key, name, bounded("number", low, high, default))
        value = self._get(name)
        if value is MISSING:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            self.problems.add(f"{self.key}.{name}", value, f"a number from {low:g} to {high:g}")
            return default
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        record_schema(self.key, name, {"type": "boolean", "default": default})
        value = self._get(name)
        if value is MISSING:
            return default
        if not isinstance(value, bool):
            self.problems.add(f"{self.key}.{name}", value, "true or false")
            return default
        return value

    def string(
        self,
        name: str,
        default: str | None,
        pattern: re.Pattern[str] | None = None,
        allowed: str = "",
    ) -> str | None:
        schema: dict[str, Any] = {"type": "string", "description": allowed or "a non-empty string"}
        if pattern is not None:
            schema["pattern"] = pattern.pattern
        if default is not None:
            schema["default"] = default
        record_schema(self.key, name, schema)
        value = self._get(name)
        if value is MISSING or value is None:
            return default
        if not isinstance(value, str) or not value or (pattern and not pattern.match(value)):
            self.problems.add(f"{self.key}.{name}", value, allowed or "a non-empty string")
            return default
        return value

    def string_list(
        self, name: str, pattern: re.Pattern[str] | None, allowed: str
    ) -> tuple[str, ...]:
        items = {"type": "string", **({"pattern": pattern.pattern} if pattern else {})}
        record_schema(self.key, name, {"type": "array", "items": items, "description": allowed})
        value = self._get(name)
        if value is MISSING or value is None:
            return ()
        if not isinstance(value, list) or not all(
            isinstance(v, str) and v and (pattern is None or pattern.match(v)) for v in value
        ):
            self.problems.add(f"{self.key}.{name}", value, allowed)
            return ()
        return tuple(value)


def check_top_level(problems: Problems, names: Iterable[str], known: Iterable[str]) -> None:
    """Every key set in the `releasegate:` namespace (`names`, without the prefix) must be one
    the program reads (`known`): the engine passes any key a stack file or `pulumi config set`
    holds, and one it does not declare would otherwise be ignored while defaults apply. The CLI
    does not catch it: it type-checks only the keys Pulumi.yaml declares (mergeConfig and
    validateStackConfigValues in pkg/workspace/config.go, pulumi v3.259.0; tests/engine)."""
    allowed = set(known)
    for name in sorted(set(names) - allowed):
        head, dot, _ = name.partition(".")
        if dot and head in allowed:
            problems.raw(
                f"{NAMESPACE}:{name}: unknown key; it looks like a path inside "
                f"{NAMESPACE}:{head}, which is set with `pulumi config set --path {name} VALUE` "
                f"(without --path the dotted name becomes a key of its own)"
            )
            continue
        problems.unknown("", name, allowed, what="key")
