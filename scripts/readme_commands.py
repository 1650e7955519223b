"""Print the README's "Two commands", one a line, as written (comments dropped).

CI and tests/test_readme_commands.py run what this prints, so what they check is what a
newcomer types and cannot drift from the README.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands(readme: Path = README) -> list[str]:
    """The commands of the first ```bash block under the "## Two commands" heading."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    if block is None:
        raise SystemExit(f"{readme}: no ```bash block under '## Two commands'")
    lines = (re.sub(r"\s+#\s.*$", "", line).strip() for line in block.group(1).splitlines())
    return [line for line in lines if line and not line.startswith("#")]


if __name__ == "__main__":
    print("\n".join(readme_commands(Path(sys.argv[1]) if len(sys.argv) > 1 else README)))
