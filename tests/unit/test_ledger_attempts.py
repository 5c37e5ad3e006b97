"""The ledger with release attempts: who and how long, failed and rolled-back marks, overrides,
and state written before any of this existed."""

from __future__ import annotations

from typing import Any

from components.gates.attempt import start_attempt
from components.gates.ledger import ReleaseLedgerProvider, record_release, release_id


def pin(tag: str) -> dict[str, Any]:
    return {"tag": tag, "digest": f"sha256:{tag}", "image": f"r/x@sha256:{tag}"}


def pins(api: str, web: str = "w1", migrations: str = "m1") -> dict[str, Any]:
    return {"services": {"api": pin(api), "web": pin(web)}, "migrations": pin(migrations)}


class Stack:
    """A stack's attempt and ledger states, driven like the engine would: an attempt for each
    `up` of new pins; the ledger only when the gates passed."""

    def __init__(self) -> None:
        self.attempt: dict[str, Any] | None = None
        self.ledger: dict[str, Any] | None = None

    def up(
        self, api: str, at: str, *, passes: bool = True, recorded: str | None = None, **extra: Any
    ) -> None:
        release = pins(api)
        attempt_props = {"stack": "prod", "release": release, "actor": "alice", **extra}
        self.attempt = start_attempt(attempt_props, self.attempt, keep=10, now=at)
        if not passes:
            return
        current = self.attempt["attempts"][0]
        entry = {
            **release,
            "services": {
                name: {**p, "gate": {"served_version": p["tag"], "elapsed_seconds": 4}}
                for name, p in release["services"].items()
            },
            "attempt": {
                "id": self.attempt["attempt_id"],
                "started_at": self.attempt["started_at"],
                **{k: current[k] for k in ("actor", "promoted_from", "overrides", "rollback_of")},
            },
        }
        self.ledger = record_release(
            entry, self.ledger, keep=5, now=recorded or at, attempts=self.attempt["attempts"]
        )


def test_a_recorded_release_says_who_when_how_long_and_that_it_succeeded() -> None:
    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z", recorded="2026-11-29T10:03:05Z")
    assert stack.ledger is not None
    current = stack.ledger["current"]
    assert current["outcome"] == "succeeded"
    assert current["actor"] == "alice"
    assert current["started_at"] == "2026-11-29T10:00:00Z"
    assert current["duration_seconds"] == 185
    assert current["attempt"]["id"] == stack.attempt["attempt_id"]  # type: ignore[index]
    assert stack.ledger["marked"] == {}


def test_an_attempt_never_recorded_is_marked_failed_with_only_the_images_it_changed() -> None:
    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z")
    stack.up("v2", "2026-11-29T11:00:00Z", passes=False)  # its gate failed: no ledger update
    stack.up("v3", "2026-11-29T12:00:00Z")
    assert stack.ledger is not None
    failed = release_id(pins("v2"))
    mark = stack.ledger["marked"][failed]
    assert mark["state"] == "failed" and mark["at"] == "2026-11-29T11:00:00Z"
    assert "alice" in mark["reason"] and "never passed its gates" in mark["reason"]
    # web and migrations ran before it too: only api came with the failed release.
    assert mark["images"] == ["api"]
    assert list(stack.ledger["marked"]) == [failed]


def test_a_rollback_marks_the_release_it_left_as_rolled_back() -> None:
    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z")
    stack.up("v2", "2026-11-29T11:00:00Z")
    left = release_id(pins("v2"))
    stack.up("v1", "2026-11-29T12:00:00Z", rollback_of=left)
    assert stack.ledger is not None
    mark = stack.ledger["marked"][left]
    assert mark["state"] == "rolled-back" and mark["by"] == release_id(pins("v1"))
    assert mark["images"] == ["api"] and mark["pins"]["services"]["api"]["tag"] == "v2"
    assert stack.ledger["current"]["rollback_of"] == left


def test_a_marked_release_that_later_passes_its_gates_is_no_longer_marked() -> None:
    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z")
    stack.up("v2", "2026-11-29T11:00:00Z", passes=False)
    stack.up("v3", "2026-11-29T12:00:00Z")
    assert release_id(pins("v2")) in stack.ledger["marked"]  # type: ignore[index]
    stack.up("v2", "2026-11-29T13:00:00Z")
    assert stack.ledger is not None
    assert release_id(pins("v2")) not in stack.ledger["marked"]


def test_a_failed_pin_override_is_kept_only_when_the_release_ships_a_refused_pin() -> None:
    reason = [{"kind": "failed-pin", "reason": "the gate failed on a DNS blip"}]
    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z")
    stack.up("v2", "2026-11-29T11:00:00Z", passes=False)
    stack.up("v2", "2026-11-29T12:00:00Z", overrides=reason)
    assert stack.ledger is not None
    [override] = stack.ledger["current"]["overrides"]
    assert override["reason"] == "the gate failed on a DNS blip"
    assert any("api v2 (sha256:v2)" in line for line in override["refused"])
    # The same reason left in the environment on a release that needs none is not recorded.
    stack.up("v3", "2026-11-29T13:00:00Z", overrides=reason)
    assert stack.ledger["current"]["overrides"] == []


def test_the_same_attempt_re_recorded_keeps_its_duration() -> None:
    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z", recorded="2026-11-29T10:01:00Z")
    assert stack.ledger is not None and stack.attempt is not None
    entry = {**pins("v1"), "attempt": {"id": stack.attempt["attempt_id"],
                                       "started_at": stack.attempt["started_at"]}}  # fmt: skip
    again = record_release(entry, stack.ledger, keep=5, now="2026-11-30T00:00:00Z")
    assert again["current"]["duration_seconds"] == 60


def test_state_from_before_attempts_reads_and_records_fine() -> None:
    old = {  # a ledger's outputs as the previous version wrote them: no attempt, no marked
        "current": {"id": "r1", "recorded_at": "2026-11-01T00:00:00Z", **pins("v0")},
        "previous": None,
        "history": [{"id": "r1", "recorded_at": "2026-11-01T00:00:00Z", **pins("v0")}],
    }
    provider = ReleaseLedgerProvider()
    news = {"stack": "prod", "release": pins("v1"), "keep": 5}
    assert provider.diff("id", {**old, "stack": "prod", "release": pins("v1"), "keep": 5},
                         news).changes is False  # fmt: skip
    outs = provider.update("id", {**old, "stack": "prod", "keep": 5}, news).outs
    assert outs is not None
    assert outs["marked"] == {}
    assert outs["current"]["outcome"] == "succeeded" and "actor" not in outs["current"]
    assert [h["id"] for h in outs["history"]] == [outs["current"]["id"], "r1"]


def test_a_new_attempt_of_the_same_pins_keeps_the_one_it_replaces_recorded() -> None:
    from components.gates.release_history import unrecorded_attempts  # noqa: PLC0415

    stack = Stack()
    stack.up("v1", "2026-11-29T10:00:00Z")
    first = stack.attempt["attempts"][0]  # type: ignore[index]
    # The same pins again with a new marker (a reason given): a new attempt, re-recorded in place.
    stack.up("v1", "2026-11-29T11:00:00Z", overrides=[{"kind": "freeze", "reason": "incident"}])
    assert stack.ledger is not None and stack.attempt is not None
    assert stack.ledger["current"]["earlier_attempts"] == [first["attempt_id"]]
    assert unrecorded_attempts(stack.attempt["attempts"], stack.ledger["history"]) == []
    assert stack.ledger["marked"] == {}
