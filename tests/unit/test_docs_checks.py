"""docs/checks.md cannot drift: its runbook example is the fixture the loader and the program
must accept, every stack config it shows loads, and the plan it prints is the real one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.spec import IdentitySpec, VerifySpec
from infra.config import load_settings
from infra.plan import PROJECT_ROOT, evaluate, load_stack_config
from infra.render import plan_text

DOC = PROJECT_ROOT / "docs" / "checks.md"
FIXTURE = Path(__file__).parent / "fixtures" / "Pulumi.runbook-004.yaml"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_doc_shows_the_runbook_fixture_verbatim() -> None:
    assert FIXTURE.read_text() in BLOCKS


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_stack_config_in_the_doc_plans(block: str, tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.example.yaml"
    path.write_text(block)
    plan = evaluate(load_stack_config("example", config_file=path))
    services = yaml.safe_load(block)["config"]["releasegate:services"]
    gates = {r.name for r in plan.resources if r.type.endswith(":HealthGate")}
    assert gates == {f"gate-{name}" for name in services}


def test_the_runbook_loads_as_documented_and_plans_as_printed() -> None:
    config = load_stack_config("runbook", config_file=FIXTURE)
    plan = evaluate(config)
    gates = {r.name: r.inputs for r in plan.resources if r.type.endswith(":HealthGate")}
    assert gates["gate-api"]["identity"] == {"source": "none"}
    assert [c["path"] for c in gates["gate-api"]["checks"]] == ["/healthz", "/readyz"]
    assert gates["gate-web"]["checks"][0]["method"] == "HEAD"
    assert gates["gate-api"]["failure_limit"] == 3
    snapshot = next(r for r in plan.resources if r.type.endswith(":PreMigrationSnapshot"))
    assert snapshot.inputs["trigger"].startswith("pins:sha256:")
    printed = re.search(r"```\n(Release order:\n.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert printed is not None
    expected = printed.group(1).splitlines()
    text = plan_text(plan).splitlines()
    assert text[1 : 1 + len(expected)] == expected


def test_the_runbook_settings() -> None:
    raw = yaml.safe_load(FIXTURE.read_text())["config"]
    values = {k.removeprefix("releasegate:"): v for k, v in raw.items()}
    settings = load_settings(
        "releasegate",
        "runbook",
        lambda key: None if key not in values else _text(values[key]),
        lambda _key: False,
        all_keys=list(values),
    )
    assert settings.snapshot_when == "always"
    assert settings.service("api").identity == IdentitySpec("none", None)
    assert settings.service("api").verify == VerifySpec(("./scripts/smoke.sh",), None, 300)
    verify = settings.migration.verify
    assert verify is not None and verify.image is None and verify.command[:2] == ("sh", "-c")
    assert "alembic current" in verify.command[2] and "alembic heads" in verify.command[2]
    assert settings.health_gate.startup_seconds < settings.health_gate.deadline_seconds


def test_the_readme_plan_example_is_the_dev_stacks_plan() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"```\nStack dev \(cloud: local\): \d+ resources\n(.*?)```", readme, re.S)
    assert block is not None
    expected = block.group(1).splitlines()
    text = plan_text(evaluate(load_stack_config("dev"))).splitlines()
    assert text[1 : 1 + len(expected)] == expected
