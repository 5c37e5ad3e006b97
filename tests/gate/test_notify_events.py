"""Start, success and rollback messages as the release attempt and the ledger send them: which
kind a recorded release is, and what reaches the receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.gates.ledger import release_id
from components.gates.notify_events import announce_recorded, announce_start, recorded_kind
from tests.servers.receiver import Receiver, running_receiver

RELEASE = {
    "services": {"api": {"tag": "v2", "digest": "sha256:" + "2" * 64, "image": "r/api@x"}},
    "migrations": {"tag": "v2", "digest": "sha256:" + "3" * 64, "image": "r/m@y"},
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("unused-token") as running:
        yield running


def entry(rid: str, attempt: str | None = None, **more: Any) -> dict[str, Any]:
    return {"id": rid, **({"attempt": {"attempt_id": attempt}} if attempt else {}), **more}


def test_a_new_release_is_a_success() -> None:
    old = {"current": entry("a", "a-1"), "history": [entry("a", "a-1")]}
    assert recorded_kind({"current": entry("b", "b-1")}, old) == "success"
    assert recorded_kind({"current": entry("b", "b-1")}, None) == "success"


def test_going_back_to_a_release_in_the_history_or_with_rollback_of_is_a_rollback() -> None:
    old = {"current": entry("b", "b-1"), "history": [entry("b", "b-1"), entry("a", "a-1")]}
    assert recorded_kind({"current": entry("a", "a-2")}, old) == "rollback"
    assert recorded_kind({"current": entry("c", "c-1", rollback_of="b")}, old) == "rollback"
    # after a failed release the stack goes back to its current one: a new attempt of it
    assert recorded_kind({"current": entry("b", "b-2")}, old) == "rollback"


def test_the_same_attempt_recorded_again_sends_nothing() -> None:
    old = {"current": entry("b", "b-1"), "history": [entry("b", "b-1")]}
    assert recorded_kind({"current": entry("b", "b-1")}, old) is None
    assert recorded_kind({"current": entry("b")}, {"current": entry("b")}) is None


def test_the_attempt_announces_the_start_with_its_pins(receiver: Receiver) -> None:
    targets = {"webhook": {"url": receiver.url()}}
    props = {"stack": "staging", "release": RELEASE, "rollback_of": "abc",
             "notify": {"targets": targets, "stack": "staging"}}  # fmt: skip
    assert announce_start(props, release_id(RELEASE)) == []
    (post,) = receiver.posts()
    assert post.body["event"] == "start" and post.body["release"] == release_id(RELEASE)
    assert post.body["details"] == {"api": "v2", "migrations": "v2", "rolls back": "abc"}


def test_the_ledger_announces_a_rollback(receiver: Receiver) -> None:
    props = {"stack": "production", "release": RELEASE,
             "notify": {"targets": {"webhook": {"url": receiver.url()}}}}  # fmt: skip
    rid = release_id(RELEASE)
    old = {"current": entry("b", "b-1"), "history": [entry("b", "b-1"), entry(rid, "r-1")]}
    outs = {"current": entry(rid, "r-2", duration_seconds=42.4)}
    assert announce_recorded(props, outs, old) == []
    (post,) = receiver.posts()
    assert (post.body["event"], post.body["stack"]) == ("rollback", "production")
    assert post.body["details"]["duration"] == "42 s"
    assert post.body["rollback_command"] is None


def test_no_targets_no_message(receiver: Receiver) -> None:
    assert announce_start({"stack": "s", "release": RELEASE, "notify": None}, "r") == []
    outs = {"current": entry("x")}
    assert announce_recorded({"stack": "s", "release": RELEASE}, outs, None) == []
    assert receiver.requests == []
