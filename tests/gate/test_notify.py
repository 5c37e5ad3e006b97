"""Release notifications against a local HTTP receiver: each kind's payload, a receiver that is
down or slow (a warning, within the time bound), and no secret in any message or warning."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from components.gates import notify as notify_module
from components.gates.notify import notify, send
from components.gates.notify_payloads import SCHEMA, Event
from tests.servers.receiver import Receiver, refused_url, running_receiver

SECRET = "hunter2-db-password-9f8e"
TOKEN = "ghs_receiver-token-0123456789"


@pytest.fixture
def receiver() -> Any:
    with running_receiver(TOKEN) as running:
        yield running


def failure(summary: str = "health gate failed: served v1, expected v2") -> Event:
    return Event(
        kind="failure", stack="production", release="abc123def456", step="health gate api",
        summary=summary, details={"api": "v2"},
    )  # fmt: skip


def github_target(receiver: Receiver, **overrides: Any) -> dict[str, Any]:
    return {
        "repository": "acme/shop",
        "token": TOKEN,
        "environment": "production",
        "ref": "0123abc",
        "api_url": receiver.url(""),
        **overrides,
    }


def test_slack_gets_text_and_blocks(receiver: Receiver) -> None:
    assert notify({"slack": {"webhook_url": receiver.url("/slack")}}, failure()) == []
    (post,) = receiver.posts("/slack")
    assert post.headers["content-type"] == "application/json"
    body = post.body
    assert "Release FAILED: production" in body["text"]
    assert "python -m infra rollback --stack production" in body["text"]
    assert all(block["type"] == "section" for block in body["blocks"])
    texts = json.dumps(body["blocks"])
    assert "health gate api" in texts and "served v1, expected v2" in texts


def test_teams_gets_an_adaptive_card_message_the_workflows_trigger_accepts(
    receiver: Receiver,
) -> None:
    assert notify({"teams": {"webhook_url": receiver.url("/teams")}}, failure()) == []
    (post,) = receiver.posts("/teams")
    assert post.body["type"] == "message"
    (attachment,) = post.body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"] == "Release FAILED: production"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "Step", "value": "health gate api"} in facts
    assert "Roll back: python -m infra rollback --stack production" in json.dumps(card)


def test_the_generic_webhook_gets_the_documented_body_and_its_headers(
    receiver: Receiver,
) -> None:
    target = {"webhook": {"url": receiver.url("/hook"), "headers": {"X-Api-Key": SECRET}}}
    assert notify(target, failure()) == []
    (post,) = receiver.posts("/hook")
    assert post.headers["x-api-key"] == SECRET
    body = post.body
    assert body["schema"] == SCHEMA
    assert body["event"] == "failure"
    assert (body["stack"], body["release"], body["step"]) == (
        "production", "abc123def456", "health gate api"
    )
    assert body["summary"] == "health gate failed: served v1, expected v2"
    assert body["rollback_command"] == "python -m infra rollback --stack production"
    assert body["details"] == {"api": "v2"}
    assert body["at"].endswith("Z")


def test_success_and_start_carry_no_rollback_command(receiver: Receiver) -> None:
    event = Event(kind="success", stack="staging", release="r1")
    assert notify({"webhook": {"url": receiver.url("/hook")}}, event) == []
    (post,) = receiver.posts("/hook")
    assert post.body["event"] == "success"
    assert post.body["rollback_command"] is None and post.body["step"] is None


def test_github_start_creates_a_deployment_and_later_events_add_statuses(
    receiver: Receiver,
) -> None:
    targets = {"github": github_target(receiver)}
    start = Event(kind="start", stack="production", release="abc123def456")
    assert notify(targets, start) == []
    assert notify(targets, failure()) == []
    (deployment,) = receiver.deployments
    assert deployment["ref"] == "0123abc" and deployment["environment"] == "production"
    assert deployment["auto_merge"] is False and deployment["required_contexts"] == []
    assert deployment["payload"] == {"releasegate_release": "abc123def456", "stack": "production"}
    states = [s["state"] for s in deployment["statuses"]]
    assert states == ["in_progress", "failure"]
    assert all(len(s["description"]) <= 140 for s in deployment["statuses"])
    for request in receiver.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"


def test_github_a_failing_step_updates_the_newest_releasegate_deployment(
    receiver: Receiver,
) -> None:
    targets = {"github": github_target(receiver)}
    assert notify(targets, Event(kind="start", stack="production", release="r1")) == []
    step_failed = Event(kind="failure", stack="production", step="migration v2", summary="x")
    assert notify(targets, step_failed) == []  # a step knows no release id
    (deployment,) = receiver.deployments
    assert [s["state"] for s in deployment["statuses"]] == ["in_progress", "failure"]


def test_github_success_without_a_start_creates_its_deployment(receiver: Receiver) -> None:
    event = Event(kind="rollback", stack="production", release="r2")
    assert notify({"github": github_target(receiver)}, event) == []
    (deployment,) = receiver.deployments
    assert [s["state"] for s in deployment["statuses"]] == ["success"]


def test_a_refused_github_token_is_a_warning_without_the_token(receiver: Receiver) -> None:
    target = {"github": github_target(receiver, token="ghs_wrong-token-abcdefghijkl")}
    warnings = notify(target, failure())
    assert warnings == ["github notification (failure) not delivered: answered HTTP 401"]
    assert receiver.deployments == []


def test_a_receiver_that_is_down_warns_quickly_without_its_url() -> None:
    url = refused_url("/T000/B000/very-secret-path")
    started = time.monotonic()
    warnings = notify({"slack": {"webhook_url": url}}, failure())
    assert time.monotonic() - started < 2
    assert warnings == ["slack notification (failure) not delivered: could not be reached"]
    assert "very-secret-path" not in json.dumps(warnings)


def test_a_slow_receiver_warns_within_the_bound_and_the_others_still_get_it(
    receiver: Receiver,
) -> None:
    with running_receiver(TOKEN) as slow:
        slow.slow(notify_module.TARGET_SECONDS + 3)
        targets = {"slack": {"webhook_url": slow.url("/slow")},
                   "webhook": {"url": receiver.url("/hook")}}  # fmt: skip
        started = time.monotonic()
        warnings = notify(targets, failure())
        elapsed = time.monotonic() - started
    assert elapsed < notify_module.TARGET_SECONDS + 1.0
    assert len(warnings) == 1 and warnings[0].startswith("slack notification (failure) not")
    assert "127.0.0.1" not in warnings[0]
    assert len(receiver.posts("/hook")) == 1
    assert len(slow.posts("/slow")) == 1  # no retry: the budget was spent


def test_a_5xx_is_retried_once_then_warns(receiver: Receiver) -> None:
    receiver.answer(503)
    warnings = notify({"teams": {"webhook_url": receiver.url("/teams")}}, failure())
    assert warnings == ["teams notification (failure) not delivered: answered HTTP 503"]
    assert len(receiver.posts("/teams")) == 2


def test_no_secret_reaches_any_message(receiver: Receiver) -> None:
    url = receiver.url("/hook")
    summary = f"migration failed: password={SECRET} DATABASE_URL=postgres://app:{SECRET}@db/app"
    targets = {
        "slack": {"webhook_url": receiver.url("/slack")},
        "teams": {"webhook_url": receiver.url("/teams")},
        "webhook": {"url": url},
    }
    event = Event(kind="failure", stack="production", release="r", step="migration",
                  summary=summary + f" posted to {url}", details={"note": SECRET})  # fmt: skip
    assert notify(targets, event, known_secrets=[SECRET]) == []
    assert len(receiver.posts()) == 3
    for post in receiver.posts():
        assert SECRET not in post.raw
        assert url not in post.raw  # a webhook URL is a credential too
        assert "[redacted]" in post.raw


def test_an_incomplete_target_warns_by_kind_and_others_are_sent(receiver: Receiver) -> None:
    targets = {"github": {"repository": "acme/shop", "token": TOKEN, "environment": "prod"},
               "webhook": {"url": receiver.url("/hook")}}  # fmt: skip
    warnings = notify(targets, failure())
    assert warnings == ["github notification not sent: no ref (see docs/notifications.md)"]
    assert len(receiver.posts("/hook")) == 1


def test_send_reads_the_provider_input_and_does_nothing_without_targets(
    receiver: Receiver,
) -> None:
    assert send(None, "failure", step="migration") == []
    assert receiver.requests == []
    notify_input = {"targets": {"webhook": {"url": receiver.url("/hook")}},
                    "stack": "staging", "release": "r9"}  # fmt: skip
    assert send(notify_input, "start", known_secrets=[SECRET]) == []
    (post,) = receiver.posts("/hook")
    assert (post.body["event"], post.body["stack"], post.body["release"]) == (
        "start", "staging", "r9"
    )
