"""Offline plan time per stack: the full `python -m infra plan` process and the in-process
evaluation alone. Prints a table; run with `venv/bin/python -m bench.plan_bench`."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from infra.plan import PROJECT_ROOT, evaluate, load_stack_config

RUNS = 5


def stacks() -> list[str]:
    return sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in PROJECT_ROOT.glob("Pulumi.*.yaml")
    )


def time_process(stack: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "infra",
            "plan",
            "--stack",
            stack,
            "--format",
            "json",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def time_evaluate(stack: str) -> tuple[float, int]:
    config = load_stack_config(stack)
    start = time.perf_counter()
    plan = evaluate(config)
    return time.perf_counter() - start, len(plan.resources)


def main() -> None:
    print(f"offline plan, {RUNS} runs per stack, each on its own target")
    print(
        f"{'stack':<18}{'resources':>10}{'process median s':>18}{'evaluate median s':>19}"
        f"{'evaluate min s':>16}"
    )
    for stack in stacks():
        process = [time_process(stack) for _ in range(RUNS)]
        evals = [time_evaluate(stack) for _ in range(RUNS)]
        seconds = [e[0] for e in evals]
        print(
            f"{stack:<18}{evals[0][1]:>10}{statistics.median(process):>18.3f}"
            f"{statistics.median(seconds):>19.3f}{min(seconds):>16.3f}"
        )


if __name__ == "__main__":
    main()
