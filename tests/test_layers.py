"""The tree shows the architecture: every import in src/semclust goes down a layer, never up.

Reads the imports as text (``ast``), so a violation fails here before it becomes an import
circle at run time. The layers and their order are those of docs/architecture.md.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "semclust"
LAYER_ORDER = {"core": 0, "stages": 1, "study": 2, "validation": 3, "exploration": 3, "cli": 4}
#: The report's own formatting helpers are stages' modules in name only.
REPORT_HELPERS = {"keywords_format", "interactive_map", "report_metrics"}


def imported_modules(path: Path) -> list[str]:
    """Absolute names of the semclust modules ``path`` imports (relative imports resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.append(module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [n for n in names if n.startswith("semclust.")]


def violations(path: Path) -> list[str]:
    where = path.relative_to(PACKAGE).parts
    if len(where) == 1:  # the package's face, semclust/__init__.py, re-exports the API
        return []
    layer = where[0]
    found = []
    for module in imported_modules(path):
        target = module.split(".")
        other = target[1]
        if other not in LAYER_ORDER:
            found.append(f"{module}: not inside a layer folder")
        elif other != layer and LAYER_ORDER[other] >= LAYER_ORDER[layer]:
            found.append(f"{module}: {layer} may not import {other}")
        elif layer == other == "stages" and len(target) > 2:
            stage, imported = where[1].removesuffix(".py"), target[2]
            if stage != imported and not (stage == "report" and imported in REPORT_HELPERS):
                found.append(f"{module}: the stage {stage} imports the stage {imported}")
    return found


def test_every_import_goes_down_a_layer():
    problems = {str(p.relative_to(PACKAGE)): v for p in sorted(PACKAGE.rglob("*.py")) if (v := violations(p))}
    assert problems == {}


def test_every_module_sits_in_a_layer_folder():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []


@pytest.mark.parametrize("source, layer, expected", [
    ("from semclust.study.pipeline import cluster_run\n", "stages/label.py", "stages may not import study"),
    ("from semclust.stages.describe.runner import x\n", "stages/embed/tfidf.py", "the stage embed imports"),
    ("from ...study import config\n", "stages/embed/tfidf.py", "stages may not import study"),
    ("from semclust.validation import sampling\n", "exploration/app.py", "exploration may not import validation"),
])
def test_the_check_catches_an_upward_import(tmp_path, monkeypatch, source, layer, expected):
    """The checker itself can fail: planted violations are reported."""
    fake = tmp_path / "semclust"
    target = fake / layer
    target.parent.mkdir(parents=True)
    target.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert any(expected in v for v in violations(target))
