"""What azure computes for a resource (ids, ARNs, URLs, FQDNs), made up for the offline plan.

`infra.plan.PlanMocks` gives every resource its inputs as outputs; resources whose outputs
the program reads (and that are not inputs) get them here, deterministically from the name and
inputs, so the plan evaluates the real program with no cloud. Invokes (data sources) the
target calls are answered from INVOKES by token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

OutputMaker = Callable[[str, Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
"""(resource name, plain inputs, stack config by full key) -> extra outputs."""
InvokeAnswer = Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
"""(plain invoke args, stack config by full key) -> the invoke's result."""

OUTPUTS: dict[str, OutputMaker] = {}
"""Resource type token -> the outputs the cloud would compute."""
INVOKES: dict[str, InvokeAnswer] = {}
"""Invoke token -> its answer."""
