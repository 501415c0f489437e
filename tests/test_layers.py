"""The import graph of src/mnistlab: every edge points down the layers, and no modules import each other.

    foundation (errors, files, rundir, reporter, metrics, imports) < data | pictures < models < classifier
        < training < evaluation | recognition < cli, the `mnistlab` facade < __main__
    (a | b: siblings, neither imports the other)

The facade (mnistlab/__init__.py: mnistlab.load, mnistlab.train, ...) and the CLI are both front doors at
the top; the CLI calls the facade's functions, so that both do the same thing.

Imports inside functions count too: a lazy import is still a dependency at run time.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import mnistlab

SOURCE = Path(mnistlab.__file__).parent
FOUNDATION = {"errors", "files", "rundir", "reporter", "metrics", "imports"}
RANKS = {
    "data": 1, "pictures": 1, "models": 2, "classifier": 3, "training": 4, "explanation": 4, "evaluation": 5,
    "recognition": 5, "cli": 6,
}  # fmt: skip
FACADE = 6  # mnistlab/__init__.py, beside the CLI
MAIN = 7  # python -m mnistlab


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in SOURCE.rglob("*.py")}


def _imports(module: str) -> set[str]:
    """The mnistlab modules `module` imports, anywhere in its code; `from pkg import sub` means pkg.sub."""
    found = set()
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: _imports(module) for module in MODULES}


def rank(module: str) -> float:
    """The layer of a module; within the foundation, its files may use one another (cycles still fail)."""
    parts = module.split(".")
    if len(parts) == 1:
        return FACADE
    if parts[1] == "__main__":
        return MAIN
    if parts[1] in FOUNDATION:
        return 0
    return RANKS[parts[1]]


def test_every_module_has_a_layer():
    for module in MODULES:
        assert rank(module) is not None, module


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    upward = sorted(
        target
        for target in GRAPH[module]
        if rank(target) > rank(module) or (rank(target) == rank(module) and _siblings(module, target))
    )
    assert upward == [], f"{module} imports a layer above (or a sibling): {upward}"


def _siblings(module: str, target: str) -> bool:
    """data and pictures, evaluation and recognition share a rank but neither may import the other."""
    return rank(module) in (1, 5) and module.split(".")[1] != target.split(".")[1]


def test_no_import_cycles():
    """Depth-first search over the whole graph: a module reached again while on the path closes a cycle."""
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "on path"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "on path":
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_check_sees_real_edges():
    """The graph is not empty by accident: known downward edges are found, lazy imports included."""
    assert "mnistlab.classifier" in GRAPH["mnistlab.evaluation.evaluation"]
    assert "mnistlab.rundir" in GRAPH["mnistlab.classifier"]
    assert "mnistlab.training.dispatch" in GRAPH["mnistlab"]  # imported inside mnistlab.train()
    assert rank("mnistlab.cli.training") > rank("mnistlab.training.dispatch") > rank("mnistlab.classifier")


def test_the_readme_layout_names_every_part_of_the_package():
    """README.md's Layout section lists exactly the package's modules and sub-packages, nothing gone."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("```")[1]
    lines = [line.strip() for line in section.splitlines() if line.startswith("  ")]
    first_columns = [re.split(r"\s{2,}", line)[0] for line in lines]  # the name column
    named = set(re.findall(r"\b(\w+)(?:\.py|/)", " ".join(first_columns)))
    modules = {path.stem for path in SOURCE.glob("*.py")} - {"__main__"}
    packages = {path.parent.name for path in SOURCE.glob("*/*.py")}
    assert named == modules | packages


def test_the_library_never_prints():
    """Status lines go through mnistlab.reporter; only the CLI and the reporter write to the terminal."""
    writers = []
    for module, path in MODULES.items():
        if module.startswith("mnistlab.cli") or module == "mnistlab.reporter":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ("print", "Console", "sys.stdout.write", "sys.stderr.write", "typer.echo"):
                    writers.append(f"{module}:{node.lineno} {name}")
    assert writers == []
