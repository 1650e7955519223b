"""A plain script that ingests at top level must not have its work re-run by spawned workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from fake_llm_server import write_images


def _script(tmp_path, body: str) -> str:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


def test_unguarded_script_ingests_with_threads_and_runs_once(tmp_path):
    write_images(tmp_path / "img", 6, size=(16, 16))
    marker = tmp_path / "runs.txt"
    script = _script(tmp_path, f"""
        from semclust.stages import ingest as ingest_module
        from semclust import Study
        ingest_module.PROCESS_POOL_FROM = 1          # what 500+ files would do
        with open({str(marker)!r}, "a") as f:
            f.write("ran\\n")
        with Study({str(tmp_path / 'study')!r}) as study:
            summary = study.ingest({str(tmp_path / 'img')!r}, progress=False)
        print("safe" if ingest_module.main_module_is_spawn_safe() else "unsafe", summary.n_ok)
    """)
    done = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["unsafe", "6"]
    assert marker.read_text().count("ran") == 1  # no worker re-ran the script's top level


def test_guarded_script_is_spawn_safe(tmp_path):
    script = _script(tmp_path, """
        from semclust.stages import ingest as ingest_module
        if __name__ == "__main__":
            print(ingest_module.main_module_is_spawn_safe())
    """)
    done = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
