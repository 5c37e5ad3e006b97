"""Collects config problems and reads typed values out of one config object.

Nothing here raises: every problem is recorded with its full key path so that one run of the
validation reports all of them together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from infra.settings import NAMESPACE, SecretValue


class Problems:
    """Collects problems with the full key path, so one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, value: object, allowed: str) -> None:
        shown = show(value)
        self.items.append(f"{NAMESPACE}:{key}: {shown} is not valid; allowed: {allowed}")

    def raw(self, message: str) -> None:
        self.items.append(message)


def show(value: object) -> str:
    if isinstance(value, SecretValue):
        return "[secret]"
    if value is None:
        return "missing"
    return json.dumps(value) if not isinstance(value, str) else repr(value)


MISSING = object()


class Reader:
    """Typed accessors over one config object; every failure is recorded, never raised."""

    def __init__(self, problems: Problems, key: str, raw: Mapping[str, Any], known: set[str]):
        self.problems = problems
        self.key = key
        self.raw = raw
        unknown = sorted(set(raw) - known)
        for name in unknown:
            problems.raw(
                f"{NAMESPACE}:{key}.{name}: unknown setting; allowed: {', '.join(sorted(known))}"
            )

    def _get(self, name: str) -> Any:
        return self.raw.get(name, MISSING)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._get(name)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problems.add(f"{self.key}.{name}", value, f"an integer from {low} to {high}")
            return default
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
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
        value = self._get(name)
        if value is MISSING or value is None:
            return ()
        if not isinstance(value, list) or not all(
            isinstance(v, str) and v and (pattern is None or pattern.match(v)) for v in value
        ):
            self.problems.add(f"{self.key}.{name}", value, allowed)
            return ()
        return tuple(value)
