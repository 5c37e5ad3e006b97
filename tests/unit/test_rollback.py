"""Rollback decisions on ledgers shaped like the ReleaseLedger's outputs: which release, which
re-pins, and the refusals that must happen before anything changes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from infra.plan import PROJECT_ROOT
from infra.rollback import RollbackError, plan_rollback, release_rows
from infra.rollback_run import confirm, list_releases


def entry(rid: str, api: str, web: str, migrations: str, snapshot: str) -> dict[str, Any]:
    def svc(tag: str) -> dict[str, Any]:
        return {"tag": tag, "digest": f"sha256:{tag}", "gate": {"served_version": tag,
                                                                 "elapsed_seconds": 4}}
    return {"id": rid, "recorded_at": f"2026-11-2{rid[-1]}T10:00:00Z",
            "services": {"api": svc(api), "web": svc(web)},
            "migrations": {"tag": migrations, "digest": f"sha256:{migrations}",
                           "snapshot": snapshot}}  # fmt: skip


R3 = entry("r3", "v3", "v3", "m2", "pre-migrate-m2")
R2 = entry("r2", "v2", "v2", "m2", "pre-migrate-m2")
R1 = entry("r1", "v1", "v1", "m1", "pre-migrate-m1")
LEDGER = {"current": R3, "previous": R2, "history": [R3, R2, R1]}
PINNED = {"api": "v3", "web": "v3", "migrations": "m2"}


def test_default_is_the_previous_release_when_the_current_one_is_good() -> None:
    plan = plan_rollback(LEDGER, PINNED, "all")
    assert plan.target["id"] == "r2" and plan.repins == {"api": "v2", "web": "v2"}


def test_after_a_failed_release_the_default_is_the_last_good_one() -> None:
    failed = {**PINNED, "api": "v4"}  # v4 failed its gate: the ledger still records r3
    plan = plan_rollback(LEDGER, failed, "api")
    assert plan.target["id"] == "r3" and plan.repins == {"api": "v3"}


def test_to_an_older_release_by_id_or_tag_for_one_service() -> None:
    assert plan_rollback(LEDGER, PINNED, "api", "r2").repins == {"api": "v2"}
    assert plan_rollback(LEDGER, PINNED, "web", "v2").repins == {"web": "v2"}


def test_code_only_rollback_past_a_migration_is_allowed() -> None:
    plan = plan_rollback(LEDGER, PINNED, "api", "r1")
    assert plan.repins == {"api": "v1"}  # the schema stays at m2


def test_everything_past_a_migration_is_refused_naming_the_snapshot() -> None:
    with pytest.raises(RollbackError) as refused:
        plan_rollback(LEDGER, PINNED, "all", "r1")
    message = str(refused.value)
    assert "migrations are forward-only" in message and "Nothing was changed" in message
    assert "pre-migrate-m2" in message and "database.restoreFromSnapshot" in message
    assert "--service NAME" in message


def test_unknown_release_and_service_list_what_exists() -> None:
    with pytest.raises(RollbackError, match=r"no release 'v9' in the ledger; known.*r3 \(api v3"):
        plan_rollback(LEDGER, PINNED, "api", "v9")
    unknown = "service 'worker' is not in the ledger; known: api, web"
    with pytest.raises(RollbackError, match=unknown):
        plan_rollback(LEDGER, PINNED, "worker")


def test_nothing_to_do_and_nothing_older_are_said_plainly() -> None:
    with pytest.raises(RollbackError, match="nothing to roll back"):
        plan_rollback(LEDGER, PINNED, "api", "r3")
    only = {"current": R1, "history": [R1]}
    with pytest.raises(RollbackError, match="only good release"):
        plan_rollback(only, {"api": "v1", "web": "v1", "migrations": "m1"}, "all")
    with pytest.raises(RollbackError, match="ledger is empty"):
        plan_rollback({}, PINNED, "all")


def test_releases_are_listed_newest_first_with_gate_results() -> None:
    rows = release_rows(LEDGER)
    assert [r["release"] for r in rows] == ["r3", "r2", "r1"]
    assert rows[1]["services"]["api"] == {"pin": "v2", "digest": "sha256:v2", "deployed_at": None,
                                          "served_version": "v2", "gate_seconds": 4}  # fmt: skip
    assert rows[2]["migrations"] == {"pin": "m1", "snapshot": "pre-migrate-m1"}


def test_releases_name_the_cache_they_ran_against() -> None:
    cache = {"engine": "valkey", "engine_version": "8.0", "name": "releasegate-dev-cache"}
    ledger = {"current": {**R3, "cache": cache}, "history": [{**R3, "cache": cache}, R2]}
    rows = release_rows(ledger)
    assert rows[0]["cache"] == cache
    assert "cache" not in rows[1]  # recorded before the stack had a cache


class LedgerStack:
    def __init__(self, ledger: dict[str, Any]) -> None:
        self._ledger = ledger

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {"ledger": auto.OutputValue(value=self._ledger, secret=False)}

    def export_stack(self) -> auto.Deployment:
        """The checkpoint `releases` reads: the ledger resource holds what `ledger` exports."""
        resource = {"type": "pulumi-python:dynamic/gates:ReleaseLedger", "outputs": self._ledger}
        return auto.Deployment(version=3, deployment={"resources": [resource]})


def test_the_releases_command_prints_the_cache_line(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = {"engine": "valkey", "engine_version": "8.0", "name": "releasegate-dev-cache"}
    ledger = {"current": {**R3, "cache": cache}, "history": [{**R3, "cache": cache}, R2]}
    monkeypatch.setattr("infra.rollback_run.open_stack", lambda *_: LedgerStack(ledger))
    out = io.StringIO()
    assert list_releases("dev", PROJECT_ROOT, "text", out) == 0
    lines = out.getvalue().splitlines()
    assert [line.split() for line in lines if line.split()[0] == "cache"] == [
        ["cache", "valkey", "8.0", "releasegate-dev-cache"]
    ]


def test_releases_show_each_verify_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    verify = {"checked_at": "2026-11-23T10:00:09Z", "exit_code": 0, "duration_seconds": 7.0}
    r3 = {**R3, "services": {**R3["services"], "api": {**R3["services"]["api"], "verify": verify}},
          "migrations": {**R3["migrations"], "verify": verify}}  # fmt: skip
    ledger = {"current": r3, "history": [r3, R2]}
    rows = release_rows(ledger)
    assert rows[0]["services"]["api"]["verify"] == verify
    assert rows[0]["migrations"]["verify"] == verify
    assert "verify" not in rows[0]["services"]["web"] and "verify" not in rows[1]["migrations"]
    monkeypatch.setattr("infra.rollback_run.open_stack", lambda *_: LedgerStack(ledger))
    out = io.StringIO()
    assert list_releases("dev", PROJECT_ROOT, "text", out) == 0
    lines = [line.split() for line in out.getvalue().splitlines()]
    api, web, migrations = (next(w for w in lines if w[0] == name)
                            for name in ("api", "web", "migrations"))  # fmt: skip
    assert api[-5:] == ["verify:", "exit", "0", "in", "7.0s"]
    assert migrations[-5:] == ["verify:", "exit", "0", "in", "7.0s"]
    assert "verify:" not in web


def test_without_a_terminal_it_refuses_rather_than_hangs() -> None:
    with pytest.raises(RollbackError, match="run again with --yes"):
        confirm("Roll back?", False, io.StringIO(""), io.StringIO())
    assert confirm("Roll back?", True, io.StringIO(""), io.StringIO())


def test_user_mistakes_end_in_one_message_without_a_traceback(tmp_path: Path) -> None:
    """No project folder, or no Pulumi CLI on PATH: exit 2 and say what to do."""
    command = [sys.executable, "-m", "infra", "rollback", "--stack", "production", "--yes"]
    no_project = subprocess.run([*command, "--cwd", str(tmp_path)], cwd=PROJECT_ROOT,
                                capture_output=True, text=True, check=False)  # fmt: skip
    assert no_project.returncode == 2
    assert "holds no Pulumi.yaml" in no_project.stderr and "Traceback" not in no_project.stderr
    env = {**os.environ, "PATH": str(tmp_path)}  # no pulumi here
    no_cli = subprocess.run([*command, "--cwd", str(PROJECT_ROOT)], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert no_cli.returncode == 2, no_cli.stderr
    assert "the Pulumi CLI is not on PATH" in no_cli.stderr and "Traceback" not in no_cli.stderr
