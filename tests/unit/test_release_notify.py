"""The release graph hands every step that announces something the same `notify` input, as a
secret: the attempt, the snapshot, the migration, each gate and verify, and the ledger. A re-pin
touches no more than without notifications, and no URL or token reaches the plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from infra.plan import PROJECT_ROOT, Plan, apply_sets, diff_plans, evaluate, load_stack_config
from infra.release_notify import deploy_ref, run_url

SECURE = {"secure": "v1:AAAA:BBBB"}
ANNOUNCERS = ("ReleaseAttempt", "PreMigrationSnapshot", "MigrationRun", "HealthGate",
              "ReleaseLedger")  # fmt: skip


def dev_with_notifications(tmp_path: Path) -> Any:
    # Edited as YAML on a copy (the tracked file stays untouched).
    dev = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    dev["config"]["releasegate:notifications"] = {
        "slack": {"webhookUrl": SECURE},
        "webhook": {"url": SECURE, "headers": {"X-Api-Key": SECURE}},
        "github": {"repository": "acme/shop", "token": SECURE},
    }
    stack_file = tmp_path / "Pulumi.notify.yaml"
    stack_file.write_text(yaml.safe_dump(dev, sort_keys=False))
    return load_stack_config("notify", stack_file)


def announcers(plan: Plan) -> list[Any]:
    return [r for r in plan.resources if r.type.split(":")[-1] in ANNOUNCERS]


def test_every_announcing_step_gets_notify_as_a_secret(tmp_path: Path) -> None:
    plan = evaluate(dev_with_notifications(tmp_path))
    found = announcers(plan)
    assert {r.type.split(":")[-1] for r in found} == set(ANNOUNCERS)
    for resource in found:
        assert resource.inputs["notify"] == "[secret]", resource.name
    text = json.dumps(plan.as_json())
    assert "offline-placeholder-secret" not in text and "acme/shop" not in text


def test_without_notifications_no_step_gets_a_notify_input() -> None:
    for resource in announcers(evaluate(load_stack_config("dev"))):
        assert resource.inputs.get("notify") is None, resource.name


def test_a_repin_touches_the_same_resources_with_notifications(tmp_path: Path) -> None:
    def touched(base: Any) -> set[str]:
        changes = diff_plans(evaluate(base), evaluate(apply_sets(base, ["release.api=v0.9.0"])))
        return {c.resource.name for c in changes}

    assert touched(dev_with_notifications(tmp_path)) == touched(load_stack_config("dev"))


def test_the_deployed_commit_and_the_run_page_come_from_github_actions() -> None:
    env = {"GITHUB_SHA": "0123abc", "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42"}  # fmt: skip
    assert deploy_ref(env) == "0123abc"
    assert run_url(env) == "https://github.com/acme/shop/actions/runs/42"
    assert run_url({"GITHUB_SHA": "x"}) is None
