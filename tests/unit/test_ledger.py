"""The release ledger: current and previous good releases, per-service times and evidence."""

from __future__ import annotations

from typing import Any

import pytest

from components.gates.ledger import ReleaseLedgerProvider, record_release, release_id


def release(api: str, web: str, migrations: str = "m1", gate_at: str = "t") -> dict[str, Any]:
    def svc(tag: str) -> dict[str, Any]:
        return {
            "tag": tag,
            "digest": f"sha256:{tag}",
            "image": f"r/x@sha256:{tag}",
            "gate": {"checked_at": gate_at, "served_version": tag},
        }

    return {
        "services": {"api": svc(api), "web": svc(web)},
        "migrations": {"tag": migrations, "digest": f"sha256:{migrations}"},
    }


def test_first_release_is_current_with_no_previous() -> None:
    outs = record_release(release("v1", "v1"), None, keep=5, now="T1")
    assert outs["previous"] is None
    assert outs["current"]["services"]["api"]["deployed_at"] == "T1"
    assert [h["id"] for h in outs["history"]] == [outs["current"]["id"]]


def test_new_release_moves_current_to_previous_and_keeps_unchanged_service_times() -> None:
    first = record_release(release("v1", "v1"), None, keep=5, now="T1")
    second = record_release(release("v2", "v1", gate_at="t2"), first, keep=5, now="T2")
    assert second["previous"]["id"] == first["current"]["id"]
    assert second["current"]["services"]["api"]["deployed_at"] == "T2"
    # web did not change: it shipped at T1 and its gate evidence is the one from T1.
    assert second["current"]["services"]["web"]["deployed_at"] == "T1"
    assert second["current"]["services"]["web"]["gate"]["checked_at"] == "t"
    assert [h["id"] for h in second["history"]] == [second["current"]["id"], first["current"]["id"]]


def test_rerecording_the_same_release_keeps_previous() -> None:
    first = record_release(release("v1", "v1"), None, keep=5, now="T1")
    second = record_release(release("v2", "v2"), first, keep=5, now="T2")
    again = record_release(release("v2", "v2", gate_at="t3"), second, keep=5, now="T3")
    assert again["previous"]["id"] == first["current"]["id"]
    assert len(again["history"]) == 2
    assert again["current"]["recorded_at"] == "T2"


def test_history_is_bounded_newest_first() -> None:
    outs = None
    for n in range(6):
        outs = record_release(release(f"v{n}", "v0"), outs, keep=3, now=f"T{n}")
    assert outs is not None
    assert [h["services"]["api"]["tag"] for h in outs["history"]] == ["v5", "v4", "v3"]


def test_release_id_depends_on_digests_only() -> None:
    assert release_id(release("v1", "v1")) == release_id(release("v1", "v1", gate_at="other"))
    assert release_id(release("v1", "v1")) != release_id(release("v2", "v1"))


def test_provider_update_folds_into_previous_outputs() -> None:
    provider = ReleaseLedgerProvider()
    created = provider.create({"stack": "dev", "release": release("v1", "v1"), "keep": 5})
    assert created.outs is not None
    news = {"stack": "dev", "release": release("v2", "v1"), "keep": 5}
    assert provider.diff("id", created.outs, news).changes is True
    updated = provider.update("id", created.outs, news)
    assert updated.outs is not None
    assert updated.outs["previous"]["services"]["api"]["tag"] == "v1"
    assert updated.outs["current"]["services"]["api"]["tag"] == "v2"
    same = {"stack": "dev", "release": release("v2", "v1"), "keep": 5}
    assert provider.diff("id", {**updated.outs, "__provider": "x"}, same).changes is False


@pytest.mark.parametrize("keep", [1.0, 0.0, 1, -3.0])
def test_check_refuses_keeping_fewer_than_two_as_the_engine_sends_it(keep: float) -> None:
    """The engine hands numbers to providers as floats: 1.0 must be refused like 1."""
    result = ReleaseLedgerProvider().check({}, {"stack": "dev", "keep": keep})
    assert [(f.property, f.reason) for f in result.failures or []] == [
        ("keep", "keep at least 2 releases (current + previous)")
    ]


@pytest.mark.parametrize("keep", [2.5, "5", True, None])
def test_check_refuses_a_keep_that_is_not_a_whole_number(keep: object) -> None:
    result = ReleaseLedgerProvider().check({}, {"stack": "dev", "keep": keep})
    assert [(f.property, f.reason) for f in result.failures or []] == [
        ("keep", f"must be a whole number, got {keep!r}")
    ]


@pytest.mark.parametrize("keep", [2.0, 20.0, 5])
def test_check_accepts_a_whole_keep_of_two_or_more(keep: float) -> None:
    assert not ReleaseLedgerProvider().check({}, {"stack": "dev", "keep": keep}).failures


def test_the_cache_a_release_ran_against_is_recorded_but_not_part_of_its_id() -> None:
    cache = {"engine": "valkey", "engine_version": "8.0", "name": "releasegate-dev-cache"}
    with_cache = {**release("v1", "v1"), "cache": cache}
    outs = record_release(with_cache, None, keep=5, now="T1")
    assert outs["current"]["cache"] == cache
    assert outs["current"]["id"] == release_id(release("v1", "v1"))
    assert "cache" not in record_release(release("v1", "v1"), None, keep=5, now="T1")["current"]
