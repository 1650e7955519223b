"""CI runs the README's two commands through scripts/readme_commands.py; check that it reads them right."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("readme_commands", ROOT / "scripts" / "readme_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_block_gives_install_plus_demo_and_the_test_command():
    commands = _load().readme_commands()
    assert commands == [
        "bash scripts/install.sh && .venv/bin/semclust demo",
        ".venv/bin/python -m pytest -q",
    ]


def test_comments_and_blank_lines_are_dropped_and_a_missing_section_is_an_error(tmp_path):
    module = _load()
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n## Two commands\n\n```bash\nmake   # build it\n\nmake test\n```\n")
    assert module.readme_commands(readme) == ["make", "make test"]
    readme.write_text("# x\n")
    try:
        module.readme_commands(readme)
    except SystemExit as error:
        assert "Two commands" in str(error)
    else:
        raise AssertionError("a README without the section must stop CI")


def test_ci_runs_the_readme_commands_and_not_its_own_install():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 scripts/readme_commands.py" in ci
    step1 = ci.split("step 2")[0]
    assert "install.sh" not in step1.replace("scripts/readme_commands.py", "")
