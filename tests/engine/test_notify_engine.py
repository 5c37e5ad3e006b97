"""Notifications through the real Pulumi CLI: a release whose gate fails posts its start and
exactly one failure (the step, the rollback command, no secret) to a local receiver, although
`up` stops at the gate; with the receiver down, `up` fails with the gate's own error.

Runs on the engine tests' shared stack (tests/engine/conftest.py) and leaves it as it found it:
the same pins, the app serving them, and no notifications key.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.conftest import API_TAGS, STACK, Stack
from tests.servers.receiver import Receiver, refused_url, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("unused-token") as running:
        yield running


def _notify_to(stack: Stack, url: str) -> None:
    # As docs/notifications.md says: a webhook URL is set as a secret, by path.
    stack.project.set_config("notifications.webhook.url", url, secret=True, path=True)


def _restore(stack: Stack, pin: str) -> None:
    stack.project.set_pin("api", pin)
    stack.app.healthy(pin)
    stack.project.up()
    stack.project.pulumi("config", "rm", "notifications", "--stack", STACK)


@pytest.mark.timeout(420)
def test_a_failed_up_posts_the_start_and_one_failure(stack: Stack, receiver: Receiver) -> None:
    current = stack.project.pins()["api"]
    other = next(tag for tag in API_TAGS if tag != current)
    stack.app.healthy(current)  # the service keeps serving the current build
    _notify_to(stack, receiver.url("/hook"))
    try:
        stack.project.set_pin("api", other)
        result = stack.project.up(check=False)
        assert result.returncode != 0, result.output
        assert "health gate for 'api' failed" in result.output, result.output[-4000:]
        events = [post.body for post in receiver.posts("/hook")]
        assert [e["event"] for e in events] == ["start", "failure"], events
        start, failure = events
        assert start["stack"] == STACK and start["details"]["api"] == other
        assert failure["step"] == "health gate api"
        assert failure["rollback_command"] == f"python -m infra rollback --stack {STACK}"
        assert f"serves version '{current}'" in failure["summary"]
        for post in receiver.posts():
            assert stack.secret not in post.raw
        assert receiver.url("/hook") not in result.output  # the URL is a secret
    finally:
        _restore(stack, current)


@pytest.mark.timeout(420)
def test_a_receiver_that_is_down_never_hides_the_gates_error(stack: Stack) -> None:
    current = stack.project.pins()["api"]
    other = next(tag for tag in API_TAGS if tag != current)
    stack.app.healthy(current)
    _notify_to(stack, refused_url("/hook"))
    try:
        stack.project.set_pin("api", other)
        result = stack.project.up(check=False)
        assert result.returncode != 0, result.output
        assert f"serves version '{current}'" in result.output, result.output[-4000:]
        # The provider's warning (pulumi.log.warn) reaches the up's output, by kind only.
        assert "webhook notification (failure) not delivered" in result.output, result.output
    finally:
        _restore(stack, current)
