"""Run the README's "Two commands" exactly as a newcomer reads them, and fail if either fails.

CI calls this instead of its own install and test lines, so the commands the README shows and
the commands CI checks cannot drift apart. Standard library only: it runs before any venv exists.

    python3 scripts/readme_commands.py          # run both, in the repository root
    python3 scripts/readme_commands.py --list   # print them
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Two commands"
_COMMENT = re.compile(r"\s+#\s.*$")


def readme_commands(readme: Path = ROOT / "README.md") -> list[str]:
    """The shell lines of the first ```bash block under "## Two commands", comments removed."""
    text = readme.read_text(encoding="utf-8")
    start = text.find(SECTION)
    if start < 0:
        raise SystemExit(f"{readme}: no '{SECTION}' section")
    block = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    if not block:
        raise SystemExit(f"{readme}: no ```bash block under '{SECTION}'")
    lines = [_COMMENT.sub("", line).strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def main(argv: list[str]) -> int:
    commands = readme_commands()
    if "--list" in argv:
        print("\n".join(commands))
        return 0
    for command in commands:
        print(f"$ {command}", flush=True)
        began = time.monotonic()
        rc = subprocess.run(["bash", "-c", command], cwd=ROOT).returncode
        print(f"exit {rc} after {time.monotonic() - began:.0f} s: {command}", flush=True)
        if rc != 0:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
