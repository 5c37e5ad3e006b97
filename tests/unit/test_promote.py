"""`python -m infra promote` (infra/promote.py, infra/stack_file.py): reading the source's last
release from its checkpoint, each refusal, the registry check and the stack-file edit, on
copies of the repository's stack files in a temporary folder."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from components.gates.oci import ManifestNotFoundError, RegistryError, ResolveRequest
from infra import cli, rollback_run
from infra.images import settings_of
from infra.plan import load_stack_config
from infra.promote import (
    SECRET_SIG,
    SUCCEEDED,
    Pin,
    PromotionRefusedError,
    SourceRelease,
    check_registry,
    last_release,
    plan_promotion,
    promote,
    registry_requests,
)
from infra.settings import Settings
from infra.stack_file import set_release, unified_diff

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
D_API, D_WEB, D_MIG = ("sha256:" + c * 64 for c in "abc")
ECR = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"


def _pin(tag: str, digest: str) -> dict[str, str]:
    return {"tag": tag, "digest": digest, "image": f"{ECR}/releasegate/api@{digest}"}


ENTRY = {
    "id": "0a1b2c3d4e5f",
    "recorded_at": "2026-11-29T10:00:00Z",
    "services": {"api": _pin("v1.5.0", D_API), "web": _pin("v1.5.0", D_WEB)},
    "migrations": _pin("v1.5.0", D_MIG),
}


def _deployment(
    current: Mapping[str, Any] | None = ENTRY,
    attempts: Sequence[Mapping[str, Any]] | None = None,
    marked: Mapping[str, Any] | None = None,
    secret: bool = False,
) -> dict[str, Any]:
    ledger: dict[str, Any] = {"current": current, "history": [current] if current else [],
                              "marked": marked or {}}  # fmt: skip
    resources: list[dict[str, Any]] = [
        {"type": "pulumi:pulumi:Stack", "outputs": {}},
        {"type": "pulumi-python:dynamic/gates:ReleaseLedger",
         "outputs": {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270",
                     "plaintext": json.dumps(ledger)} if secret else ledger},
    ]  # fmt: skip
    if attempts is not None:
        resources.append({"type": "pulumi-python:dynamic/gates:ReleaseAttempt",
                          "outputs": {"attempts": attempts}})  # fmt: skip
    return {"resources": resources}


def _attempt(release_id: str, attempt_id: str) -> dict[str, Any]:
    return {
        "id": release_id, "attempt_id": attempt_id, "started_at": "2026-11-29T11:00:00Z",
        "actor": "octocat", "pins": {k: ENTRY[k] for k in ("services", "migrations")},
    }  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Pulumi.yaml and the production and staging stack files, copied."""
    for name in ("Pulumi.yaml", "Pulumi.production.yaml", "Pulumi.staging.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def _target(project: Path, soak: int | None = None) -> Settings:
    path = project / "Pulumi.production.yaml"
    if soak is not None:
        path.write_text(path.read_text() + f"  releasegate:promotion: {{minSoakMinutes: {soak}}}\n")
    return settings_of(load_stack_config("production", path, root=project))


def _source(recorded: datetime = NOW - timedelta(hours=2)) -> SourceRelease:
    release = last_release(_deployment())
    assert release is not None
    return SourceRelease(release.id, SUCCEEDED, release.pins, recorded_at=recorded)


# --- the source's last release -------------------------------------------------------------


def test_the_last_release_is_the_ledger_current_when_the_newest_attempt_was_recorded() -> None:
    current = {**ENTRY, "attempt": {"id": "0a1b2c3d4e5f-20261129T100000Z"}}
    release = last_release(_deployment(current, [_attempt("0a1b2c3d4e5f",
                                                          "0a1b2c3d4e5f-20261129T100000Z")]))
    assert release is not None
    assert (release.id, release.outcome) == ("0a1b2c3d4e5f", "succeeded")
    assert release.pins["api"] == Pin("v1.5.0", D_API)
    assert release.pins["migrations"] == Pin("v1.5.0", D_MIG)
    assert release.recorded_at == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def test_an_attempt_the_ledger_never_recorded_is_a_failed_last_release() -> None:
    current = {**ENTRY, "attempt": {"id": "0a1b2c3d4e5f-20261129T100000Z"}}
    attempts = [_attempt("99aa99aa99aa", "99aa99aa99aa-20261129T110000Z"),
                _attempt("0a1b2c3d4e5f", "0a1b2c3d4e5f-20261129T100000Z")]  # fmt: skip
    release = last_release(_deployment(current, attempts))
    assert release is not None
    assert (release.id, release.outcome, release.actor) == ("99aa99aa99aa", "failed", "octocat")


def test_a_rolled_back_current_release_is_not_good_and_secrets_in_state_are_read() -> None:
    marked = {"0a1b2c3d4e5f": {"state": "rolled-back", "reason": "rolled back to 1234 by ann"}}
    release = last_release(_deployment(marked=marked, secret=True))
    assert release is not None
    assert (release.outcome, release.reason) == ("rolled-back", "rolled back to 1234 by ann")
    assert last_release(_deployment(current=None)) is None


# --- refusals ------------------------------------------------------------------------------


def test_refuses_a_failed_last_release_naming_it(project: Path) -> None:
    failed = SourceRelease("99aa99aa99aa", "failed", _source().pins, started_at="2026-11-29T11:00Z",
                           actor="octocat", reason="the ledger never recorded it")  # fmt: skip
    with pytest.raises(PromotionRefusedError) as caught:
        plan_promotion("staging", failed, _target(project), "all", NOW)
    message = str(caught.value)
    assert "staging's last release 99aa99aa99aa" in message
    assert "by octocat failed: the ledger never recorded it" in message
    with pytest.raises(PromotionRefusedError, match="has no release yet"):
        plan_promotion("staging", None, _target(project), "all", NOW)


def test_refuses_a_release_younger_than_min_soak_minutes_with_the_minutes_left(
    project: Path,
) -> None:
    young = _source(recorded=NOW - timedelta(minutes=12, seconds=30))
    with pytest.raises(PromotionRefusedError) as caught:
        plan_promotion("staging", young, _target(project), "all", NOW)  # default 30 minutes
    assert "has soaked 12 of the 30 minutes production requires" in str(caught.value)
    assert "(promotion.minSoakMinutes): 18 minutes remain" in str(caught.value)
    target = _target(project, soak=10)
    assert plan_promotion("staging", young, target, "all", NOW).pins  # soaked long enough


def test_a_soak_of_zero_promotes_at_once(project: Path) -> None:
    fresh = _source(recorded=NOW)
    assert set(plan_promotion("staging", fresh, _target(project, soak=0), "all", NOW).pins) == {
        "api", "web", "migrations"
    }  # fmt: skip


def test_one_service_promotes_it_and_the_migrations_image(project: Path) -> None:
    plan = plan_promotion("staging", _source(), _target(project), "web", NOW)
    assert dict(plan.pins) == {"web": Pin("v1.5.0", D_WEB), "migrations": Pin("v1.5.0", D_MIG)}
    assert plan.promoted_from() == {"stack": "staging", "release": "0a1b2c3d4e5f",
                                    "pins": {"web": D_WEB, "migrations": D_MIG}}  # fmt: skip
    with pytest.raises(PromotionRefusedError, match="--service 'worker': production has no such"):
        plan_promotion("staging", _source(), _target(project), "worker", NOW)


def test_refuses_a_digest_absent_from_the_target_registry(project: Path) -> None:
    target = _target(project)
    plan = plan_promotion("staging", _source(), target, "all", NOW)
    push_to = {name: f"{ECR}/releasegate/api" for name in ("api", "web", "migrations")}
    requests = registry_requests(target, push_to, plan.pins)
    asked: list[ResolveRequest] = []

    def resolve(request: ResolveRequest) -> None:
        asked.append(request)
        if request.reference.digest == D_WEB:
            raise ManifestNotFoundError("image not found in ECR")

    with pytest.raises(PromotionRefusedError) as caught:
        check_registry(target, requests, resolve)
    message = str(caught.value)
    assert f"not in production's registry: web ({ECR}/releasegate/api@{D_WEB})" in message
    assert "configure ECR replication" in message
    assert {r.reference.digest for r in asked} == {D_API, D_WEB, D_MIG}
    assert all(r.registry == ECR and not r.insecure for r in asked)


def test_a_registry_that_cannot_be_asked_is_refused_naming_the_credentials(project: Path) -> None:
    target = _target(project)
    plan = plan_promotion("staging", _source(), target, "api", NOW)
    requests = registry_requests(target, {"api": f"{ECR}/releasegate/api",
                                          "migrations": f"{ECR}/releasegate/api"}, plan.pins)

    def resolve(_request: ResolveRequest) -> None:
        raise RegistryError("cannot reach ECR in eu-west-1: Unable to locate credentials")

    with pytest.raises(PromotionRefusedError) as caught:
        check_registry(target, requests, resolve)
    assert "cannot check production's registry" in str(caught.value)
    assert "AWS credentials for the target account with ecr:DescribeImages" in str(caught.value)


# --- the stack file ------------------------------------------------------------------------


def test_the_edit_writes_tag_at_digest_and_promoted_from_and_leaves_the_rest(
    project: Path,
) -> None:
    path = project / "Pulumi.production.yaml"
    before = path.read_text()
    plan = plan_promotion("staging", _source(), _target(project), "all", NOW)
    from infra.promote import stack_file_edit  # noqa: PLC0415

    after = stack_file_edit(before, plan)
    old, new = yaml.safe_load(before)["config"], yaml.safe_load(after)["config"]
    assert new.pop("releasegate:release") == {
        "api": f"v1.5.0@{D_API}", "web": f"v1.5.0@{D_WEB}", "migrations": f"v1.5.0@{D_MIG}",
        "promotedFrom": {"stack": "staging", "release": "0a1b2c3d4e5f",
                         "pins": {"api": D_API, "web": D_WEB, "migrations": D_MIG}},
    }  # fmt: skip
    old.pop("releasegate:release")
    assert new == old
    # Only the release block's lines change; the comments at the top stay.
    diff = unified_diff(before, after, "Pulumi.production.yaml")
    changed = [line for line in diff.splitlines()[2:] if line[:1] in "+-"]
    assert [line for line in changed if line.startswith("-")] == [
        "-    api: v1.4.2", "-    web: v1.4.2", "-    migrations: v1.4.2",
    ]  # fmt: skip
    assert after.startswith(before.split("config:")[0])
    # What it wrote validates, and the loader reads promotedFrom back.
    path.write_text(after)
    settings = settings_of(load_stack_config("production", path, root=project))
    promoted = settings.pinned_release.promoted_from
    assert promoted is not None and promoted.pins["web"] == D_WEB
    assert settings.pinned_release.pins["api"].digest == D_API


def test_a_pin_keeps_its_comment_and_a_second_promotion_replaces_promoted_from() -> None:
    text = ("# top\nconfig:\n  releasegate:cloud: local\n  releasegate:release:\n"
            "    api: v1  # the api\n    migrations: m1\n    promotedFrom:\n      stack: old\n"
            "      release: r0\n      pins: {api: x}\n"
            "  releasegate:ledgerHistory: 5\n")  # fmt: skip
    after = set_release(text, "releasegate:release", {"api": f"v2@{D_API}"},
                        {"promotedFrom": {"stack": "staging", "release": "r1",
                                          "pins": {"api": D_API}}})  # fmt: skip
    assert f"    api: v2@{D_API}  # the api\n" in after
    assert "old" not in after and "r0" not in after
    assert after.endswith("  releasegate:ledgerHistory: 5\n")
    assert yaml.safe_load(after)["config"]["releasegate:release"]["migrations"] == "m1"


# --- the command ---------------------------------------------------------------------------


class FakeStack:
    def __init__(self, deployment: dict[str, Any], outputs: dict[str, Any]) -> None:
        self._deployment = deployment
        self._outputs = outputs

    def export_stack(self) -> SimpleNamespace:
        return SimpleNamespace(deployment=self._deployment)

    def outputs(self) -> dict[str, SimpleNamespace]:
        return {k: SimpleNamespace(value=v) for k, v in self._outputs.items()}


def _stacks(monkeypatch: pytest.MonkeyPatch, deployment: dict[str, Any]) -> None:
    push_to = {name: f"{ECR}/releasegate/api" for name in ("api", "web", "migrations")}
    stacks = {"staging": FakeStack(deployment, {}),
              "production": FakeStack({"resources": []}, {"pushTo": push_to})}  # fmt: skip
    monkeypatch.setattr(rollback_run, "open_stack", lambda name, _cwd: stacks[name])


def test_promote_shows_the_diff_asks_and_writes_only_when_confirmed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stacks(monkeypatch, _deployment())
    path = project / "Pulumi.production.yaml"
    before = path.read_text()
    out = io.StringIO()
    answer = io.StringIO("n\n")
    answer.isatty = lambda: True  # type: ignore[method-assign]
    code = promote("staging", "production", project, "all", False, out=out, stdin=answer,
                   resolve=lambda _r: None, now=NOW)  # fmt: skip
    assert code == 1 and path.read_text() == before
    assert f"+    api: v1.5.0@{D_API}" in out.getvalue()
    assert "migrations are forward-only" in out.getvalue()
    out = io.StringIO()
    assert promote("staging", "production", project, "all", True, out=out,
                   resolve=lambda _r: None, now=NOW) == 0  # fmt: skip
    assert f"api: v1.5.0@{D_API}" in path.read_text()
    assert "git add Pulumi.production.yaml && git commit" in out.getvalue()
    assert "never commits or deploys" in out.getvalue()
    out = io.StringIO()
    assert promote("staging", "production", project, "all", True, out=out,
                   resolve=lambda _r: None, now=NOW) == 0  # fmt: skip
    assert "nothing to promote" in out.getvalue()


def test_the_cli_exits_2_naming_the_refusal_and_changes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    current = {**ENTRY, "recorded_at": datetime.now(UTC).isoformat()}
    _stacks(monkeypatch, _deployment(current))
    before = (project / "Pulumi.production.yaml").read_text()
    code = cli.main(["promote", "--from", "staging", "--to", "production", "--yes",
                     "--cwd", str(project)])  # fmt: skip
    assert code == 2
    assert "minutes remain" in capsys.readouterr().err
    assert (project / "Pulumi.production.yaml").read_text() == before
    assert cli.main(["promote", "--to", "production", "--cwd", str(project)]) == 2
    assert "pass --from, or set releasegate:promotion.from" in capsys.readouterr().err


@pytest.mark.parametrize("doc", ["README.md", "docs/promotion.md"])
def test_every_promote_command_in_the_docs_parses(doc: str) -> None:
    """The documented commands are ones the CLI takes (flags renamed later would fail here)."""
    import shlex  # noqa: PLC0415

    lines = [line.split("#")[0] for line in (REPO / doc).read_text().splitlines()
             if "-m infra promote" in line and "`" not in line.split("-m infra promote")[0]]
    assert lines, f"{doc} shows no promote command"
    for line in lines:
        argv = shlex.split(line.split("-m infra ", 1)[1])
        args = cli.build_parser().parse_args(argv)
        assert args.command == "promote" and args.to, line
