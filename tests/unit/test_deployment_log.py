"""The deployment log and the failed-pin check, from a checkpoint shaped like the engine's:
releases (succeeded, failed, rolled back, in progress), their rendering, and `check-pins`."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from components.gates.ledger import release_id
from infra import rollback_run
from infra.cli import main
from infra.ledger_read import history_from_deployment
from infra.plan import PROJECT_ROOT
from infra.releases_view import render_json, render_markdown, render_text
from tests.unit.test_ledger_attempts import Stack, pins

ATTEMPT = "pulumi-python:dynamic/gates:ReleaseAttempt"
LEDGER = "pulumi-python:dynamic/gates:ReleaseLedger"


def checkpoint(stack: Stack, *, running: bool = False) -> dict[str, Any]:
    resources = []
    if stack.attempt is not None:
        resources.append({"type": ATTEMPT, "urn": "u:attempt", "outputs": stack.attempt})
    if stack.ledger is not None:
        resources.append({"type": LEDGER, "urn": "u:ledger", "outputs": {**stack.ledger,
                                                                         "keep": 5.0}})  # fmt: skip
    deployment: dict[str, Any] = {"resources": resources}
    if running:
        deployment["pending_operations"] = [{"type": "creating", "resource": {}}]
    return deployment


def story() -> Stack:
    """v1 ok; v2 failed its gate; v3 ok (promoted, by bob); rolled back from v3 to v1."""
    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z", recorded="2026-11-29T10:02:00Z")
    stack.up("v2", "2026-11-29T11:00:00Z", passes=False)
    promoted = {"stack": "staging", "release": "s1", "pins": {"api": "sha256:v3"}}
    stack.up("v3", "2026-11-29T12:00:00Z", recorded="2026-11-29T12:01:30Z",
             promoted_from=promoted)  # fmt: skip
    stack.up("v1", "2026-11-29T13:00:00Z", recorded="2026-11-29T13:00:40Z",
             rollback_of=release_id(pins("v3")))  # fmt: skip
    return stack


def test_history_lists_failed_and_rolled_back_releases_newest_first() -> None:
    history = history_from_deployment("prod", checkpoint(story()))
    outcomes = [(r.pins["api"]["tag"], r.outcome) for r in history.releases]
    assert outcomes == [
        ("v1", "succeeded"), ("v3", "rolled-back"), ("v2", "failed"), ("v1", "succeeded"),
    ]  # fmt: skip
    v3 = history.releases[1]
    assert v3.promoted_from == {"stack": "staging", "release": "s1", "pins": {"api": "sha256:v3"}}
    assert v3.duration_seconds == 90 and v3.actor == "alice"
    assert history.failed_digests() == {"api": {"sha256:v2", "sha256:v3"}}


def test_a_running_up_is_in_progress_not_failed() -> None:
    stack = story()
    stack.up("v4", "2026-11-29T14:00:00Z", passes=False)
    running = history_from_deployment("prod", checkpoint(stack, running=True))
    assert running.releases[0].outcome == "in progress"
    assert "sha256:v4" not in running.failed_digests()["api"]
    done = history_from_deployment("prod", checkpoint(stack))
    assert done.releases[0].outcome == "failed"


def test_only_the_images_a_bad_release_changed_are_refused() -> None:
    history = history_from_deployment("prod", checkpoint(story()))
    refused = history.refused({"api": "v2", "web": "w1", "migrations": "m1"})
    assert [(r.image, r.release_id, r.state) for r in refused] == [
        ("api", release_id(pins("v2")), "failed")
    ]
    assert history.refused({"api": "v1", "web": "w1", "migrations": "m1"}) == []
    by_digest = history.refused({"api": "r/x@sha256:v3"})
    assert [(r.image, r.state) for r in by_digest] == [("api", "rolled-back")]


def test_a_ledger_from_before_attempts_reads_as_succeeded_releases() -> None:
    entry = {"id": "r1", "recorded_at": "2026-11-01T00:00:00Z", **pins("v0")}
    old = {"current": entry, "previous": None, "history": [entry]}
    history = history_from_deployment("prod", {"resources": [{"type": LEDGER, "outputs": old}]})
    [record] = history.releases
    assert (record.id, record.outcome, record.actor, record.duration_seconds) == (
        "r1", "succeeded", None, None)  # fmt: skip
    assert history.refused({"api": "v0"}) == []
    assert "r1  recorded 2026-11-01T00:00:00Z" in render_text(history).splitlines()


def test_the_renderings_show_when_who_pins_evidence_duration_outcome_and_reasons() -> None:
    history = history_from_deployment("prod", checkpoint(story()))
    text = render_text(history)
    assert f"{release_id(pins('v2'))}  attempted 2026-11-29T11:00:00Z  [failed]" in text
    assert "by alice, started 2026-11-29T12:00:00Z, took 90s" in text
    assert "promoted from staging release s1 (api)" in text
    assert f"rolls back release {release_id(pins('v3'))}" in text
    assert "gate: served v3 in 4s" in text
    markdown = render_markdown(history)
    assert markdown.startswith("# Deployment log: stack prod\n")
    assert f"## {release_id(pins('v2'))}: failed" in markdown
    assert f"## {release_id(pins('v3'))}: rolled-back" in markdown
    assert "| api | v3 | sha256:v3 | served v3 in 4s | - |" in markdown
    assert "- Who: alice" in markdown and "- Duration: 90s" in markdown
    rows = json.loads(render_json(history))
    assert [r["outcome"] for r in rows] == ["succeeded", "rolled-back", "failed", "succeeded"]
    assert rows[1]["services"]["api"] == {
        "pin": "v3", "digest": "sha256:v3", "deployed_at": "2026-11-29T12:01:30Z",
        "served_version": "v3", "gate_seconds": 4}  # fmt: skip
    assert rows[2]["marked"]["state"] == "failed" and rows[2]["marked"]["images"] == ["api"]


class CheckpointStack:
    def __init__(self, deployment: dict[str, Any]) -> None:
        self.name = "prod"
        self._deployment = deployment

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {}

    def export_stack(self) -> auto.Deployment:
        return auto.Deployment(version=3, deployment=self._deployment)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's Pulumi.yaml and production stack file, pinning api v2."""
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    doc = yaml.safe_load((PROJECT_ROOT / "Pulumi.production.yaml").read_text())
    release = doc["config"]["releasegate:release"]
    for name in release:
        if name not in ("allowMigrationsRollback", "promotedFrom"):
            release[name] = {"api": "v2", "migrations": "m1"}.get(name, "w1")
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], project: Path,
    deployment: dict[str, Any], *args: str,
) -> tuple[int, str, str]:  # fmt: skip
    monkeypatch.setattr(rollback_run, "open_stack", lambda *_: CheckpointStack(deployment))
    code = main(["check-pins", "--stack", "prod", "--cwd", str(project), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_pins_refuses_a_failed_pin_naming_it_and_its_release(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    monkeypatch.delenv("RELEASEGATE_OVERRIDE_REASON", raising=False)
    code, out, err = check(monkeypatch, capsys, project, checkpoint(story()))
    assert code == 2 and out == ""
    assert f"api v2 (sha256:v2) was in release {release_id(pins('v2'))}, failed at " in err
    assert "2026-11-29T11:00:00Z" in err and "never passed its gates" in err
    assert "--override-reason" in err and "w1" not in err


def test_check_pins_passes_with_a_reason_from_the_flag_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    monkeypatch.delenv("RELEASEGATE_OVERRIDE_REASON", raising=False)
    code, out, _ = check(monkeypatch, capsys, project, checkpoint(story()),
                         "--override-reason", "gate failed on a DNS blip")  # fmt: skip
    assert code == 0 and "'gate failed on a DNS blip'" in out and "api v2" in out
    monkeypatch.setenv("RELEASEGATE_OVERRIDE_REASON", "verified by hand")
    code, out, _ = check(monkeypatch, capsys, project, checkpoint(story()))
    assert code == 0 and "'verified by hand'" in out


def test_check_pins_passes_a_stack_with_no_record_or_good_pins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    monkeypatch.delenv("RELEASEGATE_OVERRIDE_REASON", raising=False)
    code, out, _ = check(monkeypatch, capsys, project, {"resources": []})
    assert code == 0 and "has no release record yet" in out
    good = Stack()
    good.up("v1", "2026-11-29T10:00:00Z")
    good.up("v2", "2026-11-29T11:00:00Z")
    code, out, _ = check(monkeypatch, capsys, project, checkpoint(good))
    assert code == 0 and "no pin of the stack file" in out


def test_releases_markdown_through_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rollback_run, "open_stack",
                        lambda *_: CheckpointStack(checkpoint(story())))  # fmt: skip
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert main(["releases", "--stack", "prod", "--format", "markdown"]) == 0
    assert f"## {release_id(pins('v2'))}: failed" in out.getvalue()


def test_a_failed_attempt_stays_failed_in_the_log_after_the_same_pins_pass_later() -> None:
    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z")
    stack.up("v2", "2026-11-29T11:00:00Z", passes=False)
    stack.up("v2", "2026-11-29T12:00:00Z", overrides=[{"kind": "failed-pin", "reason": "ok"}])
    history = history_from_deployment("prod", checkpoint(stack))
    assert [(r.pins["api"]["tag"], r.outcome) for r in history.releases] == [
        ("v2", "succeeded"), ("v2", "failed"), ("v1", "succeeded"),
    ]  # fmt: skip
    # It passed its gates since: no longer refused.
    assert history.refused({"api": "v2"}) == []
    assert history.releases[0].overrides[0]["reason"] == "ok"


@pytest.mark.parametrize("doc", ["README.md", "docs/rollback.md"])
def test_the_documented_releases_and_check_pins_commands_parse(doc: str) -> None:
    """Every `python -m infra releases|check-pins ...` line the docs show is a command the CLI
    takes (argparse exits on an unknown option or format)."""
    import re  # noqa: PLC0415
    import shlex  # noqa: PLC0415

    from infra.cli import build_parser  # noqa: PLC0415

    text = (PROJECT_ROOT / doc).read_text()
    lines = re.findall(r"python -m infra ((?:releases|check-pins) [^\n#`]*)", text)
    assert any(line.startswith("check-pins") for line in lines), doc
    examples = [line for line in lines if "[" not in line]  # not the usage synopses
    assert examples, doc
    for line in examples:
        args = build_parser().parse_args(shlex.split(line))
        assert args.stack, line
