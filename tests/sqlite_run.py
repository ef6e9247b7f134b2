"""Run a test module again against SQLite (the embedded database of ``make run``), in a
subprocess: the backend is chosen when settings load, so it can't switch inside one run."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def assert_module_passes_on_sqlite(module: str, tmp_path: Path, *, flag: str, deselect: str):
    """``module`` (a test file's ``__file__``) runs with ``flag``=1 in its environment, minus
    the tests ``deselect`` (a -k expression) names; every other test must pass, none skip."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        flag: "1",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--no-migrations",
            "-k",
            f"not ({deselect})",
            str(Path(module).resolve().relative_to(ROOT)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert "skipped" not in result.stdout
