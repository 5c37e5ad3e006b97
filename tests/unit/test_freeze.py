"""Deploy freezes (issue 13, part 13-freeze): what a window means (absolute, weekly, across
midnight, on a DST day, in a time zone), the FreezeGuard's check (a change of pins inside a
window is refused naming it; no change, a first deploy or an override passes; the override
is reported for the ledger), `releasegate:freeze` config errors, the program's guard, the
offline plan's note and `rollback --reason`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from components.freeze_window import FreezeWindow, WeeklyRule
from components.gates.freeze import (
    FreezeGuardProvider,
    changed_pins,
    freeze_override,
)
from infra.cli import build_parser
from infra.config import load_settings
from infra.plan import apply_sets, diff_plans, evaluate, load_stack_config
from infra.plan_freeze import freeze_notes
from infra.rollback import RollbackError
from infra.rollback_freeze import check_freeze
from infra.settings import ConfigError


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def weekly(days: list[str], start: str, end: str, zone: str = "UTC") -> FreezeWindow:
    return FreezeWindow.from_input(
        {"reason": "r", "weekly": {"days": days, "from": start, "to": end}, "time_zone": zone}
    )


YEAR_END = FreezeWindow(
    reason="year-end freeze",
    start=at("2026-12-20T00:00:00Z"),
    end=at("2027-01-04T00:00:00+01:00"),
)


# -- windows ----------------------------------------------------------------------------------
def test_an_absolute_window_includes_its_start_and_excludes_its_end() -> None:
    assert YEAR_END.active_at(at("2026-12-20T00:00:00Z"))
    assert YEAR_END.active_at(at("2027-01-03T22:59:59Z"))
    # end is 2027-01-04T00:00+01:00, i.e. 2027-01-03T23:00Z: offsets are honoured
    assert not YEAR_END.active_at(at("2027-01-03T23:00:00Z"))
    assert not YEAR_END.active_at(at("2026-12-19T23:59:59Z"))
    assert YEAR_END.active_until(at("2026-12-24T12:00:00Z")) == at("2027-01-03T23:00:00Z")


def test_a_naive_time_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        YEAR_END.active_at(datetime(2026, 12, 24, 12, 0))  # a naive time: the point


def test_a_weekly_window_on_its_day_and_hours() -> None:
    friday = weekly(["fri"], "16:00", "24:00")
    assert friday.active_at(at("2026-12-04T16:00:00Z"))  # a Friday
    assert friday.active_at(at("2026-12-04T23:59:59Z"))
    assert not friday.active_at(at("2026-12-05T00:00:00Z"))  # 24:00 is Saturday's midnight
    assert not friday.active_at(at("2026-12-04T15:59:59Z"))
    assert not friday.active_at(at("2026-12-03T17:00:00Z"))  # a Thursday


def test_a_weekly_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    nights = weekly(["fri"], "22:00", "06:00")
    assert nights.weekly == WeeklyRule(("fri",), 22 * 60, 6 * 60)
    assert nights.weekly is not None and nights.weekly.crosses_midnight
    assert nights.active_at(at("2026-12-04T22:00:00Z"))  # Friday night
    assert nights.active_at(at("2026-12-05T05:59:00Z"))  # Saturday morning, same night
    assert not nights.active_at(at("2026-12-05T06:00:00Z"))
    assert not nights.active_at(at("2026-12-05T22:30:00Z"))  # Saturday night: not a day of it
    assert not nights.active_at(at("2026-12-04T05:00:00Z"))  # Friday morning: Thursday's night
    assert nights.active_until(at("2026-12-04T23:00:00Z")) == at("2026-12-05T06:00:00Z")


def test_back_to_back_occurrences_end_at_the_last_one() -> None:
    weekend = weekly(["fri", "sat", "sun"], "00:00", "24:00")
    assert weekend.active_until(at("2026-12-04T10:00:00Z")) == at("2026-12-07T00:00:00Z")


def test_the_time_zone_decides_the_local_hours() -> None:
    tokyo = weekly(["mon"], "09:00", "17:00", "Asia/Tokyo")
    utc = weekly(["mon"], "09:00", "17:00")
    moment = at("2026-12-07T01:00:00Z")  # Monday 10:00 in Tokyo (UTC+9), 01:00 in UTC
    assert tokyo.active_at(moment) and not utc.active_at(moment)
    assert tokyo.active_until(moment) == at("2026-12-07T08:00:00Z")
    # Sunday 23:00 UTC is already Monday 08:00 in Tokyo: not yet
    assert not tokyo.active_at(at("2026-12-06T23:00:00Z"))
    assert tokyo.active_at(at("2026-12-07T00:00:00Z"))


def test_a_dst_day_keeps_the_wall_clock_hours() -> None:
    """Europe/Berlin springs forward on 2026-03-29 at 02:00 CET (to 03:00 CEST): a Sunday
    window 01:00 to 04:00 local lasts two real hours, 00:00Z to 02:00Z. A fixed +01:00
    offset would end it at 03:00Z."""
    sunday = weekly(["sun"], "01:00", "04:00", "Europe/Berlin")
    assert sunday.active_at(at("2026-03-29T00:00:00Z"))  # 01:00 CET
    assert sunday.active_at(at("2026-03-29T01:30:00Z"))  # 03:30 CEST
    assert not sunday.active_at(at("2026-03-29T02:00:00Z"))  # 04:00 CEST: over
    assert sunday.active_until(at("2026-03-29T00:30:00Z")) == at("2026-03-29T02:00:00Z")
    # A week earlier (CET all day) the same window is three hours long.
    assert sunday.active_at(at("2026-03-22T02:30:00Z"))


def test_a_dst_fall_back_day_and_a_time_in_the_skipped_hour() -> None:
    """America/New_York falls back on 2026-11-01 at 02:00 EDT (to 01:00 EST): a Sunday window
    00:00 to 03:00 lasts four real hours (04:00Z to 08:00Z). On the spring-forward day
    (2026-03-08) 02:30 does not exist and means 03:30 EDT (PEP 495, fold=0)."""
    sunday = weekly(["sun"], "00:00", "03:00", "America/New_York")
    assert sunday.active_at(at("2026-11-01T07:30:00Z"))  # 02:30 EST
    assert not sunday.active_at(at("2026-11-01T08:00:00Z"))
    skipped = weekly(["sun"], "02:30", "05:00", "America/New_York")
    assert not skipped.active_at(at("2026-03-08T07:00:00Z"))  # 03:00 EDT
    assert skipped.active_at(at("2026-03-08T07:30:00Z"))  # 03:30 EDT


def test_next_start_finds_the_coming_occurrence() -> None:
    nights = weekly(["fri"], "22:00", "06:00", "Europe/Berlin")
    span = nights.next_start(at("2026-12-02T12:00:00Z"))  # a Wednesday
    assert span == (at("2026-12-04T21:00:00Z"), at("2026-12-05T05:00:00Z"))
    assert YEAR_END.next_start(at("2026-12-01T00:00:00Z")) == (YEAR_END.start, YEAR_END.end)
    assert YEAR_END.next_start(at("2026-12-21T00:00:00Z")) is None


def test_windows_survive_the_trip_through_the_guards_inputs() -> None:
    for window in (YEAR_END, weekly(["sat", "sun"], "22:00", "24:00", "Europe/Berlin")):
        again = FreezeWindow.from_input(json.loads(json.dumps(window.as_input())))
        assert again == window
        assert again.describe() == window.describe()


# -- the guard's check --------------------------------------------------------------------------
PINS = {"api": "v1.0.0", "web": "v1.0.0", "migrations": "m1"}


def guard_at(moment: str) -> FreezeGuardProvider:
    provider = FreezeGuardProvider()
    provider.clock = lambda: at(moment)
    return provider


def inputs(pins: dict[str, str], *, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"stack": "production", "pins": pins, "windows": [YEAR_END.as_input()],
            "override_reason": reason, **extra}  # fmt: skip


def test_a_repin_inside_a_window_is_refused_naming_the_window() -> None:
    olds, news = inputs(PINS), inputs({**PINS, "api": "v1.1.0"})
    result = guard_at("2026-12-24T12:00:00Z").check(olds, news)
    [failure] = result.failures
    assert failure.property == "pins"
    assert "'year-end freeze' (2026-12-20T00:00:00Z to 2027-01-03T23:00:00Z)" in failure.reason
    assert "active until 2027-01-03T23:00:00Z" in failure.reason
    assert "api v1.0.0 -> v1.1.0" in failure.reason
    assert "production" in failure.reason
    assert 'RELEASEGATE_OVERRIDE_REASON="<why>"' in failure.reason
    assert "web" not in failure.reason.split("(api", 1)[-1].split(")", 1)[0]


def test_no_change_a_first_deploy_and_a_change_outside_the_window_pass() -> None:
    guard = guard_at("2026-12-24T12:00:00Z")
    assert guard.check(inputs(PINS), inputs(PINS)).failures == []
    assert guard.check({}, inputs(PINS)).failures == []  # first deploy: nothing ran before
    outside = guard_at("2026-12-01T12:00:00Z")
    assert outside.check(inputs(PINS), inputs({**PINS, "api": "v1.1.0"})).failures == []
    outs = outside.update("id", inputs(PINS), inputs({**PINS, "api": "v1.1.0"})).outs
    assert outs is not None and outs["override"] == {}  # never None: unknown in a preview


def test_adding_or_removing_an_image_is_a_change() -> None:
    assert changed_pins(inputs(PINS), inputs({**PINS, "worker": "v1"})) == ["worker"]
    assert changed_pins(inputs(PINS), inputs({"api": "v1.0.0", "migrations": "m1"})) == ["web"]


def test_an_override_passes_and_is_reported_for_the_ledger() -> None:
    guard = guard_at("2026-12-24T12:00:00Z")
    olds = inputs(PINS)
    news = inputs({**PINS, "api": "v0.9.0"}, reason="  incident 4711: api errors  ")
    assert guard.check(olds, news).failures == []
    outs = guard.update("id", olds, news).outs
    assert outs is not None
    assert outs["override"] == {
        "kind": "freeze",
        "reason": "incident 4711: api errors",
        "window": "'year-end freeze' (2026-12-20T00:00:00Z to 2027-01-03T23:00:00Z)",
    }
    # A reason without a change overrides nothing.
    assert freeze_override(olds, inputs(PINS, reason="x"), at("2026-12-24T12:00:00Z")) is None


def test_the_guard_is_no_change_by_itself() -> None:
    """Only the pins are diffed: other windows, a reason or another time never make an update,
    so an unchanged stack previews clean."""
    guard = guard_at("2026-12-24T12:00:00Z")
    olds = {**inputs(PINS), "override": None, "__provider": "x"}
    same = inputs(PINS, reason="why", windows=[])
    assert guard.diff("id", olds, same).changes is False
    assert guard.diff("id", olds, inputs({**PINS, "web": "v2"})).changes is True
    assert "clock" not in olds and "now" not in inputs(PINS)


def test_bad_windows_are_refused_at_check() -> None:
    bad = inputs(PINS, windows=[{"reason": "x", "weekly": {"days": ["fri"], "from": "1",
                                                           "to": "2"}}])  # fmt: skip
    [failure] = guard_at("2026-12-24T12:00:00Z").check({}, bad).failures
    assert failure.property == "windows" and "from/to" in failure.reason
    zone = inputs(PINS, windows=[{**weekly(["fri"], "01:00", "02:00").as_input(),
                                  "time_zone": "Mars/Olympus"}])  # fmt: skip
    [failure] = guard_at("2026-12-24T12:00:00Z").check({}, zone).failures
    assert "Mars/Olympus" in failure.reason


# -- config ------------------------------------------------------------------------------------
def load(freeze: object) -> Any:
    values = {"cloud": "local", "freeze": json.dumps(freeze)}
    return load_settings("releasegate", "test", values.get, lambda _k: False,
                         all_keys=list(values))  # fmt: skip


def problems_of(freeze: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(freeze)
    return caught.value.problems


def test_valid_windows_become_settings() -> None:
    settings = load([
        {"start": "2026-12-20T00:00:00Z", "end": "2027-01-04T00:00:00+01:00",
         "reason": "year-end freeze"},
        {"weekly": {"days": ["fri", "sat"], "from": "22:00", "to": "06:00"},
         "timeZone": "Europe/Berlin", "reason": "nights"},
    ])  # fmt: skip
    assert settings.freeze[0] == YEAR_END
    assert settings.freeze[1].weekly == WeeklyRule(("fri", "sat"), 1320, 360)
    assert settings.freeze[1].time_zone == "Europe/Berlin"
    assert load([]).freeze == () and load({}).freeze == ()


@pytest.mark.parametrize(
    ("freeze", "expected"),
    [
        ([{"start": "2026-12-20T00:00:00Z", "end": "2026-12-19T00:00:00Z", "reason": "r"}],
         "releasegate:freeze[0].end: '2026-12-19T00:00:00Z' is not valid; allowed: a time "
         "after start (2026-12-20T00:00:00Z)"),
        ([{"start": "2026-12-20T00:00:00", "end": "2026-12-21T00:00:00Z", "reason": "r"}],
         "releasegate:freeze[0].start: '2026-12-20T00:00:00' is not valid; allowed: an ISO "
         "8601 time with an offset or Z"),
        ([{"start": "2026-12-20T00:00:00Z", "end": "2026-12-21T00:00:00Z"}],
         "releasegate:freeze[0].reason: missing"),
        ([{"start": "2026-12-20T00:00:00Z", "end": "2026-12-21T00:00:00Z", "reasn": "r"}],
         "releasegate:freeze[0].reasn: unknown setting; did you mean 'reason'?"),
        ([{"weekly": {"days": ["friday"], "from": "22:00", "to": "06:00"}, "reason": "r"}],
         "releasegate:freeze[0].weekly.days[0]: 'friday' is not valid; allowed: mon, tue, wed, "
         "thu, fri, sat, sun; did you mean 'fri'?"),
        ([{"weekly": {"days": ["fri"], "form": "22:00", "to": "06:00"}, "reason": "r"}],
         "releasegate:freeze[0].weekly.form: unknown setting; did you mean 'from'?"),
        ([{"weekly": {"days": ["fri"], "from": "25:00", "to": "06:00"}, "reason": "r"}],
         "releasegate:freeze[0].weekly.from: '25:00' is not valid"),
        ([{"weekly": {"days": ["fri"], "from": 1320, "to": "06:00"}, "reason": "r"}],
         "an unquoted 22:00 reads as a number in YAML 1.1"),
        ([{"weekly": {"days": ["fri"], "from": "06:00", "to": "06:00"}, "reason": "r"}],
         "releasegate:freeze[0].weekly.to: '06:00' is not valid; allowed: a time other than "
         "from (06:00)"),
        ([{"weekly": {"days": [], "from": "06:00", "to": "07:00"}, "reason": "r"}],
         "releasegate:freeze[0].weekly.days: [] is not valid; allowed: a non-empty list"),
        ([{"weekly": {"days": ["fri"], "from": "06:00", "to": "07:00"},
           "timeZone": "Europe/Berln", "reason": "r"}],
         "releasegate:freeze[0].timeZone: 'Europe/Berln' is not valid; allowed: an IANA time "
         "zone such as Europe/Berlin or UTC; did you mean 'Europe/Berlin'?"),
        ([{"start": "2026-12-20T00:00:00Z", "end": "2026-12-21T00:00:00Z", "reason": "r",
           "timeZone": "UTC"}],
         "releasegate:freeze[0].timeZone: set on a window with start and end"),
        ([{"start": "2026-12-20T00:00:00Z", "end": "2026-12-21T00:00:00Z", "reason": "r",
           "weekly": {"days": ["fri"], "from": "06:00", "to": "07:00"}}],
         "releasegate:freeze[0].start: set on a weekly window"),
        ({"start": "2026-12-20T00:00:00Z"}, "releasegate:freeze: "),
        (["year end"], "releasegate:freeze[0]: 'year end' is not valid; allowed: an object"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key_and_what_is_allowed(freeze: object, expected: str) -> None:
    found = problems_of(freeze)
    assert any(expected in problem for problem in found), found


def test_a_typo_of_the_key_names_freeze() -> None:
    values = {"cloud": "local", "freze": "[]"}
    with pytest.raises(ConfigError) as caught:
        load_settings("releasegate", "t", values.get, lambda _k: False, all_keys=list(values))
    assert "releasegate:freze: unknown key; did you mean 'freeze'?" in str(caught.value)


# -- the program and the offline plan -----------------------------------------------------------
AROUND_NOW = [{"start": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
               "end": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
               "reason": "launch week"}]  # fmt: skip


def test_the_program_registers_the_guard_first_with_the_configured_pins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = apply_sets(load_stack_config("dev"), [f"freeze={json.dumps(AROUND_NOW)}"])
    plan = evaluate(config)
    custom = [r for r in plan.resources if r.custom]
    guard = custom[0]
    assert (guard.type, guard.name) == ("pulumi-python:dynamic/gates:FreezeGuard", "freeze-guard")
    # As configured (tags), not the resolved digests a preview may not know.
    assert guard.inputs["pins"] == {"api": "v1.0.0", "web": "v1.0.0", "worker": "v1.0.0",
                                    "migrations": "v1.0.0"}  # fmt: skip
    assert guard.inputs["windows"][0]["reason"] == "launch week"
    # With a reason given, the release attempt takes the guard's override: it waits for it.
    attempt = next(r for r in plan.resources if r.name == "release-attempt")
    assert guard.urn not in attempt.dependencies
    monkeypatch.setenv("RELEASEGATE_OVERRIDE_REASON", "incident 4711")
    attempt = next(r for r in evaluate(config).resources if r.name == "release-attempt")
    assert guard.urn in attempt.dependencies
    monkeypatch.delenv("RELEASEGATE_OVERRIDE_REASON")
    # A re-pin changes the guard's pins only; a changed window alone changes nothing.
    changed = diff_plans(plan, evaluate(apply_sets(config, ["release.api=v1.1.0"])))
    [guard_change] = [c for c in changed if c.resource.name == "freeze-guard"]
    assert set(guard_change.changed_inputs) == {"pins"}
    assert not [c for c in diff_plans(evaluate(load_stack_config("dev")), plan)
                if c.resource.name != "freeze-guard"]  # fmt: skip


def test_the_guard_takes_the_override_reason_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELEASEGATE_OVERRIDE_REASON", "hotfix for incident 12")
    plan = evaluate(load_stack_config("dev"))
    guard = next(r for r in plan.resources if r.name == "freeze-guard")
    assert guard.inputs["override_reason"] == "hotfix for incident 12"


def test_a_foundation_only_stack_has_no_guard() -> None:
    plan = evaluate(apply_sets(load_stack_config("dev"), ["release={}"]))
    assert plan.foundation_only
    assert not [r for r in plan.resources if r.name == "freeze-guard"]


def test_the_plan_says_when_a_window_is_active_or_next() -> None:
    plan = evaluate(apply_sets(load_stack_config("dev"), [f"freeze={json.dumps(AROUND_NOW)}"]))
    [note] = [n for n in plan.notes if n.startswith("freeze:")]
    assert "freeze: active now" in note and "'launch week'" in note
    assert "RELEASEGATE_OVERRIDE_REASON" in note and "--reason" in note
    guard = [r for r in plan.resources if r.name == "freeze-guard"]
    wednesday = at("2026-12-02T12:00:00Z")
    nights = weekly(["fri"], "22:00", "06:00", "Europe/Berlin").as_input()
    for record in guard:
        record.inputs["windows"] = [nights]
    [note] = freeze_notes(guard, wednesday)
    assert note == ("freeze: no window is active now (2026-12-02T12:00:00Z); next: 'r' (weekly "
                    "fri 22:00 to 06:00 the next day Europe/Berlin) from 2026-12-04T21:00:00Z to "
                    "2026-12-05T05:00:00Z")  # fmt: skip
    assert not [n for n in evaluate(load_stack_config("dev")).notes if n.startswith("freeze")]


# -- rollback during a freeze -----------------------------------------------------------------
class _Value:
    def __init__(self, value: str) -> None:
        self.value = value


class _Workspace:
    def __init__(self) -> None:
        self.env_vars: dict[str, str] = {"KEEP": "1"}


class FakeStack:
    """What check_freeze uses of an Automation API stack: get_all_config, workspace.env_vars."""

    def __init__(self, freeze: object) -> None:
        self.config = {} if freeze is None else {"releasegate:freeze": _Value(json.dumps(freeze))}
        self.workspace = _Workspace()

    def get_all_config(self) -> dict[str, _Value]:
        return self.config


def test_rollback_inside_a_window_needs_a_reason_and_says_how(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RELEASEGATE_OVERRIDE_REASON", raising=False)
    stack = FakeStack([YEAR_END.as_input() | {"start": "2026-12-20T00:00:00Z"}])
    with pytest.raises(RollbackError) as caught:
        check_freeze(stack, "production", "releasegate", None, io.StringIO(),
                     now=at("2026-12-24T12:00:00Z"))  # fmt: skip
    message = str(caught.value)
    assert "'year-end freeze'" in message and "until 2027-01-03T23:00:00Z" in message
    assert '--reason "<why>"' in message and "nothing was changed" in message
    assert "RELEASEGATE_OVERRIDE_REASON" not in stack.workspace.env_vars


def test_rollback_takes_the_reason_from_the_environment_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELEASEGATE_OVERRIDE_REASON", "incident 4713")
    stack = FakeStack([YEAR_END.as_input()])
    check_freeze(stack, "production", "releasegate", None, io.StringIO(),
                 now=at("2026-12-24T12:00:00Z"))  # fmt: skip
    assert stack.workspace.env_vars["RELEASEGATE_OVERRIDE_REASON"] == "incident 4713"


def test_rollback_with_a_reason_sets_the_override_for_its_up() -> None:
    stack, out = FakeStack([YEAR_END.as_input()]), io.StringIO()
    check_freeze(stack, "production", "releasegate", "incident 4711", out,
                 now=at("2026-12-24T12:00:00Z"))  # fmt: skip
    assert stack.workspace.env_vars == {"KEEP": "1", "RELEASEGATE_OVERRIDE_REASON": "incident 4711"}
    assert "freeze override: 'year-end freeze'" in out.getvalue()
    # Outside any window (or without windows) nothing is asked.
    check_freeze(FakeStack(None), "production", "releasegate", None, io.StringIO())
    check_freeze(FakeStack([YEAR_END.as_input()]), "production", "releasegate", None,
                 io.StringIO(), now=at("2026-12-01T00:00:00Z"))  # fmt: skip


def test_the_rollback_command_takes_reason() -> None:
    args = build_parser().parse_args(["rollback", "--stack", "production", "--reason", "x y"])
    assert args.reason == "x y"
    assert build_parser().parse_args(["rollback", "--stack", "production"]).reason is None
