"""`python -m infra ...`: the offline plan (and, later, rollback and the release list)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from infra.plan import PlanError, apply_sets, diff_plans, evaluate, load_stack_config
from infra.render import diff_json, diff_text, plan_json, plan_text
from infra.settings import ConfigError
from infra.targets import TargetUnavailable

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan",
        help="evaluate the real program under mocks with a stack's config and print the plan",
        description="Offline plan: no cloud, no Docker, no credentials. Secrets print as "
        "[secret]. With --diff, print only what the --set changes would touch.",
    )
    plan.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    plan.add_argument("--config-file", type=Path, help="use this stack file instead")
    plan.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a config value, e.g. release.api=v1.4.1 (repeatable)",
    )
    plan.add_argument("--format", choices=("text", "json"), default="text")
    plan.add_argument(
        "--diff",
        action="store_true",
        help="print only resources whose inputs change with the --set values",
    )
    return parser


def run_plan(args: argparse.Namespace) -> int:
    base = load_stack_config(args.stack, args.config_file)
    changed = apply_sets(base, args.sets)
    if args.diff:
        before, after = evaluate(base), evaluate(changed)
        changes = diff_plans(before, after)
        print(
            diff_json(after, changes)
            if args.format == "json"
            else diff_text(after, changes, args.sets)
        )
        return 0
    plan = evaluate(changed)
    print(plan_json(plan) if args.format == "json" else plan_text(plan))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = run_plan(args)
        if sys.stdout is not None:  # None when started with stdout closed (`>&-`)
            sys.stdout.flush()
    except (ConfigError, TargetUnavailable, PlanError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader stopped early (`... | head`): not an error. Point stdout at /dev/null so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code
