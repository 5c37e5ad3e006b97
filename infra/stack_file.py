"""Edit `releasegate:release` in a stack file's text, leaving every other byte alone.

`promote` writes pins into a file the team commits and reviews, so the diff must show the
pins and nothing else: other keys, their order and formatting, and comments stay as they are
(PyYAML cannot write a document back with its comments, and the project has no round-trip
YAML library). A pin line keeps its trailing comment. The `promotedFrom` entry is replaced as
a whole. A stack file whose release is written in flow style (`{api: v1, ...}`) or as JSON gets
that one key rewritten as a block; the result is always parsed back and compared with what was
meant, so a file this cannot edit faithfully is refused rather than damaged.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

INDENT = "  "


class StackFileError(ValueError):
    """The stack file cannot be edited as asked (the message names why)."""


def scalar(value: str) -> str:
    """`value` as a YAML scalar (plain when that reads back as the same string)."""
    text: str = yaml.safe_dump(value, width=1000, default_flow_style=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _key_pattern(key: str) -> re.Pattern[str]:
    quoted = re.escape(key)
    return re.compile(rf"^(?P<indent> *)(?:{quoted}|\"{quoted}\"|'{quoted}'):(?P<rest>.*)$")


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The index after the last line belonging to the value of the key at `start`: the
    following lines indented deeper (blank and comment lines in between included, trailing
    ones not)."""
    end = start + 1
    last = start
    while end < len(lines):
        line = lines[end]
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            if len(line) - len(line.lstrip(" ")) <= indent:
                break
            last = end
        end += 1
    return last + 1


def _emit(mapping: Mapping[str, Any], indent: str) -> list[str]:
    out: list[str] = []
    for name, value in mapping.items():
        if isinstance(value, Mapping):
            out.append(f"{indent}{name}:\n")
            out.extend(_emit(value, indent + INDENT))
        else:
            out.append(f"{indent}{name}: {scalar(str(value))}\n")
    return out


def set_release(
    text: str, full_key: str, pins: Mapping[str, str], extra: Mapping[str, Any]
) -> str:
    """`text` with `config.<full_key>.<name>` set to each pin and each `extra` entry (such as
    `promotedFrom`) replaced whole; everything else of the file unchanged."""
    if text.lstrip().startswith("{"):  # a stack file written as JSON (also YAML)
        return _set_release_json(text, full_key, pins, extra)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    config_at = next((i for i, line in enumerate(lines) if re.match(r"^config:\s*(#.*)?$", line)),
                     None)  # fmt: skip
    if config_at is None:
        raise StackFileError("no top-level `config:` block in block style")
    key_re = _key_pattern(full_key)
    found = None
    for i in range(config_at + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line.startswith((" ", "#")):
            break  # the next top-level key: config ended
        match = key_re.match(line)
        if match:
            found = (i, match)
            break
    if found is None:
        child = _child_indent(lines, config_at) or INDENT
        end = _block_end(lines, config_at, 0)
        block = [f"{child}{full_key}:\n", *_emit({**pins, **extra}, child + INDENT)]
        new_lines = lines[:end] + block + lines[end:]
    else:
        at, match = found
        indent = match["indent"]
        rest = match["rest"].strip()
        end = _block_end(lines, at, len(indent))
        if rest and not rest.startswith("#"):  # flow style or JSON: rewrite this key
            current = yaml.safe_load(f"v: {rest}") or {}
            value = current.get("v") if isinstance(current, dict) else None
            merged = {**(value if isinstance(value, dict) else {}), **pins, **extra}
            block = [f"{indent}{full_key}:\n", *_emit(merged, indent + INDENT)]
            new_lines = lines[:at] + block + lines[end:]
        else:
            body = _edit_block(lines[at + 1 : end], pins, extra, indent + INDENT)
            new_lines = lines[: at + 1] + body + lines[end:]
    new_text = "".join(new_lines)
    _check(text, new_text, full_key, pins, extra)
    return new_text


def _set_release_json(
    text: str, full_key: str, pins: Mapping[str, str], extra: Mapping[str, Any]
) -> str:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackFileError(f"the stack file starts like JSON but is not: {exc}") from exc
    config = document.setdefault("config", {})
    release = config.get(full_key) if isinstance(config.get(full_key), dict) else {}
    config[full_key] = {**release, **pins, **extra}
    return json.dumps(document, indent=2) + "\n"


def _child_indent(lines: list[str], parent: int) -> str | None:
    for line in lines[parent + 1 :]:
        if line.strip() and not line.lstrip().startswith("#"):
            return line[: len(line) - len(line.lstrip(" "))]
    return None


def _edit_block(
    body: list[str], pins: Mapping[str, str], extra: Mapping[str, Any], default_indent: str
) -> list[str]:
    """The release block's lines with each pin's value replaced in place (its comment kept),
    new pins added, and each `extra` key's entry replaced by a fresh one at the end."""
    child = _child_indent(["", *body], 0) or default_indent
    out = list(body)
    for name in extra:
        key_re = _key_pattern(name)
        for i, line in enumerate(out):
            match = key_re.match(line)
            if match and match["indent"] == child:
                end = i + 1 + _block_end(out[i:], 0, len(child)) - 1
                del out[i:end]
                break
    missing: dict[str, str] = {}
    for name, value in pins.items():
        key_re = _key_pattern(name)
        for i, line in enumerate(out):
            match = key_re.match(line)
            if match and match["indent"] == child:
                comment = re.search(r"\s+#.*$", match["rest"])
                tail = comment.group(0) if comment else ""
                out[i] = f"{child}{name}: {scalar(value)}{tail}\n"
                break
        else:
            missing[name] = value
    # New entries after the last entry of the block (before trailing comments or blanks).
    last = max((i for i, line in enumerate(out) if line.strip() and not
                line.strip().startswith("#")), default=-1)  # fmt: skip
    added = _emit({**missing, **extra}, child)
    return out[: last + 1] + added + out[last + 1 :]


def _check(
    before: str, after: str, full_key: str, pins: Mapping[str, str], extra: Mapping[str, Any]
) -> None:
    """Parse both versions: the release must hold exactly what was asked and nothing else of
    the document may differ."""
    try:
        old = yaml.safe_load(before) or {}
        new = yaml.safe_load(after) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"the edited file does not parse as YAML: {exc}") from exc
    old_config = dict(old.get("config") or {})
    new_config = dict(new.get("config") or {})
    old_release = old_config.pop(full_key, None) or {}
    new_release = new_config.pop(full_key, None) or {}
    expected = {**{k: v for k, v in old_release.items() if k not in extra}, **pins, **extra}
    if new_release != expected or new_config != old_config or (
        {k: v for k, v in new.items() if k != "config"}
        != {k: v for k, v in old.items() if k != "config"}
    ):
        raise StackFileError(
            f"could not edit {full_key} in place without changing something else; set the "
            "pins with `pulumi config set --path` instead"
        )


def unified_diff(before: str, after: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            fromfile=f"a/{name}", tofile=f"b/{name}",
        )
    )  # fmt: skip
