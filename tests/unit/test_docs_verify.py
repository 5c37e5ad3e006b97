"""The README's verify job examples cannot drift: the snippet plans as a stack config (both
verify jobs in the graph), and its `alembic current` == `alembic heads` script, run by a real
`sh` against a stand-in `alembic`, passes only when the database is at every head. The
runbook example of docs/checks.md (its fixture) runs the same script, through the same checks."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.plan import PROJECT_ROOT, evaluate, load_stack_config

SECTION = (PROJECT_ROOT / "README.md").read_text().split("## Verify jobs", 1)[1].split("\n## ")[0]
(SNIPPET,) = re.findall(r"```yaml\n(.*?)```", SECTION, flags=re.DOTALL)
CONFIG = yaml.safe_load("config:\n  releasegate:cloud: local\n" + SNIPPET)["config"]
RUNBOOK = Path(__file__).parent / "fixtures" / "Pulumi.runbook-004.yaml"
"""docs/checks.md shows this fixture verbatim (tests/unit/test_docs_checks.py)."""
ALEMBIC_CHECKS = {
    "README": CONFIG["releasegate:migration"]["verify"]["command"],
    "docs/checks.md": yaml.safe_load(RUNBOOK.read_text())["config"]["releasegate:migration"][
        "verify"
    ]["command"],
}


def test_docs_checks_runs_the_readmes_alembic_check() -> None:
    assert ALEMBIC_CHECKS["docs/checks.md"] == ALEMBIC_CHECKS["README"]


def test_the_snippet_plans_with_both_verify_jobs(tmp_path: Path) -> None:
    stack = {**CONFIG, "releasegate:release": {"api": "v1.0.0", "migrations": "v1.0.0"},
             "releasegate:generatedSecrets": ["SIGNING_KEY"]}  # fmt: skip
    path = tmp_path / "Pulumi.example.yaml"
    path.write_text(yaml.safe_dump({"config": stack}))
    plan = evaluate(load_stack_config("example", config_file=path))
    verifies = {r.name: r for r in plan.resources if r.type.endswith(":VerifyRun")}
    assert set(verifies) == {"verify-api", "verify-migrations"}
    smoke = verifies["verify-api"].inputs["command"]
    assert smoke[:2] == ["sh", "-c"] and "dryRun=true" in smoke[2] and "-X POST" in smoke[2]


def alembic_check(
    tmp_path: Path, current: str, heads: str, current_fails: bool = False, doc: str = "README"
) -> int:
    """Runs a doc's migration.verify command with a stand-in `alembic` on PATH that
    prints `current` / `heads` (and an INFO line on stderr, as alembic logs)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "alembic"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl." >&2\n'
        f'if [ "$1" = current ]; then {"exit 1" if current_fails else ""}\n'
        f"printf '%s' '{current}'; else printf '%s' '{heads}'; fi\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    command = ALEMBIC_CHECKS[doc]
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(command, env=env, capture_output=True, timeout=30, check=False).returncode


@pytest.mark.parametrize(
    ("current", "heads", "passes"),
    [
        ("ae1027a6acf (head)\n", "ae1027a6acf (head)\n", True),
        ("27c6a30d7c24\n", "ae1027a6acf (head)\n", False),  # behind
        ("", "ae1027a6acf (head)\n", False),  # an empty database
        ("", "", False),  # no migrations found at all
        # Two heads: the database must be at both, whatever order each command lists them in.
        ("b2 (head)\na1 (head)\n", "a1 (head)\nb2 (head)\n", True),
        ("a1 (head)\n", "a1 (head)\nb2 (head)\n", False),
        ("b2 (head)\n", "a1 (head)\nb2 (head)\n", False),
        # Custom revision ids (`alembic revision --rev-id`), not 12 hex digits.
        ("add_users_table (head)\n", "add_users_table (head)\n", True),
        ("0001_initial\n", "add_users_table (head)\n", False),
        ("0001_initial\n", "0001_initial (head)\nadd_users_table (head)\n", False),
    ],
)
@pytest.mark.parametrize("doc", sorted(ALEMBIC_CHECKS))
def test_the_alembic_check_passes_only_at_every_head(
    tmp_path: Path, current: str, heads: str, passes: bool, doc: str
) -> None:
    assert (alembic_check(tmp_path, current, heads, doc=doc) == 0) is passes


@pytest.mark.parametrize("doc", sorted(ALEMBIC_CHECKS))
def test_a_failing_alembic_current_fails_the_check(tmp_path: Path, doc: str) -> None:
    """An unreachable database: `alembic current` fails and prints nothing, like `heads` for a
    broken environment; two empty strings must not compare as a pass."""
    assert alembic_check(tmp_path, "", "", current_fails=True, doc=doc) != 0
    assert alembic_check(tmp_path, "ae1027a6acf (head)\n", "ae1027a6acf (head)\n",
                         current_fails=True, doc=doc) != 0  # fmt: skip
