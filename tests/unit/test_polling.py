"""The one polling loop (components/gates/polling.py) on a fake clock: when it checks, how long
it sleeps, when it gives up and what it says then."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from components.gates.polling import PollTimeoutError, poll_until, stderr_progress


class FakeTime:
    """A monotonic clock that moves only when slept on (plus `cost` per check)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.checks_at: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "never sleeps for nothing"
        self.sleeps.append(round(seconds, 6))
        self.now += seconds

    def answers(self, values: Iterable[str], cost: float = 0.0) -> Callable[[], str]:
        seq = iter(values)
        last = ""

        def check() -> str:
            nonlocal last
            self.checks_at.append(round(self.now - 100.0, 6))
            self.now += cost
            last = next(seq, last)
            return last

        return check


def test_returns_the_observation_that_is_done_with_the_statuses_it_went_through() -> None:
    t = FakeTime()
    polled = poll_until(
        t.answers(["PENDING", "PENDING", "RUNNING", "RUNNING", "STOPPED"]),
        lambda s: s == "STOPPED", status=lambda s: s,
        deadline_seconds=60, interval_seconds=5, clock=t.clock, sleep=t.sleep,
    )  # fmt: skip
    assert polled.value == "STOPPED"
    assert polled.statuses == ["PENDING", "RUNNING", "STOPPED"]
    assert polled.attempts == 5
    assert t.checks_at == [0, 5, 10, 15, 20]
    assert polled.elapsed == 20


def test_done_at_once_never_sleeps() -> None:
    t = FakeTime()
    polled = poll_until(t.answers(["available"]), lambda s: s == "available",
                        deadline_seconds=0, interval_seconds=5, clock=t.clock, sleep=t.sleep)
    assert (polled.value, polled.attempts, t.sleeps) == ("available", 1, [])


def test_the_deadline_ends_the_wait_with_a_last_check_at_the_deadline() -> None:
    t = FakeTime()
    with pytest.raises(PollTimeoutError) as caught:
        poll_until(t.answers(["PENDING", "RUNNING"]), lambda s: s == "STOPPED",
                   status=lambda s: s, describe="migration task abc",
                   deadline_seconds=12, interval_seconds=5, clock=t.clock, sleep=t.sleep)
    # Never sleeps past the deadline: 5, 5, then the 2 s left; the last check is at 12 s.
    assert t.sleeps == [5, 5, 2]
    assert t.checks_at == [0, 5, 10, 12]
    timeout = caught.value
    assert timeout.last == "RUNNING"
    assert (timeout.statuses, timeout.attempts) == (["PENDING", "RUNNING"], 4)
    assert timeout.elapsed == 12
    assert timeout.went == "PENDING -> RUNNING"
    assert str(timeout) == ("migration task abc did not finish within 12s "
                            "(went PENDING -> RUNNING; 4 attempts)")  # fmt: skip


def test_time_spent_checking_counts_against_the_deadline() -> None:
    t = FakeTime()
    with pytest.raises(PollTimeoutError) as caught:
        poll_until(t.answers(["creating"], cost=3), lambda _: False, deadline_seconds=10,
                   interval_seconds=4, clock=t.clock, sleep=t.sleep)  # fmt: skip
    # Checks take 3 s each: 0-3, sleep 4, 7-10: the deadline has passed, no further sleep.
    assert t.checks_at == [0, 7]
    assert t.sleeps == [4]
    assert caught.value.attempts == 2
    assert str(caught.value) == "the wait did not finish within 10s (went nowhere; 2 attempts)"


def test_without_a_final_attempt_a_check_starts_only_when_an_interval_fits() -> None:
    t = FakeTime()
    with pytest.raises(PollTimeoutError) as caught:
        poll_until(t.answers(["refused"]), lambda s: s == "started", final_attempt=False,
                   deadline_seconds=11, interval_seconds=5, clock=t.clock, sleep=t.sleep)
    # At 10 s, 1 s is left, less than the 5 s interval: nothing more is started.
    assert t.checks_at == [0, 5, 10]
    assert t.sleeps == [5, 5]
    assert caught.value.attempts == 3


def test_backoff_grows_the_interval_up_to_its_cap() -> None:
    t = FakeTime()
    with pytest.raises(PollTimeoutError):
        poll_until(t.answers(["x"]), lambda _: False, backoff=2, max_interval_seconds=10,
                   deadline_seconds=40, interval_seconds=1, clock=t.clock, sleep=t.sleep)
    assert t.sleeps == [1, 2, 4, 8, 10, 10, 5]
    assert t.checks_at == [0, 1, 3, 7, 15, 25, 35, 40]


def test_an_exception_in_the_check_propagates_unchanged_and_stops_the_wait() -> None:
    t = FakeTime()
    calls = 0

    def check() -> str:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise LookupError("snapshot s-1 of db is failed")
        return "creating"

    with pytest.raises(LookupError, match="snapshot s-1 of db is failed"):
        poll_until(check, lambda s: s == "available", deadline_seconds=60,
                   interval_seconds=5, clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert calls == 3
    assert t.sleeps == [5, 5]


def test_progress_gets_one_line_per_status_change_and_none_is_no_status() -> None:
    t = FakeTime()
    lines: list[str] = []
    answers = [None, "PENDING", "PENDING", None, "RUNNING", "STOPPED"]
    polled = poll_until(
        t.answers([str(a) for a in answers]), lambda s: s == "STOPPED",
        status=lambda s: None if s == "None" else s, describe="migration task abc",
        on_progress=lines.append, deadline_seconds=600, interval_seconds=5,
        clock=t.clock, sleep=t.sleep,
    )  # fmt: skip
    assert polled.statuses == ["PENDING", "RUNNING", "STOPPED"]
    assert lines == [
        "migration task abc: PENDING after 5s (waiting up to 600s)",
        "migration task abc: RUNNING after 20s (waiting up to 600s)",
        "migration task abc: STOPPED after 25s (waiting up to 600s)",
    ]


def test_stderr_progress_prints_one_marked_line_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stderr_progress("snapshot s-1 of db: creating after 15s (waiting up to 3600s)")
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "releasegate: snapshot s-1 of db: creating after 15s (waiting up to 3600s)\n"


@pytest.mark.parametrize(
    ("deadline", "interval", "backoff"), [(-1, 5, 1), (10, 0, 1), (10, 5, 0.5)]
)
def test_nonsense_bounds_are_refused_before_any_check(
    deadline: float, interval: float, backoff: float
) -> None:
    checked: list[int] = []
    with pytest.raises(ValueError, match="poll_until needs"):
        poll_until(lambda: checked.append(1), lambda _: True, deadline_seconds=deadline,
                   interval_seconds=interval, backoff=backoff)  # fmt: skip
    assert checked == []


def test_the_real_clock_and_sleep_are_the_defaults() -> None:
    calls: list[int] = []
    with pytest.raises(PollTimeoutError):
        poll_until(lambda: calls.append(1), lambda _: False, deadline_seconds=0.05,
                   interval_seconds=0.01)  # fmt: skip
    assert 3 <= len(calls) <= 7
