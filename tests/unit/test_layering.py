"""The layering the design relies on: the program (`infra`) uses the components, components
never import the program. A component that imported `infra` would pull config loading into the
dynamic-provider process and make components unusable outside this one program."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import components

COMPONENTS = Path(components.__file__).parent
FORBIDDEN = "infra"


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in the tree, function-level ones included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _infra_imports(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename=filename)
    return [
        f"{filename}:{line}: imports {module}"
        for line, module in _imported_modules(tree)
        if module == FORBIDDEN or module.startswith(FORBIDDEN + ".")
    ]


def test_no_component_imports_the_program() -> None:
    files = sorted(COMPONENTS.rglob("*.py"))
    assert len(files) > 50, "the walk must see the components package"
    offenders = [
        hit
        for path in files
        for hit in _infra_imports(path.read_text(), str(path.relative_to(COMPONENTS.parent)))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        "import infra\n",
        "import infra.settings as s\n",
        "from infra.settings import Settings\n",
        "from infra import release\n",
        "def f():\n    from infra.settings_aws import AwsSpec\n",
    ],
)
def test_the_check_catches_every_form_of_import(source: str) -> None:
    assert _infra_imports(source, "x.py") != []


def test_the_check_ignores_names_that_only_start_alike() -> None:
    assert _infra_imports("import infrastructure\nfrom .infra import x\n", "x.py") == []
