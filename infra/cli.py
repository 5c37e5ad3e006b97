"""`python -m infra ...`: the offline plan, rollback in one command, and the release list."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from infra.plan import PlanError, apply_sets, diff_plans, evaluate, load_stack_config
from infra.render import diff_json, diff_text, plan_json, plan_text
from infra.rollback import RollbackError
from infra.settings import ConfigError
from infra.targets import TargetUnavailable

EXIT_USAGE = 2


def _stack_file_arguments(command: argparse.ArgumentParser) -> None:
    """The offline commands read a stack file: `Pulumi.<stack>.yaml` or the one given."""
    command.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    command.add_argument("--config-file", type=Path, help="use this stack file instead")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan",
        help="evaluate the real program under mocks with a stack's config and print the plan",
        description="Offline plan: no cloud, no Docker, no credentials. Secrets print as "
        "[secret]. With --diff, print only what the --set changes would touch.",
    )
    _stack_file_arguments(plan)
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
    rollback = commands.add_parser(
        "rollback",
        help="roll back to a good release from the ledger: re-pin, pulumi up, gated",
        description="Reads the release ledger, defaults to the last good release, shows what "
        "will change, asks, re-pins the stack config and runs `pulumi up`: one gated `up` per "
        "service, in reverse release order (web before the api it calls). Refuses (before "
        "changing anything) when the schema would have to go back. The stack file then holds "
        "the re-pins: commit it (or pass --commit), or the next deploy ships the old pins.",
    )
    rollback.add_argument("--stack", required=True)
    rollback.add_argument("--service", default="all", help="one service, or all (default)")
    rollback.add_argument("--to", dest="to", metavar="RELEASE",
                          help="a ledger release id (or prefix) or a tag")  # fmt: skip
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rollback.add_argument("--commit", action="store_true",
                          help="commit the re-pinned stack file on a new branch, "
                          "rollback/<stack>-<release>-<UTC time>, never the current one")
    rollback.add_argument("--reason", metavar="TEXT",
                          help="roll back inside a deploy freeze window, for this reason "
                          "(recorded in the release ledger)")  # fmt: skip
    rollback.add_argument("--cwd", type=Path, default=Path.cwd(), help="the Pulumi project")
    promote = commands.add_parser(
        "promote",
        help="copy the source stack's last good release's pins into the target's stack file",
        description="Reads the source stack's ledger; refuses (exit 2, nothing changed) when its "
        "last release failed, has soaked less than the target's promotion.minSoakMinutes, or "
        "uses a digest the target's registry lacks. Otherwise writes each pin as tag@digest "
        "plus release.promotedFrom into Pulumi.<to>.yaml, shows the diff and asks. It never "
        "commits or deploys: commit the file.",
    )
    promote.add_argument("--from", dest="source", metavar="STACK",
                         help="the stack to promote from (default: promotion.from of --to)")
    promote.add_argument("--to", required=True, metavar="STACK", help="the stack file to edit")
    promote.add_argument("--service", default="all", help="one service, or all (default)")
    promote.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    promote.add_argument("--cwd", type=Path, default=Path.cwd(), help="the Pulumi project")
    releases = commands.add_parser(
        "releases",
        help="the deployment log: every release, newest first (succeeded, failed, rolled back)",
        description="When, who, pins and digests, snapshot, gate and verify evidence, duration, "
        "outcome, promoted-from and override reasons; read from the stack's checkpoint, so a "
        "release that failed its gate is listed too.",
    )
    releases.add_argument("--stack", required=True)
    releases.add_argument("--cwd", type=Path, default=Path.cwd(), help="the Pulumi project")
    releases.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    check_pins = commands.add_parser(
        "check-pins",
        help="refuse a stack file that pins an image of a failed or rolled-back release",
        description="Run before `pulumi up`: exits 2 naming each pin of the committed stack "
        "file that a release recorded as failed (it never passed its gates) or rolled back "
        "brought, unless a reason is given (--override-reason or RELEASEGATE_OVERRIDE_REASON; "
        "the ledger records it). A stack with no release record passes.",
    )
    _stack_file_arguments(check_pins)
    check_pins.add_argument("--cwd", type=Path, default=Path.cwd(), help="the Pulumi project")
    check_pins.add_argument("--override-reason", metavar="TEXT",
                            help="ship the refused pins anyway, for this reason")  # fmt: skip
    images = commands.add_parser(
        "images",
        help="list the images the stack file pins and how CI builds them (infra/images.py)",
        description="Every image the stack pins (services and migrations, one entry per "
        "repository and reference) with its build context and Dockerfile; offline.",
    )
    _stack_file_arguments(images)
    images.add_argument(
        "--release-tag",
        dest="release_tags",
        action="append",
        default=[],
        metavar="TAG",
        help="mark the images whose pin equals TAG as built now (repeatable)",
    )
    images.add_argument("--format", choices=("json", "github"), default="json")
    commands.add_parser(
        "schema",
        help="print a JSON Schema (draft 2020-12) of the stack file, for editor completion",
        description="Derived from the config validation (infra/schema.py); point "
        "yaml-language-server at it with `# yaml-language-server: $schema=<file>`.",
    )
    return parser


def run_command(args: argparse.Namespace) -> int:
    if args.command == "rollback":
        from infra.rollback_run import rollback  # noqa: PLC0415 - Automation API on demand

        return rollback(args.stack, args.cwd, args.service, args.to, args.yes,
                        reason=args.reason, commit=args.commit)  # fmt: skip
    if args.command == "promote":
        from infra.promote import promote  # noqa: PLC0415 - Automation API on demand

        return promote(args.source, args.to, args.cwd, args.service, args.yes)
    if args.command == "releases":
        from infra.releases_cmd import list_releases  # noqa: PLC0415

        return list_releases(args.stack, args.cwd, args.format)
    if args.command == "check-pins":
        from infra.releases_cmd import check_pins  # noqa: PLC0415

        return check_pins(args.stack, args.config_file, args.cwd, args.override_reason)
    if args.command == "schema":
        from infra.schema import main as print_schema  # noqa: PLC0415

        return print_schema()
    if args.command == "images":
        from infra.images import run_images  # noqa: PLC0415

        return run_images(args.stack, args.config_file, args.release_tags, args.format)
    return run_plan(args)


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
        code = run_command(args)
        if sys.stdout is not None:  # None when started with stdout closed (`>&-`)
            sys.stdout.flush()
    except (ConfigError, TargetUnavailable, PlanError, RollbackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader stopped early (`... | head`): not an error. Point stdout at /dev/null so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code
