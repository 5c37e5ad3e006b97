"""The deploy workflow's "List the images of the committed stack file" step, run with bash and
stand-in `git` and `venv/bin/python`: which release tags a run builds for. A tag push builds for
its own tag; a push to main builds for every v* tag pointing at that very commit (pushed with
it), including an annotated tag through its peeled line (`git ls-remote` prints `refs/tags/vX^{}`
with the commit's sha); a commit with no such tag builds nothing and only checks the registry.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.workflows.test_workflows import load

SHA = "1" * 40
OTHER = "2" * 40

GIT_STUB = """#!/usr/bin/env bash
[[ "$1 $2 $3 $4" == "ls-remote --tags origin refs/tags/v*" ]] || exit 64
cat "$STUB_LS_REMOTE"
"""

PYTHON_STUB = """#!/usr/bin/env bash
echo "$*" >> "$STUB_CALLS"
if [[ " $* " == *" --format github "* ]]; then echo "count=0"; fi
"""


def list_script() -> str:
    steps = load("deploy.yml")["jobs"]["images"]["steps"]
    return str(next(s for s in steps if s.get("id") == "list")["run"])


def run_list(tmp_path: Path, ref: str, ls_remote: str) -> tuple[list[str], dict[str, str]]:
    (tmp_path / "bin").mkdir()
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    for path, body in ((tmp_path / "bin" / "git", GIT_STUB),
                       (tmp_path / "venv" / "bin" / "python", PYTHON_STUB)):  # fmt: skip
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "ls-remote").write_text(ls_remote)
    outputs, calls = tmp_path / "outputs", tmp_path / "calls"
    env = {
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "STUB_LS_REMOTE": str(tmp_path / "ls-remote"),
        "STUB_CALLS": str(calls),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_REF": ref,
        "GITHUB_REF_NAME": ref.rsplit("/", 1)[-1],
        "GITHUB_SHA": SHA,
        "STACK": "staging",
    }
    result = subprocess.run(["bash", "-c", list_script()], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return calls.read_text().splitlines(), written


def test_a_tag_run_builds_for_its_tag(tmp_path: Path) -> None:
    calls, outputs = run_list(tmp_path, "refs/tags/v1.5.0", "")
    assert calls == [
        "-m infra images --stack staging --release-tag v1.5.0 --format github",
        "-m infra images --stack staging --release-tag v1.5.0",
    ]
    assert outputs["stack"] == "staging" and outputs["release_tags"] == "v1.5.0"


def test_a_push_to_main_builds_for_the_v_tags_on_its_commit(tmp_path: Path) -> None:
    ls_remote = (
        f"{OTHER}\trefs/tags/v1.4.2\n"
        f"{SHA}\trefs/tags/v1.5.0\n"
        f"{OTHER}\trefs/tags/v1.5.0-rc1\n"  # an annotated tag object: its sha is not the commit
        f"{SHA}\trefs/tags/v1.5.0-rc1^{{}}\n"  # ... its peeled line is
    )
    calls, outputs = run_list(tmp_path, "refs/heads/main", ls_remote)
    assert calls[0] == (
        "-m infra images --stack staging --release-tag v1.5.0 --release-tag v1.5.0-rc1 "
        "--format github"
    )
    assert outputs["release_tags"] == "v1.5.0 v1.5.0-rc1"


def test_a_commit_without_a_release_tag_builds_nothing(tmp_path: Path) -> None:
    calls, outputs = run_list(tmp_path, "refs/heads/main", f"{OTHER}\trefs/tags/v1.4.2\n")
    assert calls[0] == "-m infra images --stack staging --format github"
    assert outputs["release_tags"] == "" and outputs["count"] == "0"
