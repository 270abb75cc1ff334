"""The layout's size rules: production modules stay under ~600 lines and functions under ~80.

A module that grows past this is split into modules with one job each (NetBox's rule of thumb);
the simulator and the benchmarks are exempt from the function rule (docs/architecture.md).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ("kubemon", "collectors", "metrics", "api", "billing", "web", "fan", "fanhost", "deploy")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules(packages):
    for package in packages:
        folder = ROOT / package
        if folder.is_dir():
            yield from (path for path in sorted(folder.rglob("*.py")) if "migrations" not in path.parts)


def _long_functions(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}() has {length} lines"


def test_no_production_module_is_over_600_lines():
    long = [f"{p.relative_to(ROOT)} has {n} lines" for p in _modules(PRODUCTION)
            if (n := p.read_text().count("\n")) > MAX_MODULE_LINES]
    assert long == []


def test_no_function_outside_the_simulator_and_benchmarks_is_over_80_lines():
    paths = [*_modules(PRODUCTION), ROOT / "manage.py"]
    assert [line for path in paths for line in _long_functions(path)] == []
