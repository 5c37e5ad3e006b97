"""The release attempt: what starts a new attempt, what never does, and its bounded record."""

from __future__ import annotations

from typing import Any

import pytest

from components.gates.attempt import ReleaseAttemptProvider, attempt_id, start_attempt
from components.gates.ledger import release_id
from infra import release_env


def pins(api: str, migrations: str = "m1") -> dict[str, Any]:
    def pin(tag: str) -> dict[str, Any]:
        return {"tag": tag, "digest": f"sha256:{tag}", "image": f"r/x@sha256:{tag}"}

    return {"services": {"api": pin(api), "web": pin("w1")}, "migrations": pin(migrations)}


def props(api: str = "v1", **extra: Any) -> dict[str, Any]:
    return {"stack": "prod", "release": pins(api), "actor": "alice", "keep": 3, **extra}


def test_create_records_who_when_and_the_pins_under_the_ledger_release_id() -> None:
    outs = ReleaseAttemptProvider().create(props()).outs
    assert outs is not None
    [entry] = outs["attempts"]
    assert entry["id"] == release_id(pins("v1"))
    assert entry["attempt_id"] == outs["attempt_id"]
    assert outs["attempt_id"].startswith(release_id(pins("v1")) + "-")
    assert entry["actor"] == "alice" and entry["started_at"] == outs["started_at"]
    assert entry["pins"]["services"]["api"] == pins("v1")["services"]["api"]


def test_history_is_newest_first_and_bounded() -> None:
    outs: dict[str, Any] | None = None
    for n in range(5):
        outs = start_attempt(props(f"v{n}"), outs, keep=3, now=f"2026-01-0{n + 1}T00:00:00Z")
    assert outs is not None
    assert [a["pins"]["services"]["api"]["tag"] for a in outs["attempts"]] == ["v4", "v3", "v2"]


def test_attempt_ids_differ_per_try_of_the_same_pins() -> None:
    first = attempt_id(pins("v1"), "2026-01-01T00:00:00Z")
    again = attempt_id(pins("v1"), "2026-01-01T00:05:00Z")
    assert first != again and first.split("-")[0] == again.split("-")[0]


def diff(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    return bool(ReleaseAttemptProvider().diff("id", olds, news).changes)


def test_another_actor_alone_is_no_change() -> None:
    created = ReleaseAttemptProvider().create(props()).outs
    assert created is not None
    assert diff({**created, "__provider": "x"}, props(actor="bob")) is False


def test_new_pins_are_a_new_attempt() -> None:
    created = ReleaseAttemptProvider().create(props()).outs
    assert created is not None
    assert diff(created, props("v2")) is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("overrides", [{"kind": "failed-pin", "reason": "hotfix verified by hand"}]),
        ("rollback_of", "abc123def456"),
        ("promoted_from", {"stack": "staging", "release": "r1", "pins": {"api": "sha256:v1"}}),
    ],
)
def test_a_new_marker_starts_an_attempt_and_dropping_it_does_not(key: str, value: Any) -> None:
    provider = ReleaseAttemptProvider()
    created = provider.create(props()).outs
    assert created is not None
    assert diff(created, props(**{key: value})) is True
    marked = provider.update("id", created, props(**{key: value})).outs
    assert marked is not None and marked["attempts"][0][key] == value
    # The next deploy without it (the env var unset again) is not a new attempt.
    assert diff(marked, props()) is False
    assert diff(marked, props(**{key: value})) is False


def test_an_override_without_a_reason_is_refused_at_check() -> None:
    failures = ReleaseAttemptProvider().check({}, props(overrides=[{"kind": "x", "reason": " "}]))
    assert [f.property for f in failures.failures] == ["overrides"]
    assert not ReleaseAttemptProvider().check({}, props(overrides=[])).failures


def test_actor_is_the_ci_actor_else_the_local_user(monkeypatch: pytest.MonkeyPatch) -> None:
    assert release_env.actor({"GITHUB_ACTOR": "octocat"}) == "octocat"
    monkeypatch.setattr("getpass.getuser", lambda: "local-dev")
    assert release_env.actor({"GITHUB_ACTOR": " "}) == "local-dev"
    assert release_env.actor({}) == "local-dev"


def test_override_reason_and_rollback_of_come_from_the_environment() -> None:
    env = {"RELEASEGATE_OVERRIDE_REASON": "  fixed by config  ", "RELEASEGATE_ROLLBACK_OF": "r9"}
    assert release_env.overrides(environ=env) == [
        {"kind": "failed-pin", "reason": "fixed by config"}
    ]
    assert release_env.rollback_of(env) == "r9"
    assert release_env.overrides(environ={"RELEASEGATE_OVERRIDE_REASON": ""}) == []
    assert release_env.rollback_of({}) is None
