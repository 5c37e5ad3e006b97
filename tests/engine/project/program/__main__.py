"""The engine tests' program: releasegate's own `define_stack` (infra/program.py), so the
real config loading, release graph (infra/release.py) and stack outputs run under the real
Pulumi CLI; only the target and the secret generator are the test's dynamic ones
(tests/engine/target.py), since the docker and random provider plugins cannot be installed
on the test machines."""

from infra.program import define_stack
from tests.engine.target import EngineTarget, generated_value

define_stack(EngineTarget, generated_value)
