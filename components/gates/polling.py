"""One way to wait: run a check until it says done, within a wall-clock deadline.

Migration runs, snapshots, traffic moves and role propagation all wait on a cloud that answers
"not yet" for a while. Pulumi's custom timeouts do not reach dynamic providers, so every wait
enforces its own deadline; this module is that loop, written once, with the same semantics for
every caller:

- `check()` runs at once, then every `interval_seconds` (multiplied by `backoff` after each
  try, at most `max_interval_seconds`), never sleeping past the deadline.
- When `done(observation)` is true, `poll_until` returns a `Polled` (the observation, the
  statuses it went through, the attempts and the seconds it took).
- Otherwise, once the deadline is reached, it raises `PollTimeoutError`, carrying the last
  observation and the statuses, so the caller can act (stop what it started) and say what it
  saw in its own words. By default the last check runs at the deadline itself (a read whose
  answer still counts). A check that acts (starts something) passes `final_attempt=False`:
  then a check is started only when a whole interval fits before the deadline, so nothing is
  started with no time left to wait for it.
- An exception from `check` propagates unchanged: the caller decides what is fatal, and turns
  what is transient into an observation inside its check.
- `status(observation)` names the state ("RUNNING"; None records nothing). Repeats collapse,
  so `statuses` reads `PENDING -> RUNNING -> STOPPED`, and `on_progress` gets one line per
  change.

Progress lines: a dynamic provider's stderr reaches the user. The engine runs the dynamic
provider binary (pulumi-resource-pulumi-python) with its stdout/stderr read line by line into
the diagnostics stream (pulumi sdk/go/common/resource/plugin/plugin.go, `runtrace`: lines from
a dynamic plugin binary go to `Diag.Infof`/`Infoerrf`; other resource plugins' output is hidden
at debug level), so `stderr_progress` prints there; `pulumi up` shows the lines while it waits.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Polled(Generic[T]):
    """What a finished wait saw."""

    value: T
    statuses: list[str] = field(default_factory=list)
    attempts: int = 0
    elapsed: float = 0.0


class PollTimeoutError(Exception, Generic[T]):
    """The deadline was reached before the check said done; carries what was last seen."""

    def __init__(
        self, message: str, last: T, statuses: list[str], attempts: int, elapsed: float
    ) -> None:
        super().__init__(message)
        self.last = last
        self.statuses = statuses
        self.attempts = attempts
        self.elapsed = elapsed

    @property
    def went(self) -> str:
        """The statuses seen, as `A -> B`, or `nowhere`."""
        return " -> ".join(self.statuses) or "nowhere"


def stderr_progress(line: str) -> None:
    """Prints a progress line where `pulumi up` shows a dynamic provider's output (see the
    module docstring)."""
    print(f"releasegate: {line}", file=sys.stderr, flush=True)


def poll_until(
    check: Callable[[], T],
    done: Callable[[T], bool],
    *,
    deadline_seconds: float,
    interval_seconds: float,
    backoff: float = 1.0,
    max_interval_seconds: float | None = None,
    status: Callable[[T], str | None] | None = None,
    describe: str = "the wait",
    on_progress: Callable[[str], None] | None = None,
    final_attempt: bool = True,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Polled[T]:
    """Runs `check` until `done` says so or `deadline_seconds` have passed (module docstring).

    `describe` names what is waited for, in progress lines and the default timeout message.
    `clock` and `sleep` default to `time.monotonic` and `time.sleep` (tests inject their own).
    """
    if deadline_seconds < 0 or interval_seconds <= 0 or backoff < 1:
        raise ValueError(
            f"poll_until needs deadline_seconds >= 0 (got {deadline_seconds:g}), "
            f"interval_seconds > 0 (got {interval_seconds:g}) and backoff >= 1 (got {backoff:g})"
        )
    now = clock or time.monotonic
    pause = sleep or time.sleep
    started = now()
    deadline = started + deadline_seconds
    interval = interval_seconds
    statuses: list[str] = []
    attempts = 0
    while True:
        observation = check()
        attempts += 1
        named = status(observation) if status is not None else None
        if named is not None and (not statuses or statuses[-1] != named):
            statuses.append(named)
            if on_progress is not None:
                on_progress(f"{describe}: {named} after {now() - started:.0f}s "
                            f"(waiting up to {deadline_seconds:g}s)")  # fmt: skip
        if done(observation):
            return Polled(observation, statuses, attempts, now() - started)
        remaining = deadline - now()
        if remaining <= 0 or (not final_attempt and remaining <= interval):
            raise PollTimeoutError(
                f"{describe} did not finish within {deadline_seconds:g}s "
                f"(went {' -> '.join(statuses) or 'nowhere'}; {attempts} attempts)",
                observation, statuses, attempts, now() - started,
            )  # fmt: skip
        pause(min(interval, remaining))
        interval = min(interval * backoff, max_interval_seconds or float("inf"))

