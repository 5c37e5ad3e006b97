"""The shape of the per-cloud tables of made-up outputs the offline plan's mocks consult
(`infra.plan_outputs_aws`, `infra.plan_outputs_azure`).

`infra.plan.PlanMocks` gives every resource its inputs as outputs; resources whose outputs the
program reads (and that are not inputs) get them from a cloud's OUTPUTS table, deterministically
from the name, the inputs and the stack config, so the plan evaluates the real program with no
cloud. Invokes (data sources) a target calls are answered from its INVOKES table by token.
Property names are the engine's camelCase.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Config = Mapping[str, Any]
Inputs = Mapping[str, Any]
OutputMaker = Callable[[str, Inputs, Config], dict[str, Any]]
"""(resource name, plain inputs, stack config by full key) -> extra outputs."""
InvokeAnswer = Callable[[Inputs, Config], dict[str, Any]]
"""(plain invoke args, stack config by full key) -> the invoke's result."""
