"""Every package the code imports is declared in pyproject.toml, and the core stays lean."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Imported only behind a guard that works without them (IPython: inline display in notebooks).
OPTIONAL_AT_RUN_TIME = {"IPython"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for reqs in project["optional-dependencies"].values() for r in reqs
              if not r.startswith("semclust[")}
    return core, extras


def _imported_top_level_modules() -> set[str]:
    found = set()
    for path in (ROOT / "src" / "semclust").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "semclust"}


def test_every_imported_package_is_declared():
    core, extras = _declared()
    distributions = packages_distributions()
    undeclared = []
    for module in sorted(_imported_top_level_modules() - OPTIONAL_AT_RUN_TIME):
        names = {_name(d) for d in distributions.get(module, [module])}
        # a module not installed here (GPU-only: cuml, cupy) is declared under a variant's name (cuml-cu12)
        variants = {d for d in core | extras if module not in distributions and d.startswith(module.lower() + "-")}
        if not names & (core | extras) and not variants:
            undeclared.append(f"{module} ({', '.join(sorted(names))})")
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_core_is_lean_and_unused_packages_are_gone():
    core, extras = _declared()
    assert not {"torch", "fastapi", "uvicorn", "starlette", "itsdangerous", "plotly"} & core
    assert "torch" in extras and "fastapi" in extras
    assert "pytest-asyncio" not in core | extras  # no test uses it


def test_every_core_dependency_is_used():
    """A core dependency is imported by the code (pyarrow: the engine pandas writes Parquet with)."""
    core, _ = _declared()
    imported = _imported_top_level_modules()
    provides: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            provides.setdefault(_name(dist), set()).add(module)
    unused = sorted(d for d in core - {"pyarrow"} if not provides.get(d, set()) & imported)
    assert not unused, f"declared in the core but never imported: {unused}"
